// Shifts and rotates: group 2 (ROL ROR RCL RCR SHL SHR SAL SAR) by 1, CL or imm8, and SHLD/SHRD
// (Intel SDM Vol.2 "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD").
//
// The count is masked to 5 bits (6 with a 64-bit operand). A masked count of 0 changes no flags,
// but a 32-bit destination is still written, so its upper half is zeroed (measured on this CPU).
// Undefined flags follow this machine's Intel CPU (docs/flags.md):
// - SHL/SHR/SAR: AF = 0; OF is computed by the count-1 rule for every count (SHL: bit s-1 XOR bit
//   s-2 of the source; SHR: bit s-1 of the source; SAR: 0); CF is the last bit shifted out, 0
//   when the count exceeds the width.
// - ROL: OF = bit s-1 XOR bit s-2 of the source; ROR: OF = bit 0 XOR bit s-1 of the source;
//   but with an immediate count other than 1 (C0/C1 forms) ROL/ROR leave OF unchanged;
//   RCL: OF = bit s-1 XOR bit s-2 of the source; RCR: OF = bit s-1 of the source XOR the old CF.
// - SHLD: OF = bit s-1 XOR bit s-2 of the destination; SHRD: OF = bit s-1 of the destination XOR
//   bit 0 of the source; AF = 0. A 16-bit SHLD/SHRD with a count above 16 shifts through the
//   48-bit value dest:src:dest, as this CPU does.

import { Access } from '../mmu/linear-memory.ts';
import type { CpuCore } from './core.ts';
import { F, FlagOp, STATUS_FLAGS } from './flags.ts';
import type { Insn } from './insn.ts';

/** Group 2 operation numbers (ModRM.reg). */
export const Sh = { ROL: 0, ROR: 1, RCL: 2, RCR: 3, SHL: 4, SHR: 5, SAL: 6, SAR: 7 } as const;
/** Added to Insn.op when the count comes from CL. */
export const COUNT_CL = 8;

function bitAt(lo: number, hi: number, i: number): number {
  return i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
}

/** Returns the result low half (high half in c.vHi) and records flags. `n` is the masked count (non-zero). */
function shiftCompute(c: CpuCore, kind: number, size: number, aLo: number, aHi: number, n: number): number {
  const bits = size * 8;
  let rLo = 0;
  let rHi = 0;
  switch (kind) {
    case Sh.SHL:
    case Sh.SAL: {
      if (size === 8) {
        if (n < 32) {
          rHi = (aHi << n) | (n === 0 ? 0 : aLo >>> (32 - n));
          rLo = aLo << n;
        } else {
          rHi = aLo << (n - 32);
          rLo = 0;
        }
      } else {
        rLo = n >= 32 ? 0 : (aLo << n) & mask(size);
      }
      const cf = bits - n >= 0 ? bitAt(aLo, aHi, bits - n) : 0;
      const of = bitAt(aLo, aHi, bits - 1) ^ bitAt(aLo, aHi, bits - 2);
      c.setFlagsResult(size, rLo, rHi, cf | (of << 11));
      break;
    }
    case Sh.SHR: {
      if (size === 8) {
        if (n < 32) {
          rLo = (aLo >>> n) | (n === 0 ? 0 : aHi << (32 - n));
          rHi = aHi >>> n;
        } else {
          rLo = aHi >>> (n - 32);
          rHi = 0;
        }
        rLo |= 0;
        rHi |= 0;
      } else {
        rLo = n >= 32 ? 0 : (aLo >>> n) & mask(size);
      }
      const cf = n - 1 < bits ? bitAt(aLo, aHi, n - 1) : 0;
      const of = bitAt(aLo, aHi, bits - 1);
      c.setFlagsResult(size, rLo, rHi, cf | (of << 11));
      break;
    }
    default: {
      // SAR
      if (size === 8) {
        if (n < 32) {
          rLo = (aLo >>> n) | (n === 0 ? 0 : aHi << (32 - n));
          rHi = aHi >> n;
        } else {
          rLo = aHi >> (n - 32);
          rHi = aHi >> 31;
        }
      } else {
        const sv = signExtend(aLo, size);
        rLo = (sv >> Math.min(n, 31)) & mask(size);
      }
      const cf = bitAt(aLo, aHi, Math.min(n - 1, bits - 1));
      c.setFlagsResult(size, rLo, rHi, cf);
      break;
    }
  }
  c.vHi = rHi;
  return rLo;
}

function mask(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
}

function signExtend(v: number, size: number): number {
  return size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v | 0;
}

/**
 * Rotates change only CF and OF; the other status flags keep their values. `keepOf`: this CPU
 * leaves OF unchanged for ROL/ROR with an immediate count other than 1 (measured, docs/flags.md),
 * while the CL forms compute it.
 */
function rotateCompute(c: CpuCore, kind: number, size: number, aLo: number, aHi: number, count: number, keepOf: boolean): number {
  const bits = size * 8;
  const msb = bitAt(aLo, aHi, bits - 1);
  const nextMsb = bitAt(aLo, aHi, bits - 2);
  if (kind === Sh.ROL || kind === Sh.ROR) {
    // ROL/ROR without BigInt (common in hashing loops): rotate left by n = count mod width
    // (ROR by n is ROL by width - n).
    let n = count % bits;
    if (kind === Sh.ROR && n !== 0) n = bits - n;
    let rLo: number;
    let rHi = 0;
    if (size === 8) {
      let lo = aLo;
      let hi = aHi;
      if (n >= 32) {
        const t = lo;
        lo = hi;
        hi = t;
        n -= 32;
      }
      if (n !== 0) {
        rHi = (hi << n) | (lo >>> (32 - n));
        rLo = (lo << n) | (hi >>> (32 - n));
      } else {
        rHi = hi;
        rLo = lo;
      }
    } else {
      const m = mask(size);
      const v = size === 4 ? aLo >>> 0 : aLo & m;
      rLo = n === 0 ? v | 0 : (((v << n) | (v >>> (bits - n))) & m) | 0;
    }
    const rMsb = bitAt(rLo, rHi, bits - 1);
    const cfBit = kind === Sh.ROL ? rLo & 1 : rMsb;
    let ofBit = kind === Sh.ROL ? msb ^ nextMsb : (aLo & 1) ^ msb;
    if (keepOf && count !== 1) ofBit = c.getOF();
    c.setStatusFlags((c.statusFlags() & ~(F.CF | F.OF) & STATUS_FLAGS) | cfBit | (ofBit << 11));
    c.vHi = rHi;
    return rLo;
  }
  // RCL/RCR: a (width+1)-bit rotation through CF, without BigInt.
  const n = size <= 2 ? count % (bits + 1) : count;
  const cin = c.getCF();
  if (n === 0) {
    c.vHi = aHi;
    return aLo; // the rotation through CF is the identity: no flag changes
  }
  let rLo: number;
  let rHi = 0;
  let cf: number;
  if (size === 8) {
    // n in 1..63. RCL: (a << n) | (CF << (n - 1)) | (a >> (65 - n)); the bit shifted out last
    // (bit 64 - n of a) is the new CF. RCR mirrors it.
    if (kind === Sh.RCL) {
      shl64(aLo, aHi, n);
      rLo = sLo;
      rHi = sHi;
      if (n >= 2) {
        shr64(aLo, aHi, 65 - n);
        rLo |= sLo;
        rHi |= sHi;
      }
      if (cin !== 0) {
        if (n - 1 < 32) rLo |= 1 << (n - 1);
        else rHi |= 1 << (n - 33);
      }
      cf = bitAt(aLo, aHi, 64 - n);
    } else {
      shr64(aLo, aHi, n);
      rLo = sLo;
      rHi = sHi;
      if (n >= 2) {
        shl64(aLo, aHi, 65 - n);
        rLo |= sLo;
        rHi |= sHi;
      }
      if (cin !== 0) {
        if (64 - n < 32) rLo |= 1 << (64 - n);
        else rHi |= 1 << (32 - n);
      }
      cf = bitAt(aLo, aHi, n - 1);
    }
  } else {
    // CF:value has at most 33 bits: exact as a double. Rotating left by k splits it at bit W - k:
    // the low part moves up by k, the high part comes round to the bottom.
    const W = bits + 1;
    const a = size === 4 ? aLo >>> 0 : aLo & mask(size);
    const wide = cin * POW2[bits]! + a;
    const k = kind === Sh.RCL ? n : W - n; // RCR by n is RCL by W - n
    const split = POW2[W - k]!;
    const high = Math.floor(wide / split);
    const rw = (wide - high * split) * POW2[k]! + high;
    const top = POW2[bits]!;
    cf = rw >= top ? 1 : 0;
    rLo = (rw - cf * top) | 0;
  }
  const of = kind === Sh.RCL ? msb ^ nextMsb : msb ^ cin;
  c.setStatusFlags((c.statusFlags() & ~(F.CF | F.OF) & STATUS_FLAGS) | cf | (of << 11));
  c.vHi = rHi;
  return rLo;
}

/** Powers of two 2^0 .. 2^33, for the narrow RCL/RCR. */
const POW2 = Float64Array.from({ length: 34 }, (_, i) => 2 ** i);

// 64-bit shifts on (lo, hi) halves, results in sLo/sHi (module scratch: no allocation).
let sLo = 0;
let sHi = 0;

/** (lo, hi) << n for n in 0..63. */
function shl64(lo: number, hi: number, n: number): void {
  if (n === 0) {
    sLo = lo;
    sHi = hi;
  } else if (n < 32) {
    sHi = (hi << n) | (lo >>> (32 - n));
    sLo = lo << n;
  } else {
    sHi = lo << (n - 32);
    sLo = 0;
  }
}

/** (lo, hi) >>> n (logical) for n in 1..63. */
function shr64(lo: number, hi: number, n: number): void {
  if (n < 32) {
    sLo = (lo >>> n) | (hi << (32 - n));
    sHi = hi >>> n;
  } else {
    sLo = hi >>> (n - 32);
    sHi = 0;
  }
}

function countOf(c: CpuCore, d: Insn): number {
  const raw = d.op >= COUNT_CL ? c.lo[1]! & 0xff : d.immLo & 0xff;
  return raw & (d.size === 8 ? 63 : 31);
}

function group2(c: CpuCore, d: Insn, size: number, aLo: number, aHi: number): number {
  const count = countOf(c, d);
  const kind = d.op & 7;
  if (count === 0) {
    c.vHi = aHi;
    return aLo;
  }
  if (kind >= Sh.SHL) return shiftCompute(c, kind, size, aLo, aHi, count);
  return rotateCompute(c, kind, size, aLo, aHi, count, d.op < COUNT_CL);
}

export function shiftR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const aLo = c.readReg(d.r1, size);
  const aHi = size === 8 ? c.vHi : 0;
  const r = group2(c, d, size, aLo, aHi);
  c.writeReg(d.r1, size, r, c.vHi);
}

export function shiftM(c: CpuCore, d: Insn): void {
  const size = d.size;
  const la = c.ea(d);
  c.mmu.probe(la, size, Access.Write);
  const aLo = c.readMem(la, size);
  const aHi = size === 8 ? c.vHi : 0;
  const r = group2(c, d, size, aLo, aHi);
  c.writeMem(la, size, r, c.vHi);
}

/** SHL r64, imm8 fast form (benchmark loop): the same rules as shiftCompute, written out for 64 bits. */
export function shl64RI(c: CpuCore, d: Insn): void {
  const n = d.immLo & 63;
  if (n === 0) return;
  const r = d.r1;
  const aLo = c.lo[r]!;
  const aHi = c.hi[r]!;
  let rLo: number;
  let rHi: number;
  if (n < 32) {
    rHi = (aHi << n) | (aLo >>> (32 - n));
    rLo = aLo << n;
  } else {
    rHi = aLo << (n - 32);
    rLo = 0;
  }
  const out = 64 - n; // index of the last bit shifted out
  const cf = out >= 32 ? (aHi >>> (out - 32)) & 1 : (aLo >>> out) & 1;
  const of = ((aHi >>> 31) ^ (aHi >>> 30)) & 1;
  c.lo[r] = rLo;
  c.hi[r] = rHi;
  c.setFlagsResult(8, rLo, rHi, cf | (of << 11));
}

// ---- SHLD / SHRD --------------------------------------------------------------------------------

/** Insn.op for SHLD/SHRD: bit 0 = right (SHRD), bit 1 = count from CL. */
export const DoubleShift = { LEFT: 0, RIGHT: 1, CL: 2 } as const;

function doubleShift(c: CpuCore, d: Insn, aLo: number, aHi: number): number {
  const size = d.size;
  const raw = (d.op & DoubleShift.CL) !== 0 ? c.lo[1]! & 0xff : d.immLo & 0xff;
  const n = raw & (size === 8 ? 63 : 31);
  if (n === 0) {
    c.vHi = aHi;
    return aLo;
  }
  const bits = size * 8;
  const right = (d.op & DoubleShift.RIGHT) !== 0;
  if (size !== 2) {
    // 32 and 64 bits without BigInt: shift dest by n, fill from src, CF = last bit out of dest.
    const srcLo = c.readReg(d.r2, size);
    const srcHi = size === 8 ? c.vHi : 0;
    let rLo: number;
    let rHi = 0;
    let cf: number;
    if (size === 4) {
      if (right) {
        rLo = (aLo >>> n) | (srcLo << (32 - n));
        cf = (aLo >>> (n - 1)) & 1;
      } else {
        rLo = (aLo << n) | (srcLo >>> (32 - n));
        cf = (aLo >>> (32 - n)) & 1;
      }
    } else if (right) {
      shr64(aLo, aHi, n);
      rLo = sLo;
      rHi = sHi;
      shl64(srcLo, srcHi, 64 - n);
      rLo |= sLo;
      rHi |= sHi;
      cf = bitAt(aLo, aHi, n - 1);
    } else {
      shl64(aLo, aHi, n);
      rLo = sLo;
      rHi = sHi;
      shr64(srcLo, srcHi, 64 - n);
      rLo |= sLo;
      rHi |= sHi;
      cf = bitAt(aLo, aHi, 64 - n);
    }
    const msb = bitAt(aLo, aHi, bits - 1);
    const of = right ? msb ^ (srcLo & 1) : msb ^ bitAt(aLo, aHi, bits - 2);
    c.setFlagsResult(size, rLo, rHi, cf | (of << 11));
    c.vHi = rHi;
    return rLo;
  }
  // 16 bits: dest:src:dest as one 48-bit value, in BigInt (counts 17..31 shift through it: this
  // CPU's behaviour).
  const dest = BigInt(aLo & 0xffff);
  const srcLo = c.readReg(d.r2, size);
  const src = BigInt(srcLo & 0xffff);
  const N = BigInt(n);
  const x = (dest << 32n) | (src << 16n) | dest;
  let r: bigint;
  let cf: number;
  if (right) {
    r = (x >> N) & 0xffffn;
    cf = Number((x >> (N - 1n)) & 1n);
  } else {
    r = (x >> (32n - N)) & 0xffffn;
    cf = Number((x >> (48n - N)) & 1n);
  }
  const msb = bitAt(aLo, aHi, bits - 1);
  const of = right ? msb ^ (srcLo & 1) : msb ^ bitAt(aLo, aHi, bits - 2);
  const rLo = Number(r);
  c.setFlagsResult(size, rLo, 0, cf | (of << 11));
  c.vHi = 0;
  return rLo;
}

/** SHLD/SHRD r1, r2, imm8/CL */
export function doubleShiftR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const aLo = c.readReg(d.r1, size);
  const r = doubleShift(c, d, aLo, size === 8 ? c.vHi : 0);
  c.writeReg(d.r1, size, r, c.vHi);
}

/** SHLD/SHRD [mem], r2, imm8/CL */
export function doubleShiftM(c: CpuCore, d: Insn): void {
  const size = d.size;
  const la = c.ea(d);
  c.mmu.probe(la, size, Access.Write);
  const aLo = c.readMem(la, size);
  const r = doubleShift(c, d, aLo, size === 8 ? c.vHi : 0);
  c.writeMem(la, size, r, c.vHi);
}
