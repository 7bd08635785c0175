// MUL, IMUL (one, two and three operands), DIV and IDIV (Intel SDM Vol.2 "MUL", "IMUL", "DIV", "IDIV").
//
// Products are computed in 16-bit limbs without BigInt (no allocation); quotients of DIV/IDIV use
// BigInt (a 128/64 division), which allocates but is rare in hot loops.
// Flags (this CPU, docs/flags.md): MUL/IMUL set CF = OF = "the high half is significant", SF from
// the (low-half) result, ZF = 0, AF = 0, PF from the low byte. DIV/IDIV leave every flag unchanged.

import type { CpuCore } from './core.ts';
import { Vector } from './fault.ts';
import { PARITY } from './flags.ts';
import type { Insn } from './insn.ts';

const MASK = [0n, 0xffn, 0xffffn, 0n, 0xffffffffn, 0n, 0n, 0n, 0xffffffffffffffffn];

function unsigned(lo: number, hi: number, size: number): bigint {
  return size === 8 ? (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0) : BigInt(lo >>> 0) & MASK[size]!;
}

/** Source operand of group 3 forms: register r1 or memory. */
function group3Source(c: CpuCore, d: Insn, mem: boolean): bigint {
  const size = d.size;
  const lo = mem ? c.readMem(c.ea(d), size) : c.readReg(d.r1, size);
  return unsigned(lo, size === 8 ? c.vHi : 0, size);
}

function writeBig(c: CpuCore, r: number, size: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  c.writeReg(r, size, Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0);
}

// ---- multiplication without BigInt (no allocation: multiplies are common in hashing loops) --------

/** Scratch words of the last product, least significant first. */
const W = new Int32Array(4);

/** Unsigned 32 x 32 -> 64 bits: returns the low word (unsigned); the high word goes to `mulHigh`. */
let mulHigh = 0;
function mulU32(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  mulHigh = (aH * bH + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
  return (((mid & 0xffff) << 16) | (ll & 0xffff)) >>> 0;
}

/** Unsigned 64 x 64 -> 128 bits into W[0..3]. */
function mulU64(a0: number, a1: number, b0: number, b1: number): void {
  const p00l = mulU32(a0 >>> 0, b0 >>> 0);
  const p00h = mulU32High();
  const p01l = mulU32(a0 >>> 0, b1 >>> 0);
  const p01h = mulU32High();
  const p10l = mulU32(a1 >>> 0, b0 >>> 0);
  const p10h = mulU32High();
  const p11l = mulU32(a1 >>> 0, b1 >>> 0);
  const p11h = mulU32High();
  const t1 = p00h + p01l + p10l;
  const c1 = (t1 - (t1 >>> 0)) / 4294967296;
  const t2 = p01h + p10h + p11l + c1;
  const c2 = (t2 - (t2 >>> 0)) / 4294967296;
  W[0] = p00l;
  W[1] = t1 >>> 0;
  W[2] = t2 >>> 0;
  W[3] = (p11h + c2) >>> 0;
}

function mulU32High(): number {
  return mulHigh;
}

/** Signed correction of an unsigned 64x64 product in W: subtract b (resp. a) from the high half when a (resp. b) is negative. */
function signedFix64(a0: number, a1: number, b0: number, b1: number): void {
  if (a1 < 0) sub64High(b0, b1);
  if (b1 < 0) sub64High(a0, a1);
}

function sub64High(lo: number, hi: number): void {
  const s = (W[2]! >>> 0) - (lo >>> 0);
  W[2] = s | 0;
  W[3] = (W[3]! - hi - (s < 0 ? 1 : 0)) | 0;
}

/**
 * Multiply at `size` (signed or not): leaves the product's low half in (W[0], W[1]) and high half
 * in (W[2], W[3]) for size 8; for smaller sizes the whole product sits in W[0] (low `size` bytes)
 * and W[2] (the next `size` bytes), each zero-extended. Returns the overflow flag (CF = OF).
 */
function multiply(size: number, signedOp: boolean, aLo: number, aHi: number, bLo: number, bHi: number): boolean {
  if (size === 8) {
    mulU64(aLo, aHi, bLo, bHi);
    if (!signedOp) return (W[2]! | W[3]!) !== 0;
    signedFix64(aLo, aHi, bLo, bHi);
    const ext = W[1]! >> 31;
    return W[2] !== ext || W[3] !== ext;
  }
  const bits = size * 8;
  if (size === 4) {
    let lo = mulU32(aLo >>> 0, bLo >>> 0);
    let hi = mulHigh;
    if (signedOp) {
      if ((aLo | 0) < 0) hi = (hi - (bLo >>> 0)) >>> 0;
      if ((bLo | 0) < 0) hi = (hi - (aLo >>> 0)) >>> 0;
    }
    W[0] = lo | 0;
    W[2] = hi | 0;
    lo |= 0;
    return signedOp ? (hi | 0) !== lo >> 31 : hi !== 0;
  }
  // 8 and 16 bits: exact in doubles.
  const m = size === 1 ? 0xff : 0xffff;
  let p: number;
  if (signedOp) {
    const sa = size === 1 ? (aLo << 24) >> 24 : (aLo << 16) >> 16;
    const sb = size === 1 ? (bLo << 24) >> 24 : (bLo << 16) >> 16;
    p = sa * sb;
  } else {
    p = (aLo & m) * (bLo & m);
  }
  W[0] = p & m;
  W[2] = (p >> bits) & m;
  if (!signedOp) return W[2] !== 0;
  const lowSigned = size === 1 ? (p << 24) >> 24 : (p << 16) >> 16;
  return lowSigned !== p;
}

/** Flags after a multiply whose low result is (lo, hi) at `size`. */
function setMulFlagsWords(c: CpuCore, size: number, lo: number, hi: number, overflow: boolean): void {
  const sf = size === 8 ? hi >>> 31 : (lo >>> (size * 8 - 1)) & 1;
  c.setStatusFlags((overflow ? 0x801 : 0) | (sf << 7) | (PARITY[lo & 0xff]! << 2));
}

/** MUL (op 4) and one-operand IMUL (op 5): rDX:rAX = rAX * src (AX = AL * src for bytes). */
function mulOne(c: CpuCore, d: Insn, mem: boolean): void {
  const size = d.size;
  const sLo = mem ? c.readMem(c.ea(d), size) : c.readReg(d.r1, size);
  const sHi = size === 8 ? c.vHi : 0;
  const aLo = c.readReg(0, size);
  const aHi = size === 8 ? c.vHi : 0;
  const overflow = multiply(size, d.op === 5, aLo, aHi, sLo, sHi);
  if (size === 1) {
    c.writeReg(0, 2, (W[2]! << 8) | W[0]!, 0);
  } else {
    c.writeReg(0, size, W[0]!, W[1]!);
    c.writeReg(2, size, W[2]!, W[3]!);
  }
  setMulFlagsWords(c, size, W[0]!, W[1]!, overflow);
}

/** DIV (op 6) and IDIV (op 7). #DE on a zero divisor or a quotient that does not fit. */
function divOne(c: CpuCore, d: Insn, mem: boolean): void {
  const size = d.size;
  const bits = BigInt(size * 8);
  const src = group3Source(c, d, mem);
  if (src === 0n) throw c.fault(Vector.DE, 'divide by zero');
  let dividend: bigint;
  if (size === 1) {
    dividend = BigInt(c.lo[0]! & 0xffff);
  } else {
    const aLo = c.readReg(0, size);
    const a = unsigned(aLo, size === 8 ? c.vHi : 0, size);
    const dLo = c.readReg(2, size);
    const dd = unsigned(dLo, size === 8 ? c.vHi : 0, size);
    dividend = (dd << bits) | a;
  }
  let q: bigint;
  let r: bigint;
  if (d.op === 6) {
    q = dividend / src;
    r = dividend % src;
    if (q >> bits !== 0n) throw c.fault(Vector.DE, 'quotient too large (DIV)');
  } else {
    const sd = BigInt.asIntN(size * 16, dividend);
    const ss = BigInt.asIntN(size * 8, src);
    q = sd / ss; // BigInt division truncates toward zero, as IDIV does
    r = sd % ss;
    if (BigInt.asIntN(size * 8, q) !== q) throw c.fault(Vector.DE, 'quotient out of range (IDIV)');
  }
  q &= MASK[size]!;
  r = BigInt.asUintN(size * 8, r);
  if (size === 1) {
    writeBig(c, 0, 2, (r << 8n) | q);
  } else {
    writeBig(c, 0, size, q);
    writeBig(c, 2, size, r);
  }
}

/** Group 3 /4../7 register form. */
export function mulDivR(c: CpuCore, d: Insn): void {
  if (d.op >= 6) divOne(c, d, false);
  else mulOne(c, d, false);
}

export function mulDivM(c: CpuCore, d: Insn): void {
  if (d.op >= 6) divOne(c, d, true);
  else mulOne(c, d, true);
}

/** IMUL r1, src, imm (three operands) or IMUL r1, src (two operands; then the other factor is r1). */
function imulInto(c: CpuCore, d: Insn, srcLo: number, srcHi: number, threeOp: boolean): void {
  const size = d.size;
  let bLo: number;
  let bHi: number;
  if (threeOp) {
    bLo = d.immLo;
    bHi = d.immHi;
  } else {
    bLo = c.readReg(d.r1, size);
    bHi = size === 8 ? c.vHi : 0;
  }
  const overflow = multiply(size, true, srcLo, srcHi, bLo, bHi);
  c.writeReg(d.r1, size, W[0]!, W[1]!);
  setMulFlagsWords(c, size, W[0]!, W[1]!, overflow);
}

/** 0F AF: IMUL r1, r2 */
export function imul2R(c: CpuCore, d: Insn): void {
  const lo = c.readReg(d.r2, d.size);
  imulInto(c, d, lo, d.size === 8 ? c.vHi : 0, false);
}

export function imul2M(c: CpuCore, d: Insn): void {
  const lo = c.readMem(c.ea(d), d.size);
  imulInto(c, d, lo, d.size === 8 ? c.vHi : 0, false);
}

/** 69 / 6B: IMUL r1, r2, imm */
export function imul3R(c: CpuCore, d: Insn): void {
  const lo = c.readReg(d.r2, d.size);
  imulInto(c, d, lo, d.size === 8 ? c.vHi : 0, true);
}

export function imul3M(c: CpuCore, d: Insn): void {
  const lo = c.readMem(c.ea(d), d.size);
  imulInto(c, d, lo, d.size === 8 ? c.vHi : 0, true);
}
