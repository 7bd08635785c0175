// String instructions: MOVS, STOS, LODS, CMPS, SCAS with REP / REPE / REPNE
// (Intel SDM Vol.2 instruction pages and "REP/REPE/REPZ/REPNE/REPNZ").
//
// The source is [seg:rSI] (DS, or an FS/GS override), the destination [rDI] (ES: no override).
// A 67 prefix makes rSI/rDI/rCX 32-bit; their updates then zero-extend to 64 bits.
//
// Each iteration is complete before the next starts (reads, writes, then the register updates),
// so a fault in iteration k leaves RIP at the instruction and RSI/RDI/RCX describing the k
// iterations already done, exactly as the manual says for interrupted REP strings. A long REP
// yields after CHUNK iterations without advancing RIP, as the hardware may do on an interrupt,
// so no single instruction can hang the emulator; the run loop then re-executes it.

import { Access } from '../mmu/linear-memory.ts';
import type { CpuCore } from './core.ts';
import { aluCompute, Alu } from './alu.ts';
import { F } from './flags.ts';
import type { Insn } from './insn.ts';
import { ioAllowed } from './privileged.ts';

/** String operation (Insn.op). */
export const Str = { MOVS: 0, STOS: 1, LODS: 2, CMPS: 3, SCAS: 4 } as const;

/** Iterations one execution of a REP string instruction performs before it yields. */
export const REP_CHUNK = 65536;

function regAddr(c: CpuCore, r: number, d: Insn, seg: boolean): number {
  let lo = c.lo[r]!;
  let hi = d.addrSize === 8 ? c.hi[r]! : 0;
  if (seg && d.seg !== 0) {
    const bLo = d.seg === 1 ? c.fsBaseLo : c.gsBaseLo;
    const bHi = d.seg === 1 ? c.fsBaseHi : c.gsBaseHi;
    const s = (lo >>> 0) + (bLo >>> 0);
    hi = (hi + bHi + (s >= 4294967296 ? 1 : 0)) | 0;
    lo = s | 0;
  }
  const la = c.linear(lo, hi, false);
  if (la > 140737488355312 && la < 140737488355328) c.checkStraddle(la, d.size, false);
  return la;
}

function stepReg(c: CpuCore, r: number, delta: number, addrSize: number): void {
  const s = (c.lo[r]! >>> 0) + delta;
  if (addrSize === 8) {
    c.hi[r] = (c.hi[r]! + (s >= 4294967296 ? 1 : s < 0 ? -1 : 0)) | 0;
    c.lo[r] = s | 0;
  } else {
    c.lo[r] = s | 0;
    c.hi[r] = 0;
  }
}

function countIsZero(c: CpuCore, d: Insn): boolean {
  return d.addrSize === 8 ? (c.lo[1]! | c.hi[1]!) === 0 : c.lo[1]! === 0;
}

function decCount(c: CpuCore, d: Insn): void {
  stepReg(c, 1, -1, d.addrSize);
}

/** One complete iteration: memory accesses first, then the register updates. */
function once(c: CpuCore, d: Insn, delta: number): void {
  const size = d.size;
  switch (d.op) {
    case Str.MOVS: {
      const src = regAddr(c, 6, d, true);
      const dst = regAddr(c, 7, d, false);
      const lo = c.readMem(src, size);
      c.writeMem(dst, size, lo, c.vHi);
      stepReg(c, 6, delta, d.addrSize);
      stepReg(c, 7, delta, d.addrSize);
      return;
    }
    case Str.STOS: {
      const dst = regAddr(c, 7, d, false);
      const lo = c.readReg(0, size);
      c.writeMem(dst, size, lo, c.vHi);
      stepReg(c, 7, delta, d.addrSize);
      return;
    }
    case Str.LODS: {
      const src = regAddr(c, 6, d, true);
      const lo = c.readMem(src, size);
      c.writeReg(0, size, lo, c.vHi);
      stepReg(c, 6, delta, d.addrSize);
      return;
    }
    case Str.CMPS: {
      const src = regAddr(c, 6, d, true);
      const dst = regAddr(c, 7, d, false);
      const aLo = c.readMem(src, size);
      const aHi = size === 8 ? c.vHi : 0;
      const bLo = c.readMem(dst, size);
      const bHi = size === 8 ? c.vHi : 0;
      aluCompute(c, Alu.CMP, size, aLo, aHi, bLo, bHi);
      stepReg(c, 6, delta, d.addrSize);
      stepReg(c, 7, delta, d.addrSize);
      return;
    }
    default: {
      // SCAS: compare the accumulator with [rDI]
      const dst = regAddr(c, 7, d, false);
      const bLo = c.readMem(dst, size);
      const bHi = size === 8 ? c.vHi : 0;
      const aLo = c.readReg(0, size);
      const aHi = size === 8 ? c.vHi : 0;
      aluCompute(c, Alu.CMP, size, aLo, aHi, bLo, bHi);
      stepReg(c, 7, delta, d.addrSize);
    }
  }
}

export function stringOp(c: CpuCore, d: Insn): void {
  const delta = (c.flagsOther & F.DF) !== 0 ? -d.size : d.size;
  if (d.rep === 0) {
    once(c, d, delta);
    return;
  }
  if (d.addrSize === 4) {
    // 32-bit address size, measured on this CPU with ECX = 0: every REP form still writes ECX
    // (zeroing RCX[63:32]); REP MOVS also writes ESI and EDI, REP STOS writes EDI (the fast-string
    // forms); REP LODS/CMPS/SCAS leave RSI/RDI alone. With iterations, each update is 32-bit anyway.
    c.hi[1] = 0;
    if (d.op === Str.MOVS) {
      c.hi[6] = 0;
      c.hi[7] = 0;
    } else if (d.op === Str.STOS) {
      c.hi[7] = 0;
    }
  }
  if (delta > 0 && d.addrSize === 8 && (d.op === Str.MOVS || d.op === Str.STOS)) {
    repForwardFast(c, d);
    return;
  }
  const conditional = d.op === Str.CMPS || d.op === Str.SCAS;
  for (let n = 0; n < REP_CHUNK; n++) {
    if (countIsZero(c, d)) return;
    once(c, d, delta);
    decCount(c, d);
    if (conditional) {
      const zf = c.getZF();
      if (d.rep === 1 ? zf === 0 : zf === 1) return; // REPE stops on ZF=0, REPNE on ZF=1
    }
  }
  if (!countIsZero(c, d)) {
    c.target = c.blockRip + d.offset; // yield: re-execute to continue
    c.breakBlock = true;
  }
}


const PAGE = 4096;

/**
 * REP MOVS / REP STOS forward with a 64-bit address size, a page at a time: one MMU translation per
 * page for the destination (a write: every paging and RMP check, the D bit) and the source (a read),
 * then a straight copy or fill of the frame bytes. Architecturally the same as element-by-element:
 * an element that straddles a page goes through `once`; overlapping copies in one frame are done
 * element by element, forward; a fault on a later page leaves RSI/RDI/RCX after the pages already
 * done (interrupted-REP semantics). Code frames written here drop their decoded blocks first.
 */
function repForwardFast(c: CpuCore, d: Insn): void {
  const size = d.size;
  const movs = d.op === Str.MOVS;
  const phys = c.phys;
  let done = 0;
  while (done < REP_CHUNK) {
    if (countIsZero(c, d)) return;
    const count = c.hi[1] !== 0 ? REP_CHUNK : c.lo[1]! >>> 0;
    const dst = regAddr(c, 7, d, false);
    const dOff = dst % PAGE;
    let elems = Math.min(count, Math.floor((PAGE - dOff) / size), REP_CHUNK - done);
    let src = 0;
    let sOff = 0;
    if (movs) {
      src = regAddr(c, 6, d, true);
      sOff = src % PAGE;
      elems = Math.min(elems, Math.floor((PAGE - sOff) / size));
    }
    if (elems === 0) {
      // the next element straddles a page boundary: do it the general way
      once(c, d, size);
      decCount(c, d);
      done++;
      continue;
    }
    const bytes = elems * size;
    const sPa = movs ? c.mmu.translate(src, Access.Read) : 0;
    const dPa = c.mmu.translate(dst, Access.Write);
    const dPfn = Math.floor(dPa / PAGE);
    if (dPfn < phys.frameCount && phys.codeMarks[dPfn] !== 0) phys.onCodeWrite(dPfn);
    const df = phys.frameForWrite(dPfn); // undefined beyond RAM: the writes are dropped
    const dO = dPa % PAGE;
    if (df !== undefined) {
      if (movs) {
        const sf = phys.frameForRead(Math.floor(sPa / PAGE));
        const sO = sPa % PAGE;
        if (sf === df && dO > sO && dO < sO + bytes) {
          // overlapping forward copy in one frame: element by element, as the hardware's semantics say
          for (let i = 0; i < bytes; i += size) {
            if (size === 1) df[dO + i] = df[sO + i]!;
            else df.copyWithin(dO + i, sO + i, sO + i + size);
          }
        } else {
          df.set(sf.subarray(sO, sO + bytes), dO);
        }
      } else {
        const lo = c.lo[0]!;
        const hi = c.hi[0]!;
        if (size === 1) {
          df.fill(lo & 0xff, dO, dO + bytes);
        } else {
          // one element, then doubling copies of what is filled (always whole elements)
          for (let b = 0; b < size; b++) df[dO + b] = (b < 4 ? lo >>> (8 * b) : hi >>> (8 * (b - 4))) & 0xff;
          let filled = size;
          while (filled < bytes) {
            const n = Math.min(filled, bytes - filled);
            df.copyWithin(dO + filled, dO, dO + n);
            filled += n;
          }
        }
      }
    }
    if (movs) stepReg(c, 6, bytes, 8);
    stepReg(c, 7, bytes, 8);
    stepReg(c, 1, -elems, 8);
    done += elems;
  }
  if (!countIsZero(c, d)) {
    c.target = c.blockRip + d.offset; // yield: re-execute to continue
    c.breakBlock = true;
  }
}

/**
 * INS (6C/6D) and OUTS (6E/6F), Insn.op 0 = INS, 1 = OUTS, with REP: CPL > IOPL is #GP(0) before
 * anything else (privileged.ts ioAllowed). No device claims a port: INS stores all-ones at [rDI],
 * OUTS reads [seg:rSI] (its faults are real) and drops the value. At most 32 bits, whatever REX.W says.
 */
export function portString(c: CpuCore, d: Insn): void {
  ioAllowed(c, d.op === 0 ? 'INS' : 'OUTS');
  const size = d.size === 8 ? 4 : d.size;
  const delta = (c.flagsOther & F.DF) !== 0 ? -size : size;
  for (let n = 0; n < (d.rep === 0 ? 1 : REP_CHUNK); n++) {
    if (d.rep !== 0 && countIsZero(c, d)) return;
    if (d.op === 0) {
      c.writeMem(regAddr(c, 7, d, false), size, -1, 0);
      stepReg(c, 7, delta, d.addrSize);
    } else {
      c.readMem(regAddr(c, 6, d, true), size);
      stepReg(c, 6, delta, d.addrSize);
    }
    if (d.rep !== 0) decCount(c, d);
  }
  if (d.rep !== 0 && !countIsZero(c, d)) {
    c.target = c.blockRip + d.offset; // yield: re-execute to continue
    c.breakBlock = true;
  }
}
