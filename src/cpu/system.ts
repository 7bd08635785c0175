// System and miscellaneous instructions: NOP, HLT, INT3, UD2, CPUID, RDTSC, SYSCALL, flag
// instructions (CLC STC CMC CLD STD), MOV to/from CR0/CR2/CR3/CR4, INVLPG, RDMSR/WRMSR, the
// host SNP instructions RMPUPDATE, PSMASH, RMPREAD, and the guest SNP instructions PVALIDATE and
// RMPADJUST through Cpu.guestSnp (spec/rmp.md §5).
//
// Privileged instructions at CPL > 0 raise #GP(0) (Intel SDM Vol.3A §5.9; AMD APM Vol.2 §4.11.1).

import { type CpuCore, TWO32, toBig } from './core.ts';
import { cpuid } from './cpuid.ts';
import { CpuFault, Vector } from './fault.ts';
import { F, PARITY, STATUS_FLAGS } from './flags.ts';
import type { Insn } from './insn.ts';
import { Access } from '../mmu/linear-memory.ts';
import { StopCode } from './core.ts';
import type { SnpInstructionResult } from './rmp-port.ts';

export function nop(_c: CpuCore, _d: Insn): void {}

/** Raised by decode-time faults (#UD for invalid/unsupported encodings, #GP for the 15-byte limit). */
export function raiseDecodeFault(c: CpuCore, d: Insn): void {
  const why = d.faultVector === Vector.GP ? 'instruction longer than 15 bytes' : `invalid or unsupported opcode (${d.row?.mnemonic ?? 'no table row'})`;
  throw c.fault(d.faultVector, why);
}

function requireCpl0(c: CpuCore, what: string): void {
  if (c.cplValue !== 0) throw c.fault(Vector.GP, `${what} is privileged (CPL ${c.cplValue})`);
}

export function hlt(c: CpuCore, _d: Insn): void {
  requireCpl0(c, 'HLT');
  c.stopRequest = StopCode.Halt;
}

/** INT3 is a trap: #BP is reported with RIP after the instruction (Intel SDM Vol.3A §6.5). */
export function int3(c: CpuCore, _d: Insn): void {
  c.trap = true;
  throw c.fault(Vector.BP, 'INT3 breakpoint');
}

export function ud2(c: CpuCore, _d: Insn): void {
  throw c.fault(Vector.UD, 'UD2');
}

export function cpuidInsn(c: CpuCore, _d: Insn): void {
  const r = cpuid(c.lo[0]!, c.lo[1]!, c.features);
  c.writeReg(0, 4, r[0] | 0, 0);
  c.writeReg(3, 4, r[1] | 0, 0);
  c.writeReg(1, 4, r[2] | 0, 0);
  c.writeReg(2, 4, r[3] | 0, 0);
}

/** RDTSC: the count of instructions retired before it, so runs are deterministic. CR4.TSD at CPL > 0 gives #GP. */
export function rdtsc(c: CpuCore, d: Insn): void {
  if ((c.cr4Value & 4) !== 0 && c.cplValue !== 0) throw c.fault(Vector.GP, 'RDTSC with CR4.TSD at CPL > 0');
  const t = c.instructions + d.blockIndex;
  c.writeReg(0, 4, t | 0, 0);
  c.writeReg(2, 4, Math.floor(t / TWO32) | 0, 0);
}

/**
 * SYSCALL (AMD APM Vol.3 "SYSCALL"): RCX = next RIP, R11 = RFLAGS (RF cleared); the kernel layer
 * takes over from here, so the run stops with kind 'syscall' and RIP at the next instruction.
 * EFER.SCE = 0 gives #UD.
 */
export function syscall(c: CpuCore, d: Insn): void {
  if ((c.eferValue & 1) === 0) throw c.fault(Vector.UD, 'SYSCALL with EFER.SCE = 0');
  const next = c.blockRip + d.end;
  c.lo[1] = next | 0;
  c.hi[1] = Math.floor(next / TWO32) | 0;
  c.lo[11] = c.getRflags() & ~F.RF;
  c.hi[11] = 0;
  c.stopRequest = StopCode.Syscall;
}

// ---- flag instructions ----------------------------------------------------------------------------

/** Insn.op: 0 CLC, 1 STC, 2 CMC, 3 CLD, 4 STD. */
export function flagOp(c: CpuCore, d: Insn): void {
  switch (d.op) {
    case 0:
      c.setStatusFlags(c.statusFlags() & ~F.CF & STATUS_FLAGS);
      break;
    case 1:
      c.setStatusFlags(c.statusFlags() | F.CF);
      break;
    case 2:
      c.setStatusFlags(c.statusFlags() ^ F.CF);
      break;
    case 3:
      c.flagsOther &= ~F.DF;
      break;
    default:
      c.flagsOther |= F.DF;
  }
}

// ---- control registers (Intel SDM Vol.3A §2.5, AMD APM Vol.2 §3.1) --------------------------------

const CR4_ALLOWED = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800 |
  0x10000 | 0x40000 | 0x100000 | 0x200000 | 0x400000;

/** MOV r64, CRn (0F 20): r1 = destination register, op = CR number. */
export function movFromCr(c: CpuCore, d: Insn): void {
  requireCpl0(c, 'MOV from CR');
  let lo: number;
  let hi = 0;
  switch (d.op) {
    case 0: lo = c.cr0Value | 0; break;
    case 2: {
      const v = BigInt.asUintN(64, c.cr2Value);
      lo = Number(v & 0xffffffffn) | 0;
      hi = Number(v >> 32n) | 0;
      break;
    }
    case 3: lo = c.cr3Value | 0; hi = Math.floor(c.cr3Value / TWO32) | 0; break;
    default: lo = c.cr4Value | 0; break;
  }
  c.writeReg(d.r1, 8, lo, hi);
}

/** MOV CRn, r64 (0F 22): r2 = source register, op = CR number. */
export function movToCr(c: CpuCore, d: Insn): void {
  requireCpl0(c, 'MOV to CR');
  const lo = c.lo[d.r2]! >>> 0;
  const hi = c.hi[d.r2]! >>> 0;
  let cr0 = c.cr0Value;
  let cr3 = c.cr3Value;
  let cr4 = c.cr4Value;
  switch (d.op) {
    case 0: {
      if (hi !== 0) throw c.fault(Vector.GP, 'CR0 bits 63:32 are reserved');
      if ((lo & 0x80000000) === 0 && (c.eferValue & 0x400) !== 0) throw c.fault(Vector.GP, 'clearing CR0.PG in long mode');
      if ((lo & 1) === 0 && (lo & 0x80000000) !== 0) throw c.fault(Vector.GP, 'CR0.PG set with CR0.PE clear');
      if ((lo & 0x20000000) !== 0 && (lo & 0x40000000) === 0) throw c.fault(Vector.GP, 'CR0.NW set with CR0.CD clear');
      cr0 = lo;
      break;
    }
    case 2:
      c.cr2Value = (BigInt(hi) << 32n) | BigInt(lo);
      return;
    case 3: {
      if (hi >>> 16 !== 0) throw c.fault(Vector.GP, 'CR3 bits above MAXPHYADDR are reserved');
      cr3 = hi * TWO32 + lo;
      break;
    }
    default: {
      if (hi !== 0 || (lo & ~CR4_ALLOWED) !== 0) throw c.fault(Vector.GP, 'reserved or unsupported CR4 bit');
      if ((lo & 0x20) === 0 && (c.eferValue & 0x400) !== 0) throw c.fault(Vector.GP, 'clearing CR4.PAE in long mode');
      if ((lo & 0x100000) !== 0 && !c.features.smep) throw c.fault(Vector.GP, 'CR4.SMEP set but SMEP is not supported');
      if ((lo & 0x200000) !== 0 && !c.features.smap) throw c.fault(Vector.GP, 'CR4.SMAP set but SMAP is not supported');
      cr4 = lo;
      break;
    }
  }
  c.setControlRegisters(cr0, cr3, cr4, c.eferValue);
}

/** INVLPG m (0F 01 /7). A non-canonical address invalidates nothing (Intel SDM "INVLPG"). */
export function invlpg(c: CpuCore, d: Insn): void {
  requireCpl0(c, 'INVLPG');
  let la: number;
  try {
    la = c.ea(d);
  } catch (e) {
    if (e instanceof CpuFault) return;
    throw e;
  }
  c.mmu.invlpg(la);
  c.breakBlock = true; // the next fetch must translate again
}

// ---- MSRs ---------------------------------------------------------------------------------------

export const Msr = {
  TSC: 0x10,
  EFER: 0xc0000080,
  STAR: 0xc0000081,
  LSTAR: 0xc0000082,
  CSTAR: 0xc0000083,
  SFMASK: 0xc0000084,
  FS_BASE: 0xc0000100,
  GS_BASE: 0xc0000101,
  KERNEL_GS_BASE: 0xc0000102,
  TSC_AUX: 0xc0000103,
} as const;

/** EFER bits software may set: SCE, LME, LMA (ignored: read-only), NXE, SVME, LMSLE, FFXSR, TCE. */
const EFER_WRITABLE = 0x1 | 0x100 | 0x400 | 0x800 | 0x1000 | 0x2000 | 0x4000 | 0x8000;

/** RDMSR semantics; `retiredInBlock` is the reader's position in its block (for the TSC). */
export function readMsr(c: CpuCore, msr: number, retiredInBlock = 0): bigint {
  switch (msr) {
    case Msr.TSC: return BigInt(c.instructions + retiredInBlock);
    case Msr.EFER: return BigInt(c.eferValue);
    case Msr.FS_BASE: return (BigInt(c.fsBaseHi >>> 0) << 32n) | BigInt(c.fsBaseLo >>> 0);
    case Msr.GS_BASE: return (BigInt(c.gsBaseHi >>> 0) << 32n) | BigInt(c.gsBaseLo >>> 0);
    case Msr.KERNEL_GS_BASE: return c.kernelGsBase;
    case Msr.STAR: case Msr.LSTAR: case Msr.CSTAR: case Msr.SFMASK: case Msr.TSC_AUX:
      return c.plainMsrs.get(msr) ?? 0n;
  }
  if (c.rmp !== null && c.rmp.ownsMsr(msr)) return c.rmp.readMsr(msr);
  throw c.fault(Vector.GP, `RDMSR of unimplemented MSR 0x${msr.toString(16)}`);
}

function canonical64(v: bigint): boolean {
  const top = v >> 47n;
  return top === 0n || top === 0x1ffffn;
}

export function writeMsr(c: CpuCore, msr: number, v: bigint): void {
  switch (msr) {
    case Msr.EFER: {
      const n = Number(v & 0xffffffffn);
      if (v >> 32n !== 0n || (n & ~EFER_WRITABLE) !== 0) throw c.fault(Vector.GP, 'reserved EFER bit');
      if ((n & 0x100) === 0 && (c.cr0Value & 0x80000000) !== 0) throw c.fault(Vector.GP, 'clearing EFER.LME with paging on');
      if ((n & 0x800) !== 0 && !c.features.nx) throw c.fault(Vector.GP, 'EFER.NXE set but NX is not supported');
      // LMA is read-only
      c.setControlRegisters(c.cr0Value, c.cr3Value, c.cr4Value, (n & ~0x400) | (c.eferValue & 0x400));
      return;
    }
    case Msr.FS_BASE:
    case Msr.GS_BASE:
    case Msr.KERNEL_GS_BASE:
    case Msr.LSTAR:
    case Msr.CSTAR:
      if (!canonical64(v)) throw c.fault(Vector.GP, 'non-canonical address written to an MSR');
      if (msr === Msr.FS_BASE) c.setFsBase(v);
      else if (msr === Msr.GS_BASE) c.setGsBase(v);
      else if (msr === Msr.KERNEL_GS_BASE) c.kernelGsBase = v;
      else c.plainMsrs.set(msr, v);
      return;
    case Msr.STAR:
    case Msr.SFMASK:
    case Msr.TSC_AUX:
      c.plainMsrs.set(msr, v);
      return;
  }
  if (c.rmp !== null && c.rmp.ownsMsr(msr)) {
    c.rmp.writeMsr(msr, v);
    return;
  }
  throw c.fault(Vector.GP, `WRMSR of unimplemented MSR 0x${msr.toString(16)}`);
}

export function rdmsr(c: CpuCore, d: Insn): void {
  requireCpl0(c, 'RDMSR');
  const v = readMsr(c, c.lo[1]! >>> 0, d.blockIndex);
  c.writeReg(0, 4, Number(v & 0xffffffffn) | 0, 0);
  c.writeReg(2, 4, Number((v >> 32n) & 0xffffffffn) | 0, 0);
}

export function wrmsr(c: CpuCore, _d: Insn): void {
  requireCpl0(c, 'WRMSR');
  const v = (BigInt(c.lo[2]! >>> 0) << 32n) | BigInt(c.lo[0]! >>> 0);
  writeMsr(c, c.lo[1]! >>> 0, v);
  c.breakBlock = true; // SYSCFG/RMP MSRs and EFER change what the next fetch may see
}

// ---- SNP host instructions (spec/rmp.md §5) -----------------------------------------------------------

/** Insn.op for the F2/F3 0F 01 FD/FE/FF rows. */
export const Snp = { RMPUPDATE: 0, PSMASH: 1, RMPREAD: 2, PVALIDATE: 3, RMPADJUST: 4 } as const;
const SNP_NAMES = ['RMPUPDATE', 'PSMASH', 'RMPREAD', 'PVALIDATE', 'RMPADJUST'];

/** RAX as a system physical address; values beyond 2^53 cannot be RMP-covered, so they are FAIL_INPUT. */
function raxAsSpa(c: CpuCore): number {
  const hi = c.hi[0]! >>> 0;
  if (hi >= 0x200000) return -1;
  return hi * TWO32 + (c.lo[0]! >>> 0);
}

const FAIL_INPUT = 1;

/**
 * The status flags after PVALIDATE / RMPADJUST (spec/rmp.md §5.4: "CF = 1 if there was no change,
 * else 0. The other flags reflect EAX"): CF from the result; ZF, SF, PF from EAX as a logical
 * operation on a 32-bit result would set them; OF = AF = 0 [I] (edk2 commit message: "OF, ZF, AF,
 * PF and SF are set based on this return code"). The one definition of this rule: the CPU uses it,
 * and src/guest re-exports it for the step-mode scenarios and the tests.
 */
export function snpInstructionFlags(r: SnpInstructionResult): number {
  let f = r.cf ? F.CF : 0;
  if ((r.eax | 0) === 0) f |= F.ZF;
  if ((r.eax & 0x80000000) !== 0) f |= F.SF;
  if (PARITY[r.eax & 0xff] === 1) f |= F.PF;
  return f;
}

/** The status flags PVALIDATE and RMPADJUST write: all six (CF PF AF ZF SF OF). */
export const SNP_INSTRUCTION_FLAGS_MASK = STATUS_FLAGS;

/**
 * PVALIDATE / RMPADJUST (spec/rmp.md §5.1, §5.4, §5.5): guest instructions. With no guest port (the
 * host, or a guest that is not SNP-active) they raise #UD; at CPL > 0 #GP(0); otherwise the port
 * runs them. A fault the port throws (guest #PF, #VC, #GP, #VMEXIT(NPF)) leaves through the run
 * loop's one exception path with RIP at the instruction and nothing changed; on success EAX gets
 * the code (zero-extended into RAX) and the six status flags are set by snpInstructionFlags.
 */
function guestSnpInsn(c: CpuCore, d: Insn, name: string): void {
  const port = c.guestSnp;
  if (port === null) throw c.fault(Vector.UD, `${name} is a guest instruction; it raises #UD outside an SNP-active guest`);
  requireCpl0(c, name);
  const rax = toBig(c.lo[0]!, c.hi[0]!);
  const rcx = toBig(c.lo[1]!, c.hi[1]!);
  const rdx = toBig(c.lo[2]!, c.hi[2]!);
  const r = d.op === Snp.PVALIDATE ? port.pvalidate(rax, rcx, rdx) : port.rmpadjust(rax, rcx, rdx);
  c.writeReg(0, 4, r.eax | 0, 0);
  c.setStatusFlags(snpInstructionFlags(r));
  c.breakBlock = true; // the RMP and the guest TLB changed: the next fetch translates again
}

/**
 * RMPUPDATE / PSMASH / RMPREAD on the host (spec/rmp.md §5.1–5.3, §5.6); PVALIDATE / RMPADJUST go
 * to guestSnpInsn. #UD also when the machine has no SNP (no RMP, feature off, or SYSCFG.SNP_EN = 0);
 * #GP(0) at CPL > 0. Status in RAX (zero-extended).
 */
export function snpInsn(c: CpuCore, d: Insn): void {
  const name = SNP_NAMES[d.op]!;
  if (d.op === Snp.PVALIDATE || d.op === Snp.RMPADJUST) {
    guestSnpInsn(c, d, name);
    return;
  }
  const rmp = c.rmp;
  if (rmp === null || !c.features.snp || !rmp.enabled) throw c.fault(Vector.UD, `${name} without SEV-SNP enabled`);
  if (d.op === Snp.RMPREAD && !c.features.rmpread) throw c.fault(Vector.UD, 'RMPREAD is not supported');
  requireCpl0(c, name);
  const spa = raxAsSpa(c);
  let code: number;
  switch (d.op) {
    case Snp.RMPUPDATE: {
      const la = c.linear(c.lo[1]!, c.hi[1]!, false);
      const bytes = new Uint8Array(16);
      for (let i = 0; i < 16; i += 4) {
        const w = c.mmu.read32(la + i);
        bytes[i] = w & 0xff;
        bytes[i + 1] = (w >>> 8) & 0xff;
        bytes[i + 2] = (w >>> 16) & 0xff;
        bytes[i + 3] = (w >>> 24) & 0xff;
      }
      code = spa < 0 ? FAIL_INPUT : rmp.rmpupdate(spa, bytes);
      break;
    }
    case Snp.PSMASH:
      code = spa < 0 ? FAIL_INPUT : rmp.psmash(spa);
      break;
    default: {
      const la = c.linear(c.lo[1]!, c.hi[1]!, false);
      c.mmu.probe(la, 16, Access.Write);
      const r = spa < 0 ? { code: FAIL_INPUT } : rmp.rmpread(spa);
      code = r.code;
      if (code === 0 && r.bytes !== undefined) {
        for (let i = 0; i < 16; i += 4) {
          const b = r.bytes;
          c.mmu.write32(la + i, (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0);
        }
      }
    }
  }
  c.writeReg(0, 8, code | 0, 0);
  c.breakBlock = true; // RMP changes flush translations: the next fetch translates again
}
