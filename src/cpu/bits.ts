// Bit instructions: BT/BTS/BTR/BTC, BSF/BSR, TZCNT/LZCNT/POPCNT (Intel SDM Vol.2 instruction pages).
//
// Flags on this CPU (docs/flags.md):
// - BT*: CF = the selected bit; OF SF AF PF ZF keep their values.
// - BSF/BSR: ZF = (source == 0); PF = parity of the result (0 when the source is 0, so PF = 1);
//   CF OF SF AF = 0. With a zero source the destination is not written at all (not even the
//   upper half of a 32-bit destination).
// - TZCNT/LZCNT: CF = (source == 0), ZF = (result == 0), the others 0. POPCNT: ZF = (source == 0),
//   the others 0.

import { Access } from '../mmu/linear-memory.ts';
import type { CpuCore } from './core.ts';
import { F, PARITY, STATUS_FLAGS } from './flags.ts';
import type { Insn } from './insn.ts';

/** BT family operation (Insn.op): 0 BT, 1 BTS, 2 BTR, 3 BTC. */
export const BitOp = { BT: 0, BTS: 1, BTR: 2, BTC: 3 } as const;

function setCF(c: CpuCore, bit: number): void {
  c.setStatusFlags((c.statusFlags() & ~F.CF & STATUS_FLAGS) | bit);
}

/** Apply the operation to bit `n` (< 32) of one 32-bit word; returns the new word. */
function applyBit(op: number, word: number, n: number): number {
  const m = 1 << n;
  switch (op) {
    case BitOp.BTS: return word | m;
    case BitOp.BTR: return word & ~m;
    case BitOp.BTC: return word ^ m;
    default: return word;
  }
}

function btOnValue(c: CpuCore, d: Insn, lo: number, hi: number, n: number): void {
  // n is already reduced modulo the operand width
  const inHi = n >= 32;
  const word = inHi ? hi : lo;
  const bit = (word >>> (n & 31)) & 1;
  const nw = applyBit(d.op, word, n & 31);
  setCF(c, bit);
  if (d.op !== BitOp.BT) {
    c.vHi = inHi ? nw : hi;
    c.writeReg(d.r1, d.size, inHi ? lo : nw, inHi ? nw : hi);
  }
}

/** BT* r1, r2 (offset taken modulo the width) */
export function btRR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const lo = c.readReg(d.r1, size);
  const hi = size === 8 ? c.vHi : 0;
  const n = c.lo[d.r2]! & (size * 8 - 1);
  btOnValue(c, d, lo, hi, n);
}

/** BT* r1, imm8 */
export function btRI(c: CpuCore, d: Insn): void {
  const size = d.size;
  const lo = c.readReg(d.r1, size);
  const hi = size === 8 ? c.vHi : 0;
  btOnValue(c, d, lo, hi, d.immLo & (size * 8 - 1));
}

/** Byte-granular memory access for BT* on memory: bit `n` of the byte at `la`. */
function btMemByte(c: CpuCore, d: Insn, la: number, n: number): void {
  if (d.op !== BitOp.BT) c.mmu.probe(la, 1, Access.Write);
  const byte = c.readMem(la, 1);
  setCF(c, (byte >>> n) & 1);
  if (d.op !== BitOp.BT) c.writeMem(la, 1, applyBit(d.op, byte, n) & 0xff, 0);
}

/**
 * BT* [mem], r2: the register is a signed bit offset that may reach outside the operand
 * (Intel SDM Vol.2 "BT": "bit string" addressing). We touch only the byte that holds the bit; the
 * hardware reads a whole operand-sized word there, which can differ only in which faults a
 * partially-mapped word raises.
 */
export function btMR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const offLo = c.readReg(d.r2, size);
  const offHi = size === 8 ? c.vHi : 0;
  // signed bit offset -> byte displacement (floor division by 8) and bit-in-byte
  let byteOff: number;
  if (size === 8) byteOff = offHi * 536870912 + Math.floor((offLo >>> 0) / 8); // hi * 2^32 / 8
  else if (size === 4) byteOff = Math.floor((offLo | 0) / 8);
  else byteOff = Math.floor(((offLo << 16) >> 16) / 8);
  const bitInByte = offLo & 7;
  const base = c.ea(d);
  const la = addToLinear(c, base, byteOff, d.stackAccess);
  btMemByte(c, d, la, bitInByte);
}

/** BT* [mem], imm8 (offset modulo the width, so it stays inside the operand). */
export function btMI(c: CpuCore, d: Insn): void {
  const n = d.immLo & (d.size * 8 - 1);
  const la = c.ea(d);
  btMemByte(c, d, la + (n >>> 3), n & 7);
}

const TWO48 = 281474976710656;
const TWO47 = 140737488355328;

/** A 48-bit canonical linear address plus a (possibly large) signed byte offset, re-checked for canonical form. */
function addToLinear(c: CpuCore, la: number, off: number, stack: boolean): number {
  const signedLa = la >= TWO47 ? la - TWO48 : la;
  const v = signedLa + off;
  if (v >= TWO47 || v < -TWO47) throw c.fault(stack ? 12 : 13, 'bit offset reaches a non-canonical address');
  return v < 0 ? v + TWO48 : v;
}

// ---- BSF / BSR / TZCNT / LZCNT / POPCNT: Insn.op selects ---------------------------------------------

export const Scan = { BSF: 0, BSR: 1, TZCNT: 2, LZCNT: 3, POPCNT: 4 } as const;

function tz32(v: number): number {
  return v === 0 ? 32 : 31 - Math.clz32(v & -v);
}

function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

function scan(c: CpuCore, d: Insn, lo: number, hi: number): void {
  const size = d.size;
  const bits = size * 8;
  if (size < 4) lo &= size === 1 ? 0xff : 0xffff;
  if (size < 8) hi = 0;
  const zero = lo === 0 && hi === 0;
  let result: number;
  switch (d.op) {
    case Scan.BSF:
    case Scan.BSR: {
      if (zero) {
        c.setStatusFlags(F.ZF | F.PF);
        return; // destination unchanged
      }
      if (d.op === Scan.BSF) result = lo !== 0 ? tz32(lo) : 32 + tz32(hi);
      else result = hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(lo);
      c.setStatusFlags(PARITY[result]! << 2);
      break;
    }
    case Scan.TZCNT:
      result = zero ? bits : lo !== 0 ? tz32(lo) : 32 + tz32(hi);
      c.setStatusFlags((zero ? F.CF : 0) | (result === 0 ? F.ZF : 0));
      break;
    case Scan.LZCNT: {
      const top = size === 8 ? (hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo)) : Math.clz32(lo) - (32 - bits);
      result = zero ? bits : top;
      c.setStatusFlags((zero ? F.CF : 0) | (result === 0 ? F.ZF : 0));
      break;
    }
    default:
      result = popcount32(lo) + popcount32(hi);
      c.setStatusFlags(zero ? F.ZF : 0);
      break;
  }
  c.writeReg(d.r1, size, result, 0);
}

export function scanR(c: CpuCore, d: Insn): void {
  const lo = c.readReg(d.r2, d.size);
  scan(c, d, lo, d.size === 8 ? c.vHi : 0);
}

export function scanM(c: CpuCore, d: Insn): void {
  const lo = c.readMem(c.ea(d), d.size);
  scan(c, d, lo, d.size === 8 ? c.vHi : 0);
}

