// Control flow: Jcc, JMP, CALL, RET (near, direct and indirect, RET imm16), JRCXZ, LOOP/LOOPE/LOOPNE
// (Intel SDM Vol.2 instruction pages).
//
// In 64-bit mode near branches use a 64-bit operand size; this CPU (Intel) ignores a 66 prefix on
// them, so the decoder table marks these rows f64 (AMD would truncate RIP to 16 bits instead).
// A target that is not canonical raises #GP(0) at the branch itself, with no register committed
// (Intel SDM Vol.1 §6.3.7; AMD raises it at the target fetch instead). CALL is the exception that
// proves the rule: see callTo.

import type { CpuCore } from './core.ts';
import type { Insn } from './insn.ts';

export function jcc(c: CpuCore, d: Insn): void {
  if (c.cond(d.op)) c.jumpToNumber(c.blockRip + d.end + d.immLo);
}

/** JNZ/JNE fast form (the benchmark loop): ZF straight from the lazy record. */
export function jnz(c: CpuCore, d: Insn): void {
  if (c.getZF() === 0) c.jumpToNumber(c.blockRip + d.end + d.immLo);
}

export function jmpRel(c: CpuCore, d: Insn): void {
  c.jumpToNumber(c.blockRip + d.end + d.immLo);
}

export function jmpR(c: CpuCore, d: Insn): void {
  c.jumpTo(c.lo[d.r1]!, c.hi[d.r1]!);
}

export function jmpM(c: CpuCore, d: Insn): void {
  const lo = c.readMem(c.ea(d), 8);
  c.jumpTo(lo, c.vHi);
}

/**
 * Push the return address and go to (lo, hi). This CPU writes the return address before it checks
 * the target: a CALL to a non-canonical address leaves the return address in memory below RSP,
 * then raises #GP(0) with RSP and RIP unchanged (measured; the stack write's own #PF comes first).
 */
function callTo(c: CpuCore, d: Insn, lo: number, hi: number): void {
  const ret = c.blockRip + d.end;
  const retLo = ret | 0;
  const retHi = Math.floor(ret / 4294967296) | 0;
  const top = hi >> 15;
  if (top !== 0 && top !== -1) {
    const s = (c.lo[4]! >>> 0) - 8;
    const la = c.linear(s | 0, (c.hi[4]! - (s < 0 ? 1 : 0)) | 0, true);
    c.writeMem(la, 8, retLo, retHi);
    c.jumpTo(lo, hi); // raises #GP(0)
  }
  c.push(8, retLo, retHi);
  c.jumpTo(lo, hi);
}

/**
 * JMP rel whose target the block builder followed (same page, so canonical and translated like the
 * block itself): the target is the next instruction of the block, nothing to do.
 */
export function jmpFollowed(_c: CpuCore, _d: Insn): void {}

/** CALL rel whose target the block builder followed: only the push of the return address remains. */
export function callFollowed(c: CpuCore, d: Insn): void {
  const ret = c.blockRip + d.end;
  c.push(8, ret | 0, Math.floor(ret / 4294967296) | 0);
}

export function callRel(c: CpuCore, d: Insn): void {
  const ret = c.blockRip + d.end;
  const t = ret + d.immLo;
  if (t >= 140737488355328 || t < -140737488355328) {
    callTo(c, d, t | 0, Math.floor(t / 4294967296) | 0);
    return;
  }
  c.push(8, ret | 0, Math.floor(ret / 4294967296) | 0);
  c.target = t;
}

export function callR(c: CpuCore, d: Insn): void {
  callTo(c, d, c.lo[d.r1]!, c.hi[d.r1]!);
}

export function callM(c: CpuCore, d: Insn): void {
  const lo = c.readMem(c.ea(d), 8);
  callTo(c, d, lo, c.vHi);
}

/** RET and RET imm16 (immLo holds the extra bytes to release). */
export function ret(c: CpuCore, d: Insn): void {
  const lo = c.peekStack(0, 8);
  c.jumpTo(lo, c.vHi);
  c.addRsp(8 + d.immLo);
}

/**
 * RET that the block builder followed to the return address of a CALL earlier in the same block.
 * The guess is checked: when the popped address is the expected one the block simply goes on;
 * otherwise this is an ordinary RET and the block ends here (breakBlock), so the result is exact
 * whatever the code did to its stack.
 */
export function retFollowed(c: CpuCore, d: Insn): void {
  const lo = c.peekStack(0, 8);
  const hi = c.vHi;
  const expected = c.blockRip + d.returnOffset;
  if (hi * 4294967296 + (lo >>> 0) !== expected) {
    c.jumpTo(lo, hi);
    c.breakBlock = true;
  }
  c.addRsp(8 + d.immLo);
}

/** JRCXZ / JECXZ (67 prefix). */
export function jrcxz(c: CpuCore, d: Insn): void {
  const zero = d.addrSize === 8 ? (c.lo[1]! | c.hi[1]!) === 0 : c.lo[1]! === 0;
  if (zero) c.jumpToNumber(c.blockRip + d.end + d.immLo);
}

/** LOOP (op 2), LOOPE (op 1), LOOPNE (op 0): count in RCX (ECX with 67), no flags changed. */
export function loop(c: CpuCore, d: Insn): void {
  let lo = c.lo[1]!;
  let hi = c.hi[1]!;
  if (d.addrSize === 8) {
    hi = (hi - (lo === 0 ? 1 : 0)) | 0;
    lo = (lo - 1) | 0;
  } else {
    lo = (lo - 1) | 0;
    hi = 0;
  }
  const nonZero = (d.addrSize === 8 ? lo | hi : lo) !== 0;
  let take = nonZero;
  if (d.op === 1) take = nonZero && c.getZF() === 1;
  else if (d.op === 0) take = nonZero && c.getZF() === 0;
  if (take) c.jumpToNumber(c.blockRip + d.end + d.immLo);
  c.lo[1] = lo;
  c.hi[1] = hi;
}
