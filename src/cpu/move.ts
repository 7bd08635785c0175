// Data movement: MOV (all forms), MOVZX/MOVSX/MOVSXD, LEA, XCHG, XADD, CMPXCHG, CMPXCHG8B/16B,
// BSWAP, SETcc, CMOVcc, CBW/CWDE/CDQE, CWD/CDQ/CQO, LAHF/SAHF (Intel SDM Vol.2 instruction pages).
//
// Register-write rules measured on this CPU (docs/flags.md): a 32-bit CMOVcc zero-extends its
// destination even when the condition is false; a failing 32-bit CMPXCHG loads EAX (zero-extended)
// and leaves the destination register untouched, a succeeding one writes the destination and leaves
// RAX untouched; 90 is NOP but 87 C0 (xchg eax, eax) zero-extends RAX; a 16-bit BSWAP zeroes the
// low word.

import { Access } from '../mmu/linear-memory.ts';
import type { CpuCore } from './core.ts';
import { aluCompute, Alu } from './alu.ts';
import { Vector } from './fault.ts';
import { F, STATUS_FLAGS } from './flags.ts';
import type { Insn } from './insn.ts';

// ---- MOV ----------------------------------------------------------------------------------------

export function movRR(c: CpuCore, d: Insn): void {
  const lo = c.readReg(d.r2, d.size);
  c.writeReg(d.r1, d.size, lo, c.vHi);
}

/** MOV r64, r64 fast form. */
export function mov64RR(c: CpuCore, d: Insn): void {
  c.lo[d.r1] = c.lo[d.r2]!;
  c.hi[d.r1] = c.hi[d.r2]!;
}

export function movRM(c: CpuCore, d: Insn): void {
  const lo = c.readMem(c.ea(d), d.size);
  c.writeReg(d.r1, d.size, lo, c.vHi);
}

export function movMR(c: CpuCore, d: Insn): void {
  const la = c.ea(d);
  const lo = c.readReg(d.r2, d.size);
  c.writeMem(la, d.size, lo, c.vHi);
}

/** MOV r64, [mem] fast form. */
export function mov64RM(c: CpuCore, d: Insn): void {
  const lo = c.mmu.read64(c.ea(d)) | 0;
  c.hi[d.r1] = c.mmu.high32 | 0;
  c.lo[d.r1] = lo;
}

/** MOV [mem], r64 fast form. */
export function mov64MR(c: CpuCore, d: Insn): void {
  const la = c.ea(d);
  c.mmu.write64(la, c.lo[d.r2]! >>> 0, c.hi[d.r2]! >>> 0);
}

export function movRI(c: CpuCore, d: Insn): void {
  c.writeReg(d.r1, d.size, d.immLo, d.immHi);
}

export function movMI(c: CpuCore, d: Insn): void {
  c.writeMem(c.ea(d), d.size, d.immLo, d.immHi);
}

// ---- MOVZX / MOVSX / MOVSXD: Insn.op = source size in bytes, +16 for sign extension ------------

function extend(c: CpuCore, d: Insn, v: number): void {
  const srcSize = d.op & 15;
  let lo: number;
  let hi = 0;
  if (d.op & 16) {
    lo = srcSize === 1 ? (v << 24) >> 24 : srcSize === 2 ? (v << 16) >> 16 : v | 0;
    hi = lo >> 31;
  } else {
    lo = v;
  }
  c.writeReg(d.r1, d.size, lo, hi);
}

export function extendR(c: CpuCore, d: Insn): void {
  extend(c, d, c.readReg(d.r2, d.op & 15));
}

export function extendM(c: CpuCore, d: Insn): void {
  extend(c, d, c.readMem(c.ea(d), d.op & 15));
}

// ---- LEA ----------------------------------------------------------------------------------------

export function lea(c: CpuCore, d: Insn): void {
  const lo = c.eaRaw(d);
  c.writeReg(d.r1, d.size, lo, c.vHi);
}

// ---- XCHG / XADD / CMPXCHG ---------------------------------------------------------------------

export function xchgRR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const aLo = c.readReg(d.r1, size);
  const aHi = c.vHi;
  const bLo = c.readReg(d.r2, size);
  const bHi = c.vHi;
  c.writeReg(d.r1, size, bLo, bHi);
  c.writeReg(d.r2, size, aLo, aHi);
}

/** XCHG [mem], r2 (always locked). */
export function xchgMR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const la = c.ea(d);
  c.mmu.probe(la, size, Access.Write);
  const mLo = c.readMem(la, size);
  const mHi = c.vHi;
  const rLo = c.readReg(d.r2, size);
  c.writeMem(la, size, rLo, c.vHi);
  c.writeReg(d.r2, size, mLo, mHi);
}

export function xaddRR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const aLo = c.readReg(d.r1, size);
  const aHi = size === 8 ? c.vHi : 0;
  const bLo = c.readReg(d.r2, size);
  const bHi = size === 8 ? c.vHi : 0;
  const sum = aluCompute(c, Alu.ADD, size, aLo, aHi, bLo, bHi);
  const sumHi = c.vHi;
  c.writeReg(d.r2, size, aLo, aHi);
  c.writeReg(d.r1, size, sum, sumHi);
}

export function xaddMR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const la = c.ea(d);
  c.mmu.probe(la, size, Access.Write);
  const aLo = c.readMem(la, size);
  const aHi = size === 8 ? c.vHi : 0;
  const bLo = c.readReg(d.r2, size);
  const bHi = size === 8 ? c.vHi : 0;
  const sum = aluCompute(c, Alu.ADD, size, aLo, aHi, bLo, bHi);
  c.writeMem(la, size, sum, c.vHi);
  c.writeReg(d.r2, size, aLo, aHi);
}

/** CMPXCHG r1, r2: compare the accumulator with r1. */
export function cmpxchgRR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const accLo = c.readReg(0, size);
  const accHi = size === 8 ? c.vHi : 0;
  const dLo = c.readReg(d.r1, size);
  const dHi = size === 8 ? c.vHi : 0;
  aluCompute(c, Alu.CMP, size, accLo, accHi, dLo, dHi);
  if (c.getZF()) {
    const sLo = c.readReg(d.r2, size);
    c.writeReg(d.r1, size, sLo, c.vHi);
  } else {
    c.writeReg(0, size, dLo, dHi);
  }
}

/** CMPXCHG [mem], r2: the destination is always written (Intel SDM: "the processor never produces a locked read without also producing a locked write"). */
export function cmpxchgMR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const la = c.ea(d);
  c.mmu.probe(la, size, Access.Write);
  const accLo = c.readReg(0, size);
  const accHi = size === 8 ? c.vHi : 0;
  const dLo = c.readMem(la, size);
  const dHi = size === 8 ? c.vHi : 0;
  aluCompute(c, Alu.CMP, size, accLo, accHi, dLo, dHi);
  if (c.getZF()) {
    const sLo = c.readReg(d.r2, size);
    c.writeMem(la, size, sLo, c.vHi);
  } else {
    c.writeMem(la, size, dLo, dHi);
    c.writeReg(0, size, dLo, dHi);
  }
}

/** 0F C7 /1: CMPXCHG8B m64, or CMPXCHG16B m128 with REX.W (16-byte aligned, else #GP(0)). */
export function cmpxchg8b16b(c: CpuCore, d: Insn): void {
  const la = c.ea(d);
  const zfOthers = c.statusFlags() & ~F.ZF & STATUS_FLAGS;
  if (d.size === 8) {
    if (la % 16 !== 0) throw c.fault(Vector.GP, 'CMPXCHG16B operand is not 16-byte aligned');
    c.mmu.probe(la, 16, Access.Write);
    const m0Lo = c.readMem(la, 8);
    const m0Hi = c.vHi;
    const m1Lo = c.readMem(la + 8, 8);
    const m1Hi = c.vHi;
    const equal = m0Lo === c.lo[0] && m0Hi === c.hi[0] && m1Lo === c.lo[2] && m1Hi === c.hi[2];
    if (equal) {
      c.writeMem(la, 8, c.lo[3]!, c.hi[3]!);
      c.writeMem(la + 8, 8, c.lo[1]!, c.hi[1]!);
    } else {
      c.writeMem(la, 8, m0Lo, m0Hi);
      c.writeMem(la + 8, 8, m1Lo, m1Hi);
      c.lo[0] = m0Lo;
      c.hi[0] = m0Hi;
      c.lo[2] = m1Lo;
      c.hi[2] = m1Hi;
    }
    c.setStatusFlags(zfOthers | (equal ? F.ZF : 0));
    return;
  }
  c.mmu.probe(la, 8, Access.Write);
  const mLo = c.readMem(la, 8);
  const mHi = c.vHi;
  const equal = mLo === c.lo[0] && mHi === c.lo[2];
  if (equal) {
    c.writeMem(la, 8, c.lo[3]!, c.lo[1]!);
  } else {
    c.writeMem(la, 8, mLo, mHi);
    c.writeReg(0, 4, mLo, 0);
    c.writeReg(2, 4, mHi, 0);
  }
  c.setStatusFlags(zfOthers | (equal ? F.ZF : 0));
}

// ---- BSWAP, SETcc, CMOVcc ----------------------------------------------------------------------

export function bswap(c: CpuCore, d: Insn): void {
  const r = d.r1;
  const swap32 = (v: number): number => ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v & 0xff00) << 8) | (v << 24)) | 0;
  if (d.size === 8) {
    const lo = c.lo[r]!;
    c.lo[r] = swap32(c.hi[r]!);
    c.hi[r] = swap32(lo);
  } else if (d.size === 4) {
    c.writeReg(r, 4, swap32(c.lo[r]!), 0);
  } else {
    c.writeReg(r, 2, 0, 0); // 16-bit BSWAP is undefined; this CPU clears the low word
  }
}

export function setccR(c: CpuCore, d: Insn): void {
  c.writeReg(d.r1, 1, c.cond(d.op) ? 1 : 0, 0);
}

export function setccM(c: CpuCore, d: Insn): void {
  c.writeMem(c.ea(d), 1, c.cond(d.op) ? 1 : 0, 0);
}

export function cmovR(c: CpuCore, d: Insn): void {
  const size = d.size;
  if (c.cond(d.op)) {
    const lo = c.readReg(d.r2, size);
    c.writeReg(d.r1, size, lo, c.vHi);
  } else if (size === 4) {
    c.hi[d.r1] = 0;
  }
}

/** The memory source is read whatever the condition (it may fault even when no move happens). */
export function cmovM(c: CpuCore, d: Insn): void {
  const size = d.size;
  const lo = c.readMem(c.ea(d), size);
  if (c.cond(d.op)) c.writeReg(d.r1, size, lo, c.vHi);
  else if (size === 4) c.hi[d.r1] = 0;
}

// ---- CBW/CWDE/CDQE, CWD/CDQ/CQO -----------------------------------------------------------------

/** 98: sign-extend the lower half of the accumulator into all of it. */
export function cbw(c: CpuCore, d: Insn): void {
  switch (d.size) {
    case 2:
      c.writeReg(0, 2, (c.lo[0]! << 24) >> 24, 0);
      break;
    case 4:
      c.writeReg(0, 4, (c.lo[0]! << 16) >> 16, 0);
      break;
    default:
      c.hi[0] = c.lo[0]! >> 31;
  }
}

/** 99: fill rDX with the sign of rAX. */
export function cwd(c: CpuCore, d: Insn): void {
  switch (d.size) {
    case 2:
      c.writeReg(2, 2, (c.lo[0]! << 16) >> 31, 0);
      break;
    case 4:
      c.writeReg(2, 4, c.lo[0]! >> 31, 0);
      break;
    default: {
      const s = c.hi[0]! >> 31;
      c.lo[2] = s;
      c.hi[2] = s;
    }
  }
}

// ---- XLAT ---------------------------------------------------------------------------------------

/** XLATB (D7): AL = [seg:rBX + zero-extended AL]; a 67 prefix makes the sum 32-bit. */
export function xlat(c: CpuCore, d: Insn): void {
  const s = (c.lo[3]! >>> 0) + (c.lo[0]! & 0xff);
  let lo = s | 0;
  let hi = d.addrSize === 8 ? (c.hi[3]! + (s >= 4294967296 ? 1 : 0)) | 0 : 0;
  if (d.seg !== 0) {
    const t = (lo >>> 0) + ((d.seg === 1 ? c.fsBaseLo : c.gsBaseLo) >>> 0);
    hi = (hi + (d.seg === 1 ? c.fsBaseHi : c.gsBaseHi) + (t >= 4294967296 ? 1 : 0)) | 0;
    lo = t | 0;
  }
  c.writeReg(0, 1, c.readMem(c.linear(lo, hi, false), 1), 0);
}

// ---- LAHF / SAHF (valid in 64-bit mode: CPUID 8000_0001h ECX[0] = 1) -------------------------------

export function lahf(c: CpuCore, _d: Insn): void {
  c.writeReg(16, 1, (c.statusFlags() & 0xd5) | 2, 0);
}

export function sahf(c: CpuCore, _d: Insn): void {
  const ah = (c.lo[0]! >>> 8) & 0xd5;
  c.setStatusFlags((c.statusFlags() & F.OF) | ah);
}
