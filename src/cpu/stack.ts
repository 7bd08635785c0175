// Stack instructions: PUSH/POP (register, immediate, r/m), PUSHF/POPF, ENTER/LEAVE
// (Intel SDM Vol.2 instruction pages; Vol.1 §6.2-6.5). In 64-bit mode the operand size is 64
// bits unless a 66 prefix makes it 16; 32-bit pushes do not exist (Vol.1 §6.2.5).
//
// Every instruction here commits RSP last, after its memory writes succeeded, so a #PF or #SS
// leaves RSP and memory as they were (precise exceptions).

import { Access } from '../mmu/linear-memory.ts';
import type { CpuCore } from './core.ts';
import { F } from './flags.ts';
import type { Insn } from './insn.ts';

export function pushR(c: CpuCore, d: Insn): void {
  const lo = c.readReg(d.r1, d.size);
  c.push(d.size, lo, c.vHi);
}

export function pushI(c: CpuCore, d: Insn): void {
  c.push(d.size, d.immLo, d.immHi);
}

export function pushM(c: CpuCore, d: Insn): void {
  const lo = c.readMem(c.ea(d), d.size);
  c.push(d.size, lo, c.vHi);
}

export function popR(c: CpuCore, d: Insn): void {
  const size = d.size;
  const lo = c.peekStack(0, size);
  const hi = c.vHi;
  c.addRsp(size);
  c.writeReg(d.r1, size, lo, hi); // POP RSP: the loaded value wins over the increment
}

/** POP r/m: an RSP-based destination address is computed with the incremented RSP (Intel SDM "POP"). */
export function popM(c: CpuCore, d: Insn): void {
  const size = d.size;
  const lo = c.peekStack(0, size);
  const hi = c.vHi;
  const oldLo = c.lo[4]!;
  const oldHi = c.hi[4]!;
  c.addRsp(size);
  const newLo = c.lo[4]!;
  const newHi = c.hi[4]!;
  let la: number;
  try {
    la = c.ea(d);
    c.writeMem(la, size, lo, hi);
  } finally {
    c.lo[4] = oldLo;
    c.hi[4] = oldHi;
  }
  c.lo[4] = newLo;
  c.hi[4] = newHi;
}

/** PUSHF: RFLAGS with RF and VM cleared (Intel SDM "PUSHF"). */
export function pushf(c: CpuCore, d: Insn): void {
  const v = c.getRflags() & ~(F.RF | F.VM);
  c.push(d.size, v, 0);
}

/**
 * POPF in 64-bit mode (Intel SDM "POPF", Table 4-16): IOPL changes only at CPL 0, IF only when
 * CPL <= IOPL; VM, VIF, VIP and RF are never loaded. A 16-bit POPF loads only the low word.
 */
export function popf(c: CpuCore, d: Insn): void {
  const size = d.size;
  const v = c.peekStack(0, size);
  const old = c.getRflags();
  let writable = 0x8d5 | F.TF | F.DF | F.NT | F.AC | F.ID;
  const iopl = (old >>> 12) & 3;
  if (c.cplValue === 0) writable |= F.IOPL;
  if (c.cplValue <= iopl) writable |= F.IF;
  if (size === 2) writable &= 0xffff;
  const next = (old & ~writable) | (v & writable);
  c.addRsp(size);
  c.setRflags(next);
}

/** LEAVE: RSP = RBP, then pop RBP. The read uses RBP as a stack address. */
export function leave(c: CpuCore, d: Insn): void {
  const size = d.size;
  const la = c.linear(c.lo[5]!, c.hi[5]!, true);
  const lo = c.readMem(la, size);
  const hi = c.vHi;
  c.lo[4] = c.lo[5]!;
  c.hi[4] = c.hi[5]!;
  c.addRsp(size);
  c.writeReg(5, size, lo, hi);
}

/**
 * ENTER imm16, imm8 (Intel SDM "ENTER", 64-bit mode): push RBP, copy `level - 1` frame pointers
 * from the old frame, push the new frame pointer, set RBP, then reserve imm16 bytes.
 * Reads come first, then one probe of the whole area written, then the writes.
 */
export function enter(c: CpuCore, d: Insn): void {
  const size = d.size;
  const level = d.imm2 & 31;
  const allocBytes = d.immLo & 0xffff;
  const rbpLo = c.lo[5]!;
  const rbpHi = c.hi[5]!;
  const rspLo = c.lo[4]!;
  const rspHi = c.hi[4]!;
  // values to push, in order
  const pushLo: number[] = [rbpLo];
  const pushHi: number[] = [rbpHi];
  if (level > 0) {
    for (let i = 1; i < level; i++) {
      const off = -i * size;
      const s = (rbpLo >>> 0) + off;
      const la = c.linear(s | 0, (rbpHi + (s < 0 ? -1 : s >= 4294967296 ? 1 : 0)) | 0, true);
      pushLo.push(c.readMem(la, size));
      pushHi.push(size === 8 ? c.vHi : 0);
    }
  }
  // frame temp = RSP after pushing RBP
  const ft = (rspLo >>> 0) - size;
  const ftLo = ft | 0;
  const ftHi = (rspHi - (ft < 0 ? 1 : 0)) | 0;
  if (level > 0) {
    pushLo.push(ftLo);
    pushHi.push(ftHi);
  }
  const total = pushLo.length * size;
  const bottom = (rspLo >>> 0) - total;
  const bottomLo = bottom | 0;
  const bottomHi = (rspHi - (bottom < 0 ? 1 : 0)) | 0;
  const bottomLa = c.linear(bottomLo, bottomHi, true);
  c.mmu.probe(bottomLa, total, Access.Write);
  // final RSP = bottom - allocBytes, checked canonical too
  const fin = (bottomLo >>> 0) - allocBytes;
  const finLo = fin | 0;
  const finHi = (bottomHi - (fin < 0 ? 1 : 0)) | 0;
  c.linear(finLo, finHi, true);
  for (let i = 0; i < pushLo.length; i++) c.push(size, pushLo[i]!, pushHi[i]!);
  c.writeReg(5, size, ftLo, ftHi);
  c.lo[4] = finLo;
  c.hi[4] = finHi;
}
