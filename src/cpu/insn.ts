// One decoded instruction: everything the handler needs, computed once by the decoder and reused
// every time the cached block runs (design.md, pattern 1). Fields are plain numbers so that every
// Insn has the same hidden class and handler reads stay monomorphic (pattern 9).

import type { CpuCore } from './core.ts';
import type { OpcodeRow } from './opcodes.ts';

/** An instruction handler. It reads operands, computes, writes results, and sets `c.target` for taken branches. */
export type Handler = (c: CpuCore, d: Insn) => void;

/** Pseudo base register meaning "RIP-relative" (ModRM mod=00 rm=101 in 64-bit mode). */
export const BASE_RIP = 16;
/** No base / no index register. */
export const NO_REG = -1;

/** Segment override carried into the effective-address calculation (only FS and GS have bases in long mode). */
export const Seg = { None: 0, FS: 1, GS: 2 } as const;

export class Insn {
  /** The handler chosen at decode time for this form (register or memory). */
  exec: Handler;
  /** Encoded length in bytes (1..15). */
  len = 0;
  /** Operand size in bytes (1, 2, 4 or 8) of the instruction's main operand. */
  size = 4;
  /** Address size in bytes (8, or 4 with a 67 prefix). */
  addrSize = 8;
  /** First register operand (destination when the instruction has one). Byte registers 16..19 are AH, CH, DH, BH. */
  r1 = 0;
  /** Second register operand. Same encoding as r1. */
  r2 = 0;
  /** Memory operand: base register (0..15), BASE_RIP, or NO_REG. */
  base = NO_REG;
  /** Memory operand: index register (0..15) or NO_REG. */
  index = NO_REG;
  /** Memory operand: log2 of the scale (0..3). */
  scale = 0;
  /** Memory operand: displacement, low 32 bits (signed) and high 32 bits (sign extension, or moffs64 high). */
  dispLo = 0;
  dispHi = 0;
  /** Segment override with a base: Seg.FS or Seg.GS. */
  seg = 0;
  /** True for [base + disp] with a general register base, no index, no FS/GS, 64-bit addressing (CpuCore.ea's fast path). */
  baseOnly = false;
  /** True when a non-canonical address is a stack fault (#SS) rather than #GP: base RSP or RBP, no FS/GS. */
  stackAccess = false;
  /** Immediate (or relative displacement), sign- or zero-extended to 64 bits as the operand letter says. */
  immLo = 0;
  immHi = 0;
  /** Second immediate (ENTER's nesting level). */
  imm2 = 0;
  /** Sub-operation from the table row: ALU operation, condition code, shift kind... */
  op = 0;
  /** String prefix: 0 none, 1 REP/REPE (F3), 2 REPNE (F2). */
  rep = 0;
  /** True when the instruction must end its cached block (branches, mode changes, faults). */
  endsBlock = false;
  /** The opcode table row this instruction came from (mnemonic, operands), or null for decode faults. */
  row: OpcodeRow | null = null;
  /** Position in its cached block: Cpu.instructions counts whole blocks, so RDTSC adds this. */
  blockIndex = 0;
  /** Byte offset of this instruction from the start of its block, and of its end (offset + len). */
  offset = 0;
  end = 0;
  /**
   * True when the block builder followed this direct JMP/CALL to its target in the same page: the
   * next instruction of the block is the target, and the handler (branch.jmpFollowed /
   * branch.callFollowed) does not set a branch target. A followed RET (branch.retFollowed) goes on
   * at the return address of a CALL followed earlier in the block, and checks it at run time.
   */
  followed = false;
  /** For a followed RET: the return address the block expects (offset from the block's first instruction). */
  returnOffset = 0;
  /** For decode faults: the exception vector raised when the instruction executes. */
  faultVector = 0;

  constructor(exec: Handler) {
    this.exec = exec;
  }
}
