// Registers by name, as bigint, whatever the CPU keeps inside (two 32-bit halves per GPR, a number
// for RIP): docs/architecture.md, "Numbers": every public boundary speaks bigint.
//
// The names are the scenario vocabulary (spec/scenario.md, `cpu` and `expect.regs`), so a value
// read here can be pasted into a scenario and back.

import type { Cpu } from '../cpu/cpu.ts';
import { CpuFault } from '../cpu/fault.ts';
import { GPR_NAMES, REG_NAMES, type GprName, type RegName } from '../scenario/types.ts';

export { GPR_NAMES, type GprName };
export type RegisterName = RegName;
export const REGISTER_NAMES = REG_NAMES;

const GPR_INDEX: ReadonlyMap<string, number> = new Map(GPR_NAMES.map((n, i) => [n, i]));

/** A register name that does not exist: the message lists the ones that do. */
export class RegisterNameError extends Error {
  override name = 'RegisterNameError';
  constructor(name: string) {
    super(`no register "${name}"; registers are ${REGISTER_NAMES.join(', ')}`);
  }
}

export function isRegisterName(name: string): name is RegisterName {
  return (REGISTER_NAMES as readonly string[]).includes(name);
}

/** Read one register as an unsigned 64-bit bigint. */
export function readRegister(cpu: Cpu, name: RegisterName): bigint {
  const i = GPR_INDEX.get(name);
  if (i !== undefined) return cpu.getReg(i);
  switch (name) {
    // currentRip: the executing instruction's RIP inside a hook (cpu.rip names its block's first
    // instruction there), and a RIP a hook has just written; equal to cpu.rip between runs.
    case 'rip': return cpu.currentRip;
    case 'rflags': return cpu.rflags;
    case 'cr0': return cpu.cr0;
    case 'cr2': return cpu.cr2;
    case 'cr3': return cpu.cr3;
    case 'cr4': return cpu.cr4;
    case 'efer': return cpu.efer;
    case 'fsbase': return cpu.fsBase;
    case 'gsbase': return cpu.gsBase;
    default: throw new RegisterNameError(name);
  }
}

/** A value the CPU refuses for a register (a control-register bit it does not support, say). */
export class RegisterValueError extends Error {
  override name = 'RegisterValueError';
}

/** Write one register; any bigint is taken modulo 2^64 (negative values are two's complement). */
export function writeRegister(cpu: Cpu, name: RegisterName, value: bigint | number): void {
  try {
    writeRegisterUnchecked(cpu, name, value);
  } catch (e) {
    // The MMU refuses control state it does not model (CR4.LA57, legacy paging) with a CpuFault.
    if (e instanceof CpuFault) throw new RegisterValueError(`${name} = 0x${BigInt.asUintN(64, BigInt(value)).toString(16)}: ${e.why || `#${e.name}`}`);
    throw e;
  }
}

function writeRegisterUnchecked(cpu: Cpu, name: RegisterName, value: bigint | number): void {
  const v = typeof value === 'bigint' ? value : toBigInt(value, name);
  const i = GPR_INDEX.get(name);
  if (i !== undefined) {
    cpu.setReg(i, v);
    return;
  }
  switch (name) {
    case 'rip': cpu.rip = v; return;
    case 'rflags': cpu.rflags = v; return;
    case 'cr0': cpu.cr0 = v; return;
    case 'cr2': cpu.cr2 = v; return;
    case 'cr3': cpu.cr3 = v; return;
    case 'cr4': cpu.cr4 = v; return;
    case 'efer': cpu.efer = v; return;
    case 'fsbase': cpu.fsBase = v; return;
    case 'gsbase': cpu.gsBase = v; return;
    default: throw new RegisterNameError(name);
  }
}

function toBigInt(value: number, name: string): bigint {
  if (!Number.isSafeInteger(value)) throw new RangeError(`register ${name}: ${value} is not a safe integer; pass a bigint`);
  return BigInt(value);
}

/** Every register by name. */
export function readAllRegisters(cpu: Cpu): Record<RegisterName, bigint> {
  const out = {} as Record<RegisterName, bigint>;
  for (const n of REGISTER_NAMES) out[n] = readRegister(cpu, n);
  return out;
}

/**
 * `machine.regs`: one property per register (`m.regs.rax = 1n`, `m.regs.rip`), reading and writing
 * the CPU directly, so a hook that changes `regs.rip` steers execution. Reads are always bigint;
 * writes take a bigint (modulo 2^64) or a safe integer. Assigning a name that is not a register
 * throws RegisterNameError.
 */
export interface Registers {
  get rax(): bigint;
  set rax(value: bigint | number);
  get rcx(): bigint;
  set rcx(value: bigint | number);
  get rdx(): bigint;
  set rdx(value: bigint | number);
  get rbx(): bigint;
  set rbx(value: bigint | number);
  get rsp(): bigint;
  set rsp(value: bigint | number);
  get rbp(): bigint;
  set rbp(value: bigint | number);
  get rsi(): bigint;
  set rsi(value: bigint | number);
  get rdi(): bigint;
  set rdi(value: bigint | number);
  get r8(): bigint;
  set r8(value: bigint | number);
  get r9(): bigint;
  set r9(value: bigint | number);
  get r10(): bigint;
  set r10(value: bigint | number);
  get r11(): bigint;
  set r11(value: bigint | number);
  get r12(): bigint;
  set r12(value: bigint | number);
  get r13(): bigint;
  set r13(value: bigint | number);
  get r14(): bigint;
  set r14(value: bigint | number);
  get r15(): bigint;
  set r15(value: bigint | number);
  get rip(): bigint;
  set rip(value: bigint | number);
  get rflags(): bigint;
  set rflags(value: bigint | number);
  get cr0(): bigint;
  set cr0(value: bigint | number);
  get cr2(): bigint;
  set cr2(value: bigint | number);
  get cr3(): bigint;
  set cr3(value: bigint | number);
  get cr4(): bigint;
  set cr4(value: bigint | number);
  get efer(): bigint;
  set efer(value: bigint | number);
  get fsbase(): bigint;
  set fsbase(value: bigint | number);
  get gsbase(): bigint;
  set gsbase(value: bigint | number);
}

// The interface above must list exactly REGISTER_NAMES: this fails to compile when a name is missing.
type MissingRegister = Exclude<RegisterName, keyof Registers>;
const registersComplete: MissingRegister extends never ? true : never = true;
void registersComplete;

export function registerView(cpu: () => Cpu): Registers {
  const view = {} as Registers;
  for (const name of REGISTER_NAMES) {
    Object.defineProperty(view, name, {
      enumerable: true,
      // Inside a mid-instruction hook, RIP is the executing instruction's (readRegister: currentRip).
      get: () => readRegister(cpu(), name),
      set: (v: bigint | number) => writeRegister(cpu(), name, v),
    });
  }
  // A sealed object would refuse `regs.foo = 1n` with a bare "not extensible" TypeError; the proxy
  // names the problem instead (only `set` and `defineProperty` are trapped: reads stay direct).
  const refuse = (key: string | symbol): never => {
    throw new RegisterNameError(String(key));
  };
  return new Proxy(Object.seal(view), {
    set: (target, key, value) => (typeof key === 'string' && isRegisterName(key) ? Reflect.set(target, key, value) : refuse(key)),
    defineProperty: (_target, key) => refuse(key),
    deleteProperty: (_target, key) => refuse(key),
  });
}
