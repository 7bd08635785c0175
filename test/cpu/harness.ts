// Small helpers shared by the CPU tests: a flat machine, code loading and a run-to-end helper.

import { Cpu, type StopReason } from '../../src/cpu/cpu.ts';
import type { CpuRmpPort } from '../../src/cpu/rmp-port.ts';
import { PhysicalMemory } from '../../src/mem/physical.ts';
import { FlatMemory } from './flat-memory.ts';

export const CODE = 0x1000;
export const DATA = 0x8000;
export const STACK_TOP = 0x20000;

export interface Flat {
  phys: PhysicalMemory;
  mem: FlatMemory;
  cpu: Cpu;
}

export function flatMachine(memoryBytes = 1 << 20, rmp: CpuRmpPort | null = null): Flat {
  const phys = new PhysicalMemory(memoryBytes);
  const mem = new FlatMemory(phys);
  const cpu = new Cpu(mem, phys, rmp);
  cpu.setReg(4, BigInt(STACK_TOP));
  return { phys, mem, cpu };
}

export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Load `code` at CODE, run until RIP reaches its end (or another stop), return the stop reason. */
export function runCode(m: Flat, code: string | Uint8Array, max = 10_000): StopReason {
  const bytes = typeof code === 'string' ? hex(code) : code;
  m.phys.writeBytes(CODE, bytes);
  m.cpu.rip = BigInt(CODE);
  m.cpu.stopAt = BigInt(CODE + bytes.length);
  return m.cpu.run(max);
}

/** Run code and expect it to reach its end. */
export function exec(m: Flat, code: string | Uint8Array, max = 10_000): void {
  const r = runCode(m, code, max);
  if (r.kind !== 'stop-address') {
    const f = r.kind === 'fault' ? ` ${r.fault.name} ${r.fault.why}` : '';
    throw new Error(`expected the code to run to its end, stopped with ${r.kind}${f} at rip 0x${m.cpu.rip.toString(16)}`);
  }
}

export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
export const R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;

/** RFLAGS masked to the six status flags. */
export function status(cpu: Cpu): number {
  return Number(cpu.rflags) & 0x8d5;
}

/** A fresh flat machine with the registers `regs` (index → value) set, after running `code` to its end. */
export function execWith(regs: Readonly<Record<number, bigint>>, code: string | Uint8Array): Flat {
  const m = flatMachine();
  for (const [r, v] of Object.entries(regs)) m.cpu.setReg(Number(r), v);
  exec(m, code);
  return m;
}
