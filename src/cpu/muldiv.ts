// MUL, IMUL (one, two and three operands), DIV and IDIV (Intel SDM Vol.2 "MUL", "IMUL", "DIV", "IDIV").
//
// Products are computed in 16-bit limbs without BigInt (no allocation). Quotients of DIV/IDIV are
// computed with doubles where that is exact (8/16/32-bit operands always, 64-bit ones below 2^52:
// divFast), and with BigInt (a 128/64 division, which allocates) otherwise.
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

const TWO32 = 4294967296;
/** Operands below this are divided exactly with doubles (every product below is < 2^53). */
const TWO52 = 4503599627370496;

/** Scratch results of the number-based divisions: quotient and remainder. */
let divQ = 0;
let divR = 0;

/**
 * Unsigned (hi:lo) / divisor with hi < divisor < 2^32 (so the quotient fits in 32 bits), by
 * 16-bit long division: every partial dividend is below 2^48 and every partial quotient below
 * 2^16, so each Math.floor(t / divisor) is exact (the distance to the next integer, at least
 * 1/divisor >= 2^-32, exceeds half an ulp of a value below 2^16). Leaves divQ, divR.
 */
function divU64By32(hi: number, lo: number, divisor: number): void {
  let t = hi * 65536 + (lo >>> 16);
  const q1 = Math.floor(t / divisor);
  t = (t - q1 * divisor) * 65536 + (lo & 0xffff);
  const q2 = Math.floor(t / divisor);
  divR = t - q2 * divisor;
  divQ = q1 * 65536 + q2;
}

/**
 * Unsigned a / b for a, b < 2^52: the rounded double quotient is at most one too large (never
 * too small: the true quotient is at least the integer below it, which is representable), and
 * q * b <= a + b < 2^53 is exact, so one correction step gives the exact result. Leaves divQ, divR.
 */
function divSmall(a: number, b: number): void {
  let q = Math.floor(a / b);
  let r = a - q * b;
  if (r < 0) {
    q -= 1;
    r += b;
  }
  divQ = q;
  divR = r;
}

/**
 * DIV/IDIV without BigInt where exact with doubles: 8-, 16- and 32-bit operand sizes always, and
 * 64-bit when RDX only extends RAX and both operands are below 2^52 in magnitude. Returns false
 * (nothing done) for the cases left to the BigInt path. #DE exactly as the manual says.
 */
function divFast(c: CpuCore, d: Insn, size: number, sLo: number, sHi: number): boolean {
  const signedOp = d.op === 7;
  if (size === 1) {
    const ax = c.lo[0]! & 0xffff;
    let q: number;
    let r: number;
    if (!signedOp) {
      q = Math.floor(ax / sLo);
      r = ax - q * sLo;
      if (q > 0xff) throw c.fault(Vector.DE, 'quotient too large (DIV)');
    } else {
      const a = (ax << 16) >> 16;
      const b = (sLo << 24) >> 24;
      q = Math.trunc(a / b);
      r = a - q * b;
      if (q > 127 || q < -128) throw c.fault(Vector.DE, 'quotient out of range (IDIV)');
    }
    c.writeReg(0, 2, ((r & 0xff) << 8) | (q & 0xff), 0);
    return true;
  }
  if (size === 2) {
    const dividend = ((c.lo[2]! & 0xffff) << 16) | (c.lo[0]! & 0xffff);
    let q: number;
    let r: number;
    if (!signedOp) {
      const a = dividend >>> 0;
      q = Math.floor(a / sLo);
      r = a - q * sLo;
      if (q > 0xffff) throw c.fault(Vector.DE, 'quotient too large (DIV)');
    } else {
      const b = (sLo << 16) >> 16;
      q = Math.trunc(dividend / b);
      r = dividend - q * b;
      if (q > 32767 || q < -32768) throw c.fault(Vector.DE, 'quotient out of range (IDIV)');
    }
    c.writeReg(0, 2, q & 0xffff, 0);
    c.writeReg(2, 2, r & 0xffff, 0);
    return true;
  }
  if (size === 4) {
    const eax = c.lo[0]!;
    const edx = c.lo[2]!;
    if (!signedOp) {
      const b = sLo >>> 0;
      if (edx >>> 0 >= b) throw c.fault(Vector.DE, 'quotient too large (DIV)');
      divU64By32(edx >>> 0, eax, b);
    } else {
      // Magnitudes, then signs: the quotient truncates toward zero, the remainder has the
      // dividend's sign (Intel SDM Vol.2 "IDIV").
      const negA = edx < 0;
      let aLo = eax;
      let aHi = edx;
      if (negA) {
        aHi = (~aHi + (aLo === 0 ? 1 : 0)) | 0;
        aLo = (-aLo) | 0;
      }
      const negB = sLo < 0;
      const b = negB ? -sLo : sLo; // up to 2^31
      // A magnitude with aHi >= b gives a quotient of 2^32 or more: out of range.
      if (aHi >>> 0 >= b) throw c.fault(Vector.DE, 'quotient out of range (IDIV)');
      divU64By32(aHi >>> 0, aLo, b);
      const negQ = negA !== negB;
      if (divQ > (negQ ? 0x80000000 : 0x7fffffff)) throw c.fault(Vector.DE, 'quotient out of range (IDIV)');
      if (negQ) divQ = -divQ;
      if (negA) divR = -divR;
    }
    c.writeReg(0, 4, divQ | 0, 0);
    c.writeReg(2, 4, divR | 0, 0);
    return true;
  }
  // 64-bit: only when RDX:RAX is RAX (zero- or sign-extended) and both magnitudes are below 2^52.
  const raxLo = c.lo[0]!;
  const raxHi = c.hi[0]!;
  const rdxLo = c.lo[2]!;
  const rdxHi = c.hi[2]!;
  let a: number;
  let b: number;
  if (!signedOp) {
    if ((rdxLo | rdxHi) !== 0 || raxHi >>> 0 >= 0x100000 || sHi >>> 0 >= 0x100000) return false;
    a = (raxHi >>> 0) * TWO32 + (raxLo >>> 0);
    b = (sHi >>> 0) * TWO32 + (sLo >>> 0);
    divSmall(a, b);
  } else {
    const ext = raxHi >> 31; // RDX must be all copies of RAX's sign bit
    if (rdxLo !== ext || rdxHi !== ext) return false;
    a = raxHi * TWO32 + (raxLo >>> 0);
    b = sHi * TWO32 + (sLo >>> 0);
    if (a >= TWO52 || a <= -TWO52 || b >= TWO52 || b <= -TWO52) return false;
    divSmall(Math.abs(a), Math.abs(b));
    if ((a < 0) !== (b < 0)) divQ = -divQ;
    if (a < 0) divR = -divR;
  }
  // |quotient| and |remainder| are below 2^52: low half by ToInt32, high half by a floor division.
  c.writeReg(0, 8, divQ | 0, Math.floor(divQ / TWO32) | 0);
  c.writeReg(2, 8, divR | 0, Math.floor(divR / TWO32) | 0);
  return true;
}

/** DIV (op 6) and IDIV (op 7). #DE on a zero divisor or a quotient that does not fit. */
function divOne(c: CpuCore, d: Insn, mem: boolean): void {
  const size = d.size;
  const sLo = mem ? c.readMem(c.ea(d), size) : c.readReg(d.r1, size);
  const sHi = size === 8 ? c.vHi : 0;
  if ((size === 8 ? sLo | sHi : size === 4 ? sLo : sLo & (size === 1 ? 0xff : 0xffff)) === 0) {
    throw c.fault(Vector.DE, 'divide by zero');
  }
  if (divFast(c, d, size, sLo, sHi)) return;
  // 64-bit operands beyond what doubles divide exactly: a 128/64-bit BigInt division.
  const bits = BigInt(size * 8);
  const src = unsigned(sLo, sHi, size);
  const aLo = c.readReg(0, size);
  const a = unsigned(aLo, size === 8 ? c.vHi : 0, size);
  const dLo = c.readReg(2, size);
  const dd = unsigned(dLo, size === 8 ? c.vHi : 0, size);
  const dividend = (dd << bits) | a;
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
  writeBig(c, 0, size, q);
  writeBig(c, 2, size, r);
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
