// MUL, IMUL (one, two and three operands), DIV and IDIV (Intel SDM Vol.2 "MUL", "IMUL", "DIV", "IDIV").
//
// Products and quotients at 32 and 64 bits use BigInt: they are rare in hot loops, and BigInt is
// exact where doubles are not (a 32x32 product needs 64 bits).
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

function signed(lo: number, hi: number, size: number): bigint {
  return BigInt.asIntN(size * 8, unsigned(lo, hi, size));
}

/** Flags after a multiply whose truncated result is `low` (unsigned, size bits). */
function setMulFlags(c: CpuCore, size: number, low: bigint, overflow: boolean): void {
  const sf = Number((low >> BigInt(size * 8 - 1)) & 1n);
  const pf = PARITY[Number(low & 0xffn)]!;
  c.setStatusFlags((overflow ? 0x801 : 0) | (sf << 7) | (pf << 2));
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

/** MUL (op 4) and one-operand IMUL (op 5): rDX:rAX = rAX * src (AX = AL * src for bytes). */
function mulOne(c: CpuCore, d: Insn, mem: boolean): void {
  const size = d.size;
  const bits = BigInt(size * 8);
  const src = group3Source(c, d, mem);
  const accLo = c.readReg(0, size);
  const acc = unsigned(accLo, size === 8 ? c.vHi : 0, size);
  let product: bigint;
  let overflow: boolean;
  if (d.op === 4) {
    product = acc * src;
    overflow = product >> bits !== 0n;
  } else {
    product = BigInt.asIntN(size * 8, acc) * BigInt.asIntN(size * 8, src);
    overflow = BigInt.asIntN(size * 8, product) !== product;
  }
  const low = product & MASK[size]!;
  const high = (product >> bits) & MASK[size]!;
  if (size === 1) {
    writeBig(c, 0, 2, (high << 8n) | low);
  } else {
    writeBig(c, 0, size, low);
    writeBig(c, 2, size, high);
  }
  setMulFlags(c, size, low, overflow);
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

/** IMUL r1, src, imm (three operands) or IMUL r1, src (two operands; then the "immediate" is r1). */
function imulInto(c: CpuCore, d: Insn, srcLo: number, srcHi: number, threeOp: boolean): void {
  const size = d.size;
  const a = signed(srcLo, srcHi, size);
  let b: bigint;
  if (threeOp) {
    b = signed(d.immLo, d.immHi, size);
  } else {
    const lo = c.readReg(d.r1, size);
    b = signed(lo, size === 8 ? c.vHi : 0, size);
  }
  const product = a * b;
  const low = BigInt.asUintN(size * 8, product);
  writeBig(c, d.r1, size, low);
  setMulFlags(c, size, low, BigInt.asIntN(size * 8, product) !== product);
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
