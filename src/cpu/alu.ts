// Integer arithmetic and logic: ADD OR ADC SBB AND SUB XOR CMP TEST, INC DEC NEG NOT
// (Intel SDM Vol.2 instruction pages; flags per Vol.1 Appendix A).
//
// Each operation has one compute routine (`aluCompute`) and thin per-form handlers chosen at
// decode time: register/register, register/memory, memory/register, register/immediate and
// memory/immediate. Memory destinations are probed for write before they are read, so a fault on
// the store leaves no trace (design.md, pattern 8).

import { Access } from '../mmu/linear-memory.ts';
import { type CpuCore, TWO32 } from './core.ts';
import { FlagOp, SIGN_BIT, SIZE_MASK } from './flags.ts';
import type { Insn } from './insn.ts';

/** ALU operation numbers: the ModRM.reg / opcode bits 5:3 encoding of group 1 (Intel SDM Vol.2 Table A-6). */
export const Alu = { ADD: 0, OR: 1, ADC: 2, SBB: 3, AND: 4, SUB: 5, XOR: 6, CMP: 7, TEST: 8 } as const;

/** Compute `a op b` at `size`, record flags, return the result's low half (high half in c.vHi). */
export function aluCompute(c: CpuCore, op: number, size: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
  let rLo: number;
  let rHi = 0;
  switch (op) {
    case Alu.ADD:
    case Alu.ADC: {
      const cin = op === Alu.ADC ? c.getCF() : 0;
      if (size === 8) {
        const s = (aLo >>> 0) + (bLo >>> 0) + cin;
        rLo = s | 0;
        rHi = (aHi + bHi + (s >= TWO32 ? 1 : 0)) | 0;
      } else {
        rLo = (aLo + bLo + cin) & SIZE_MASK[size]!;
      }
      c.setFlagsArith(op === Alu.ADC ? FlagOp.Adc : FlagOp.Add, size, rLo, rHi, aLo, aHi, bLo, bHi);
      c.fBits = cin;
      break;
    }
    case Alu.SUB:
    case Alu.SBB:
    case Alu.CMP: {
      const cin = op === Alu.SBB ? c.getCF() : 0;
      if (size === 8) {
        const s = (aLo >>> 0) - (bLo >>> 0) - cin;
        rLo = s | 0;
        rHi = (aHi - bHi - (s < 0 ? 1 : 0)) | 0;
      } else {
        rLo = (aLo - bLo - cin) & SIZE_MASK[size]!;
      }
      c.setFlagsArith(op === Alu.SBB ? FlagOp.Sbb : FlagOp.Sub, size, rLo, rHi, aLo, aHi, bLo, bHi);
      c.fBits = cin;
      break;
    }
    case Alu.OR:
      rLo = aLo | bLo;
      rHi = aHi | bHi;
      c.setFlagsLogic(size, rLo, rHi);
      break;
    case Alu.XOR:
      rLo = aLo ^ bLo;
      rHi = aHi ^ bHi;
      c.setFlagsLogic(size, rLo, rHi);
      break;
    default: // AND, TEST
      rLo = aLo & bLo;
      rHi = aHi & bHi;
      c.setFlagsLogic(size, rLo, rHi);
      break;
  }
  c.vHi = rHi;
  return rLo;
}

/** CMP and TEST only set flags. */
function writesBack(op: number): boolean {
  return op !== Alu.CMP && op !== Alu.TEST;
}

/** op r1, r2 */
export function aluRR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const aLo = c.readReg(d.r1, size);
  const aHi = size === 8 ? c.vHi : 0;
  const bLo = c.readReg(d.r2, size);
  const bHi = size === 8 ? c.vHi : 0;
  const r = aluCompute(c, d.op, size, aLo, aHi, bLo, bHi);
  if (writesBack(d.op)) c.writeReg(d.r1, size, r, c.vHi);
}

/** op r1, [mem] */
export function aluRM(c: CpuCore, d: Insn): void {
  const size = d.size;
  const bLo = c.readMem(c.ea(d), size);
  const bHi = size === 8 ? c.vHi : 0;
  const aLo = c.readReg(d.r1, size);
  const aHi = size === 8 ? c.vHi : 0;
  const r = aluCompute(c, d.op, size, aLo, aHi, bLo, bHi);
  if (writesBack(d.op)) c.writeReg(d.r1, size, r, c.vHi);
}

/** op [mem], r2 */
export function aluMR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const la = c.ea(d);
  const wb = writesBack(d.op);
  if (wb) c.mmu.probe(la, size, Access.Write);
  const aLo = c.readMem(la, size);
  const aHi = size === 8 ? c.vHi : 0;
  const bLo = c.readReg(d.r2, size);
  const bHi = size === 8 ? c.vHi : 0;
  const r = aluCompute(c, d.op, size, aLo, aHi, bLo, bHi);
  if (wb) c.writeMem(la, size, r, c.vHi);
}

/** op r1, imm */
export function aluRI(c: CpuCore, d: Insn): void {
  const size = d.size;
  const aLo = c.readReg(d.r1, size);
  const aHi = size === 8 ? c.vHi : 0;
  const r = aluCompute(c, d.op, size, aLo, aHi, d.immLo, d.immHi);
  if (writesBack(d.op)) c.writeReg(d.r1, size, r, c.vHi);
}

/** op [mem], imm */
export function aluMI(c: CpuCore, d: Insn): void {
  const size = d.size;
  const la = c.ea(d);
  const wb = writesBack(d.op);
  if (wb) c.mmu.probe(la, size, Access.Write);
  const aLo = c.readMem(la, size);
  const aHi = size === 8 ? c.vHi : 0;
  const r = aluCompute(c, d.op, size, aLo, aHi, d.immLo, d.immHi);
  if (wb) c.writeMem(la, size, r, c.vHi);
}

// ---- fast forms for the hottest register cases (measured in bench/cpu.bench.ts) -----------------

/** ADD r64, r64 without the generic dispatch. */
export function add64RR(c: CpuCore, d: Insn): void {
  const lo = c.lo;
  const hi = c.hi;
  const aLo = lo[d.r1]!;
  const aHi = hi[d.r1]!;
  const bLo = lo[d.r2]!;
  const bHi = hi[d.r2]!;
  const s = (aLo >>> 0) + (bLo >>> 0);
  const rLo = s | 0;
  const rHi = (aHi + bHi + (s >= TWO32 ? 1 : 0)) | 0;
  lo[d.r1] = rLo;
  hi[d.r1] = rHi;
  c.setFlagsArith(FlagOp.Add, 8, rLo, rHi, aLo, aHi, bLo, bHi);
}

/** XOR r64, r64 */
export function xor64RR(c: CpuCore, d: Insn): void {
  const lo = c.lo;
  const hi = c.hi;
  const rLo = lo[d.r1]! ^ lo[d.r2]!;
  const rHi = hi[d.r1]! ^ hi[d.r2]!;
  lo[d.r1] = rLo;
  hi[d.r1] = rHi;
  c.setFlagsLogic(8, rLo, rHi);
}

/**
 * op r64, imm (group 1 and the rAX forms at operand size 64): ADD, SUB and CMP inline, the other
 * operations through aluCompute; no operand-size dispatch on the register.
 */
export function aluRI64(c: CpuCore, d: Insn): void {
  const lo = c.lo;
  const hi = c.hi;
  const r = d.r1;
  const aLo = lo[r]!;
  const aHi = hi[r]!;
  const bLo = d.immLo;
  const bHi = d.immHi;
  const op = d.op;
  let rLo: number;
  let rHi: number;
  if (op === Alu.ADD) {
    const s = (aLo >>> 0) + (bLo >>> 0);
    rLo = s | 0;
    rHi = (aHi + bHi + (s >= TWO32 ? 1 : 0)) | 0;
    c.fOp = FlagOp.Add;
  } else if (op === Alu.SUB || op === Alu.CMP) {
    const s = (aLo >>> 0) - (bLo >>> 0);
    rLo = s | 0;
    rHi = (aHi - bHi - (s < 0 ? 1 : 0)) | 0;
    c.fOp = FlagOp.Sub;
  } else {
    rLo = aluCompute(c, op, 8, aLo, aHi, bLo, bHi);
    if (writesBack(op)) {
      lo[r] = rLo;
      hi[r] = c.vHi;
    }
    return;
  }
  c.fSize = 8;
  c.fRLo = rLo;
  c.fRHi = rHi;
  c.fALo = aLo;
  c.fAHi = aHi;
  c.fBLo = bLo;
  c.fBHi = bHi;
  c.fBits = 0; // no carry-in, as aluCompute records it
  if (op !== Alu.CMP) {
    lo[r] = rLo;
    hi[r] = rHi;
  }
}

/**
 * op qword [mem], imm (group 1 at operand size 64): one write translation for an access inside a
 * page (what probe does for it), then the read and the write, which hit the TLB entry it filled.
 */
export function aluMI64(c: CpuCore, d: Insn): void {
  const la = c.ea(d);
  const op = d.op;
  const mmu = c.mmu;
  const wb = op !== Alu.CMP;
  if (wb) {
    if ((la & 0xfff) <= 0xff8) mmu.translate(la, Access.Write);
    else mmu.probe(la, 8, Access.Write);
  }
  const aLo = mmu.read64(la) | 0;
  const aHi = mmu.high32 | 0;
  const rLo = aluCompute(c, op, 8, aLo, aHi, d.immLo, d.immHi);
  if (wb) mmu.write64(la, rLo >>> 0, c.vHi >>> 0);
}

// ---- INC DEC NEG NOT ----------------------------------------------------------------------------

/** INC/DEC keep CF (Intel SDM Vol.2 "INC"): it is captured now, OF and AF computed eagerly. */
function incDec(c: CpuCore, size: number, aLo: number, aHi: number, dec: boolean): number {
  const cf = c.getCF();
  let rLo: number;
  let rHi = 0;
  let of: number;
  if (size === 8) {
    if (dec) {
      rLo = (aLo - 1) | 0;
      rHi = (aHi - (aLo === 0 ? 1 : 0)) | 0;
      of = aHi === (0x80000000 | 0) && aLo === 0 ? 1 : 0;
    } else {
      rLo = (aLo + 1) | 0;
      rHi = (aHi + (aLo === -1 ? 1 : 0)) | 0;
      of = rHi === (0x80000000 | 0) && rLo === 0 ? 1 : 0;
    }
  } else {
    const sign = SIGN_BIT[size]!;
    if (dec) {
      rLo = (aLo - 1) & SIZE_MASK[size]!;
      of = aLo === sign ? 1 : 0;
    } else {
      rLo = (aLo + 1) & SIZE_MASK[size]!;
      of = rLo === sign ? 1 : 0;
    }
  }
  const af = dec ? ((aLo & 0xf) === 0 ? 1 : 0) : ((rLo & 0xf) === 0 ? 1 : 0);
  c.setFlagsResult(size, rLo, rHi, cf | (af << 4) | (of << 11));
  c.vHi = rHi;
  return rLo;
}

// INC/DEC and NOT/NEG keep their own register/memory handler pairs on purpose: one shared pair taking
// the operation as a parameter made the call sites polymorphic and cost about 10% on the ALU loop
// (bench/RESULTS.md, "CPU", 2026-11-25 folds).

/** Group 4/5 INC (op 0) and DEC (op 1) on a register. */
export function incDecR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const aLo = c.readReg(d.r1, size);
  const aHi = size === 8 ? c.vHi : 0;
  const r = incDec(c, size, aLo, aHi, d.op === 1);
  c.writeReg(d.r1, size, r, c.vHi);
}

export function incDecM(c: CpuCore, d: Insn): void {
  const size = d.size;
  const la = c.ea(d);
  c.mmu.probe(la, size, Access.Write);
  const aLo = c.readMem(la, size);
  const aHi = size === 8 ? c.vHi : 0;
  const r = incDec(c, size, aLo, aHi, d.op === 1);
  c.writeMem(la, size, r, c.vHi);
}

/** DEC r64 fast form (the benchmark loop counter). */
export function dec64R(c: CpuCore, d: Insn): void {
  const lo = c.lo;
  const hi = c.hi;
  const r = d.r1;
  const aLo = lo[r]!;
  const aHi = hi[r]!;
  const cf = c.getCF();
  const rLo = (aLo - 1) | 0;
  const rHi = (aHi - (aLo === 0 ? 1 : 0)) | 0;
  lo[r] = rLo;
  hi[r] = rHi;
  const of = aHi === (0x80000000 | 0) && aLo === 0 ? 0x800 : 0;
  c.setFlagsResult(8, rLo, rHi, cf | ((aLo & 0xf) === 0 ? 0x10 : 0) | of);
}

function negNot(c: CpuCore, size: number, aLo: number, aHi: number, neg: boolean): number {
  if (!neg) {
    c.vHi = ~aHi;
    return ~aLo & SIZE_MASK[size]!;
  }
  return aluCompute(c, Alu.SUB, size, 0, 0, aLo, aHi);
}

/** Group 3 NOT (op 2) / NEG (op 3) on a register. NOT changes no flags. */
export function negNotR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const aLo = c.readReg(d.r1, size);
  const aHi = size === 8 ? c.vHi : 0;
  const r = negNot(c, size, aLo, aHi, d.op === 3);
  c.writeReg(d.r1, size, r, c.vHi);
}

export function negNotM(c: CpuCore, d: Insn): void {
  const size = d.size;
  const la = c.ea(d);
  c.mmu.probe(la, size, Access.Write);
  const aLo = c.readMem(la, size);
  const aHi = size === 8 ? c.vHi : 0;
  const r = negNot(c, size, aLo, aHi, d.op === 3);
  c.writeMem(la, size, r, c.vHi);
}
