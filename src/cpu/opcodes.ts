// The opcode table: one row per opcode form, written in the manuals' operand vocabulary
// (Intel SDM Vol.2 Appendix A, AMD APM Vol.3 Appendix A). It drives the decoder (which reads
// lengths and operand roles from it and picks the handler for the register or memory form), the
// iced-x86 cross-check (test/cpu/opcode-table.test.ts) and test generation.
//
// Row fields:
//   code      opcode bytes in hex, as the manuals write them:
//               'F3 0F B8'     mandatory prefix (F2/F3), then 0F for the two-byte map, then the opcode
//               '80 /0'        ModRM.reg opcode extension
//               '0F 01 /7 m'   ... only the memory form (`r` = only the register form)
//               'F2 0F 01 FE'  a fixed ModRM byte
//               '50+r'         register number in the low three opcode bits
//   mnemonic  lower-case Intel mnemonic (for traces and the cross-check)
//   operands  destination first, comma-separated, each an addressing letter and a size letter:
//               E  ModRM r/m (register or memory)   G  ModRM reg          M  ModRM r/m, memory only
//               I  immediate                        J  relative offset    O  moffs (absolute address)
//               X  [rSI] string source              Y  [rDI] string destination
//               R  ModRM r/m, always a register (MOV CR ignores mod)      C  control register in ModRM reg
//               D  debug register in ModRM reg
//             sizes: b byte, w word, d dword, q qword, v 16/32/64 by operand size, z 16/32 (an
//             immediate sign-extended to 64 bits with REX.W), y 32/64.
//             Fixed registers: AL, CL, rAX. '1' is the constant count of D0-D3.
//   reg/mem   handlers for the register form (mod = 3, or rows without ModRM) and the memory form
//   reg64     optional faster handler for the register form at operand size 64 (the hot loops)
//   mem64     optional faster handler for the memory form at operand size 64
//   op        sub-operation passed to the handler in Insn.op (ALU operation, condition code...)
//   attrs     space-separated: lock (LOCK allowed with a memory destination), d64 (operand size
//             defaults to 64; 66 gives 16), f64 (always 64, 66 ignored, as Intel does for near
//             branches), end (the instruction ends a cached block), rep (REP/REPE/REPNE prefixes
//             apply), norexb (matches only without REX.B: 90 is NOP, but 41 90 is XCHG r8, rAX).
//             CMPXCHG8B's operand is written 'M' because REX.W turns it into CMPXCHG16B.
//
// Where we depart from the manuals' tables: 'Z' (register in the opcode) stands for the manuals'
// "+r"/"rAX..r15" columns; groups are written one row per /digit; rows that are outside the
// subset snpemu implements are simply absent, and the decoder raises #UD for them.

import * as alu from './alu.ts';
import { Alu } from './alu.ts';
import * as bits from './bits.ts';
import * as branch from './branch.ts';
import type { Handler } from './insn.ts';
import * as move from './move.ts';
import * as muldiv from './muldiv.ts';
import * as priv from './privileged.ts';
import * as shift from './shift.ts';
import * as stack from './stack.ts';
import * as str from './string.ts';
import * as sys from './system.ts';

export interface OpcodeRow {
  code: string;
  mnemonic: string;
  operands: string;
  reg?: Handler;
  mem?: Handler;
  reg64?: Handler;
  mem64?: Handler;
  op?: number;
  attrs?: string;
}

const COND = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

/** The six classic ALU forms at 00+8k..05+8k (Intel SDM Vol.2 Table A-2). */
function aluRows(base: number, mnemonic: string, op: number): OpcodeRow[] {
  const lock = op === Alu.CMP ? '' : 'lock';
  const fast = op === Alu.ADD ? alu.add64RR : op === Alu.XOR ? alu.xor64RR : undefined;
  return [
    { code: hex2(base), mnemonic, operands: 'Eb,Gb', reg: alu.aluRR, mem: alu.aluMR, op, attrs: lock },
    { code: hex2(base + 1), mnemonic, operands: 'Ev,Gv', reg: alu.aluRR, mem: alu.aluMR, op, attrs: lock, ...(fast ? { reg64: fast } : {}) },
    { code: hex2(base + 2), mnemonic, operands: 'Gb,Eb', reg: alu.aluRR, mem: alu.aluRM, op },
    { code: hex2(base + 3), mnemonic, operands: 'Gv,Ev', reg: alu.aluRR, mem: alu.aluRM, op, ...(fast ? { reg64: fast } : {}) },
    { code: hex2(base + 4), mnemonic, operands: 'AL,Ib', reg: alu.aluRI, op },
    { code: hex2(base + 5), mnemonic, operands: 'rAX,Iz', reg: alu.aluRI, reg64: alu.aluRI64, op },
  ];
}

const ALU_NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const SHIFT_NAMES = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];

export const OPCODE_TABLE: readonly OpcodeRow[] = [
  // ---- one-byte map: arithmetic --------------------------------------------------------------
  ...ALU_NAMES.flatMap((m, i) => aluRows(i * 8, m, i)),
  ...ALU_NAMES.map((m, i): OpcodeRow => ({ code: `80 /${i}`, mnemonic: m, operands: 'Eb,Ib', reg: alu.aluRI, mem: alu.aluMI, op: i, attrs: i === 7 ? '' : 'lock' })),
  ...ALU_NAMES.map((m, i): OpcodeRow => ({ code: `81 /${i}`, mnemonic: m, operands: 'Ev,Iz', reg: alu.aluRI, reg64: alu.aluRI64, mem: alu.aluMI, mem64: alu.aluMI64, op: i, attrs: i === 7 ? '' : 'lock' })),
  ...ALU_NAMES.map((m, i): OpcodeRow => ({ code: `83 /${i}`, mnemonic: m, operands: 'Ev,Ib', reg: alu.aluRI, reg64: alu.aluRI64, mem: alu.aluMI, mem64: alu.aluMI64, op: i, attrs: i === 7 ? '' : 'lock' })),
  { code: '84', mnemonic: 'test', operands: 'Eb,Gb', reg: alu.aluRR, mem: alu.aluMR, op: Alu.TEST },
  { code: '85', mnemonic: 'test', operands: 'Ev,Gv', reg: alu.aluRR, mem: alu.aluMR, op: Alu.TEST },
  { code: 'A8', mnemonic: 'test', operands: 'AL,Ib', reg: alu.aluRI, op: Alu.TEST },
  { code: 'A9', mnemonic: 'test', operands: 'rAX,Iz', reg: alu.aluRI, op: Alu.TEST },
  { code: 'F6 /0', mnemonic: 'test', operands: 'Eb,Ib', reg: alu.aluRI, mem: alu.aluMI, op: Alu.TEST },
  { code: 'F6 /1', mnemonic: 'test', operands: 'Eb,Ib', reg: alu.aluRI, mem: alu.aluMI, op: Alu.TEST },
  { code: 'F7 /0', mnemonic: 'test', operands: 'Ev,Iz', reg: alu.aluRI, mem: alu.aluMI, op: Alu.TEST },
  { code: 'F7 /1', mnemonic: 'test', operands: 'Ev,Iz', reg: alu.aluRI, mem: alu.aluMI, op: Alu.TEST },
  { code: 'F6 /2', mnemonic: 'not', operands: 'Eb', reg: alu.negNotR, mem: alu.negNotM, op: 2, attrs: 'lock' },
  { code: 'F7 /2', mnemonic: 'not', operands: 'Ev', reg: alu.negNotR, mem: alu.negNotM, op: 2, attrs: 'lock' },
  { code: 'F6 /3', mnemonic: 'neg', operands: 'Eb', reg: alu.negNotR, mem: alu.negNotM, op: 3, attrs: 'lock' },
  { code: 'F7 /3', mnemonic: 'neg', operands: 'Ev', reg: alu.negNotR, mem: alu.negNotM, op: 3, attrs: 'lock' },
  ...['mul', 'imul', 'div', 'idiv'].flatMap((m, i): OpcodeRow[] => [
    { code: `F6 /${i + 4}`, mnemonic: m, operands: 'Eb', reg: muldiv.mulDivR, mem: muldiv.mulDivM, op: i + 4 },
    { code: `F7 /${i + 4}`, mnemonic: m, operands: 'Ev', reg: muldiv.mulDivR, mem: muldiv.mulDivM, op: i + 4 },
  ]),
  { code: 'FE /0', mnemonic: 'inc', operands: 'Eb', reg: alu.incDecR, mem: alu.incDecM, op: 0, attrs: 'lock' },
  { code: 'FE /1', mnemonic: 'dec', operands: 'Eb', reg: alu.incDecR, mem: alu.incDecM, op: 1, attrs: 'lock' },
  { code: 'FF /0', mnemonic: 'inc', operands: 'Ev', reg: alu.incDecR, mem: alu.incDecM, op: 0, attrs: 'lock' },
  { code: 'FF /1', mnemonic: 'dec', operands: 'Ev', reg: alu.incDecR, mem: alu.incDecM, reg64: alu.dec64R, op: 1, attrs: 'lock' },
  { code: '69', mnemonic: 'imul', operands: 'Gv,Ev,Iz', reg: muldiv.imul3R, mem: muldiv.imul3M },
  { code: '6B', mnemonic: 'imul', operands: 'Gv,Ev,Ib', reg: muldiv.imul3R, mem: muldiv.imul3M },
  { code: '0F AF', mnemonic: 'imul', operands: 'Gv,Ev', reg: muldiv.imul2R, mem: muldiv.imul2M },

  // ---- shifts and rotates (group 2) and double shifts -------------------------------------------
  ...SHIFT_NAMES.flatMap((m, i): OpcodeRow[] => [
    { code: `C0 /${i}`, mnemonic: m, operands: 'Eb,Ib', reg: shift.shiftR, mem: shift.shiftM, op: i },
    { code: `C1 /${i}`, mnemonic: m, operands: 'Ev,Ib', reg: shift.shiftR, mem: shift.shiftM, op: i, ...(i === 4 ? { reg64: shift.shl64RI } : {}) },
    { code: `D0 /${i}`, mnemonic: m, operands: 'Eb,1', reg: shift.shiftR, mem: shift.shiftM, op: i },
    { code: `D1 /${i}`, mnemonic: m, operands: 'Ev,1', reg: shift.shiftR, mem: shift.shiftM, op: i },
    { code: `D2 /${i}`, mnemonic: m, operands: 'Eb,CL', reg: shift.shiftR, mem: shift.shiftM, op: i + shift.COUNT_CL },
    { code: `D3 /${i}`, mnemonic: m, operands: 'Ev,CL', reg: shift.shiftR, mem: shift.shiftM, op: i + shift.COUNT_CL },
  ]),
  { code: '0F A4', mnemonic: 'shld', operands: 'Ev,Gv,Ib', reg: shift.doubleShiftR, mem: shift.doubleShiftM, op: 0 },
  { code: '0F A5', mnemonic: 'shld', operands: 'Ev,Gv,CL', reg: shift.doubleShiftR, mem: shift.doubleShiftM, op: 2 },
  { code: '0F AC', mnemonic: 'shrd', operands: 'Ev,Gv,Ib', reg: shift.doubleShiftR, mem: shift.doubleShiftM, op: 1 },
  { code: '0F AD', mnemonic: 'shrd', operands: 'Ev,Gv,CL', reg: shift.doubleShiftR, mem: shift.doubleShiftM, op: 3 },

  // ---- bit instructions ---------------------------------------------------------------------------
  { code: '0F A3', mnemonic: 'bt', operands: 'Ev,Gv', reg: bits.btRR, mem: bits.btMR, op: 0 },
  { code: '0F AB', mnemonic: 'bts', operands: 'Ev,Gv', reg: bits.btRR, mem: bits.btMR, op: 1, attrs: 'lock' },
  { code: '0F B3', mnemonic: 'btr', operands: 'Ev,Gv', reg: bits.btRR, mem: bits.btMR, op: 2, attrs: 'lock' },
  { code: '0F BB', mnemonic: 'btc', operands: 'Ev,Gv', reg: bits.btRR, mem: bits.btMR, op: 3, attrs: 'lock' },
  { code: '0F BA /4', mnemonic: 'bt', operands: 'Ev,Ib', reg: bits.btRI, mem: bits.btMI, op: 0 },
  { code: '0F BA /5', mnemonic: 'bts', operands: 'Ev,Ib', reg: bits.btRI, mem: bits.btMI, op: 1, attrs: 'lock' },
  { code: '0F BA /6', mnemonic: 'btr', operands: 'Ev,Ib', reg: bits.btRI, mem: bits.btMI, op: 2, attrs: 'lock' },
  { code: '0F BA /7', mnemonic: 'btc', operands: 'Ev,Ib', reg: bits.btRI, mem: bits.btMI, op: 3, attrs: 'lock' },
  { code: 'F3 0F BC', mnemonic: 'tzcnt', operands: 'Gv,Ev', reg: bits.scanR, mem: bits.scanM, op: bits.Scan.TZCNT },
  { code: 'F3 0F BD', mnemonic: 'lzcnt', operands: 'Gv,Ev', reg: bits.scanR, mem: bits.scanM, op: bits.Scan.LZCNT },
  { code: 'F3 0F B8', mnemonic: 'popcnt', operands: 'Gv,Ev', reg: bits.scanR, mem: bits.scanM, op: bits.Scan.POPCNT },
  { code: '0F BC', mnemonic: 'bsf', operands: 'Gv,Ev', reg: bits.scanR, mem: bits.scanM, op: bits.Scan.BSF },
  { code: '0F BD', mnemonic: 'bsr', operands: 'Gv,Ev', reg: bits.scanR, mem: bits.scanM, op: bits.Scan.BSR },

  // ---- data movement ------------------------------------------------------------------------------
  { code: '88', mnemonic: 'mov', operands: 'Eb,Gb', reg: move.movRR, mem: move.movMR },
  { code: '89', mnemonic: 'mov', operands: 'Ev,Gv', reg: move.movRR, mem: move.movMR, reg64: move.mov64RR, mem64: move.mov64MR },
  { code: '8A', mnemonic: 'mov', operands: 'Gb,Eb', reg: move.movRR, mem: move.movRM },
  { code: '8B', mnemonic: 'mov', operands: 'Gv,Ev', reg: move.movRR, mem: move.movRM, reg64: move.mov64RR, mem64: move.mov64RM },
  { code: 'A0', mnemonic: 'mov', operands: 'AL,Ob', mem: move.movRM },
  { code: 'A1', mnemonic: 'mov', operands: 'rAX,Ov', mem: move.movRM },
  { code: 'A2', mnemonic: 'mov', operands: 'Ob,AL', mem: move.movMR },
  { code: 'A3', mnemonic: 'mov', operands: 'Ov,rAX', mem: move.movMR },
  { code: 'B0+r', mnemonic: 'mov', operands: 'Zb,Ib', reg: move.movRI },
  { code: 'B8+r', mnemonic: 'mov', operands: 'Zv,Iv', reg: move.movRI },
  { code: 'C6 /0', mnemonic: 'mov', operands: 'Eb,Ib', reg: move.movRI, mem: move.movMI },
  { code: 'C7 /0', mnemonic: 'mov', operands: 'Ev,Iz', reg: move.movRI, mem: move.movMI },
  { code: '0F B6', mnemonic: 'movzx', operands: 'Gv,Eb', reg: move.extendR, mem: move.extendM, op: 1 },
  { code: '0F B7', mnemonic: 'movzx', operands: 'Gv,Ew', reg: move.extendR, mem: move.extendM, op: 2 },
  { code: '0F BE', mnemonic: 'movsx', operands: 'Gv,Eb', reg: move.extendR, mem: move.extendM, op: 16 + 1 },
  { code: '0F BF', mnemonic: 'movsx', operands: 'Gv,Ew', reg: move.extendR, mem: move.extendM, op: 16 + 2 },
  { code: '63', mnemonic: 'movsxd', operands: 'Gv,Ed', reg: move.extendR, mem: move.extendM, op: 16 + 4 },
  { code: '8D', mnemonic: 'lea', operands: 'Gv,M', mem: move.lea },
  { code: '86', mnemonic: 'xchg', operands: 'Eb,Gb', reg: move.xchgRR, mem: move.xchgMR, attrs: 'lock' },
  { code: '87', mnemonic: 'xchg', operands: 'Ev,Gv', reg: move.xchgRR, mem: move.xchgMR, attrs: 'lock' },
  { code: '90', mnemonic: 'nop', operands: '', reg: sys.nop, attrs: 'norexb' }, // 90 without REX.B is NOP, not XCHG eAX,eAX
  { code: '90+r', mnemonic: 'xchg', operands: 'Zv,rAX', reg: move.xchgRR },
  { code: '0F C0', mnemonic: 'xadd', operands: 'Eb,Gb', reg: move.xaddRR, mem: move.xaddMR, attrs: 'lock' },
  { code: '0F C1', mnemonic: 'xadd', operands: 'Ev,Gv', reg: move.xaddRR, mem: move.xaddMR, attrs: 'lock' },
  { code: '0F B0', mnemonic: 'cmpxchg', operands: 'Eb,Gb', reg: move.cmpxchgRR, mem: move.cmpxchgMR, attrs: 'lock' },
  { code: '0F B1', mnemonic: 'cmpxchg', operands: 'Ev,Gv', reg: move.cmpxchgRR, mem: move.cmpxchgMR, attrs: 'lock' },
  { code: '0F C7 /1 m', mnemonic: 'cmpxchg8b', operands: 'M', mem: move.cmpxchg8b16b, attrs: 'lock' },
  { code: '0F C8+r', mnemonic: 'bswap', operands: 'Zv', reg: move.bswap },
  ...COND.map((cc, i): OpcodeRow => ({ code: `0F ${hex2(0x90 + i)}`, mnemonic: `set${cc}`, operands: 'Eb', reg: move.setccR, mem: move.setccM, op: i })),
  ...COND.map((cc, i): OpcodeRow => ({ code: `0F ${hex2(0x40 + i)}`, mnemonic: `cmov${cc}`, operands: 'Gv,Ev', reg: move.cmovR, mem: move.cmovM, op: i })),
  { code: '98', mnemonic: 'cbw', operands: '', reg: move.cbw },
  { code: '99', mnemonic: 'cwd', operands: '', reg: move.cwd },
  { code: '9E', mnemonic: 'sahf', operands: '', reg: move.sahf },
  { code: 'D7', mnemonic: 'xlatb', operands: '', reg: move.xlat },
  { code: '9F', mnemonic: 'lahf', operands: '', reg: move.lahf },

  // ---- stack ----------------------------------------------------------------------------------------
  { code: '50+r', mnemonic: 'push', operands: 'Zv', reg: stack.pushR, attrs: 'd64' },
  { code: '58+r', mnemonic: 'pop', operands: 'Zv', reg: stack.popR, attrs: 'd64' },
  { code: '68', mnemonic: 'push', operands: 'Iz', reg: stack.pushI, attrs: 'd64' },
  { code: '6A', mnemonic: 'push', operands: 'Ib', reg: stack.pushI, attrs: 'd64' },
  { code: 'FF /6', mnemonic: 'push', operands: 'Ev', reg: stack.pushR, mem: stack.pushM, attrs: 'd64' },
  { code: '8F /0', mnemonic: 'pop', operands: 'Ev', reg: stack.popR, mem: stack.popM, attrs: 'd64' },
  { code: '9C', mnemonic: 'pushf', operands: '', reg: stack.pushf, attrs: 'd64' },
  { code: '9D', mnemonic: 'popf', operands: '', reg: stack.popf, attrs: 'd64 end' },
  { code: 'C8', mnemonic: 'enter', operands: 'Iw,Ib', reg: stack.enter, attrs: 'd64' },
  { code: 'C9', mnemonic: 'leave', operands: '', reg: stack.leave, attrs: 'd64' },

  // ---- control flow -------------------------------------------------------------------------------
  ...COND.map((cc, i): OpcodeRow => ({ code: hex2(0x70 + i), mnemonic: `j${cc}`, operands: 'Jb', reg: i === 5 ? branch.jnz : branch.jcc, op: i, attrs: 'f64 end' })),
  ...COND.map((cc, i): OpcodeRow => ({ code: `0F ${hex2(0x80 + i)}`, mnemonic: `j${cc}`, operands: 'Jz', reg: i === 5 ? branch.jnz : branch.jcc, op: i, attrs: 'f64 end' })),
  { code: 'EB', mnemonic: 'jmp', operands: 'Jb', reg: branch.jmpRel, attrs: 'f64 end' },
  { code: 'E9', mnemonic: 'jmp', operands: 'Jz', reg: branch.jmpRel, attrs: 'f64 end' },
  { code: 'FF /4', mnemonic: 'jmp', operands: 'Eq', reg: branch.jmpR, mem: branch.jmpM, attrs: 'f64 end' },
  { code: 'E8', mnemonic: 'call', operands: 'Jz', reg: branch.callRel, attrs: 'f64 end' },
  { code: 'FF /2', mnemonic: 'call', operands: 'Eq', reg: branch.callR, mem: branch.callM, attrs: 'f64 end' },
  { code: 'C3', mnemonic: 'ret', operands: '', reg: branch.ret, attrs: 'f64 end' },
  { code: 'C2', mnemonic: 'ret', operands: 'Iw', reg: branch.ret, attrs: 'f64 end' },
  { code: 'E3', mnemonic: 'jrcxz', operands: 'Jb', reg: branch.jrcxz, attrs: 'f64 end' },
  { code: 'E2', mnemonic: 'loop', operands: 'Jb', reg: branch.loop, op: 2, attrs: 'f64 end' },
  { code: 'E1', mnemonic: 'loope', operands: 'Jb', reg: branch.loop, op: 1, attrs: 'f64 end' },
  { code: 'E0', mnemonic: 'loopne', operands: 'Jb', reg: branch.loop, op: 0, attrs: 'f64 end' },

  // ---- strings --------------------------------------------------------------------------------------
  { code: 'A4', mnemonic: 'movsb', operands: 'Yb,Xb', reg: str.stringOp, op: str.Str.MOVS, attrs: 'rep' },
  { code: 'A5', mnemonic: 'movs', operands: 'Yv,Xv', reg: str.stringOp, op: str.Str.MOVS, attrs: 'rep' },
  { code: 'AA', mnemonic: 'stosb', operands: 'Yb,AL', reg: str.stringOp, op: str.Str.STOS, attrs: 'rep' },
  { code: 'AB', mnemonic: 'stos', operands: 'Yv,rAX', reg: str.stringOp, op: str.Str.STOS, attrs: 'rep' },
  { code: 'AC', mnemonic: 'lodsb', operands: 'AL,Xb', reg: str.stringOp, op: str.Str.LODS, attrs: 'rep' },
  { code: 'AD', mnemonic: 'lods', operands: 'rAX,Xv', reg: str.stringOp, op: str.Str.LODS, attrs: 'rep' },
  { code: 'A6', mnemonic: 'cmpsb', operands: 'Xb,Yb', reg: str.stringOp, op: str.Str.CMPS, attrs: 'rep' },
  { code: 'A7', mnemonic: 'cmps', operands: 'Xv,Yv', reg: str.stringOp, op: str.Str.CMPS, attrs: 'rep' },
  { code: 'AE', mnemonic: 'scasb', operands: 'AL,Yb', reg: str.stringOp, op: str.Str.SCAS, attrs: 'rep' },
  { code: 'AF', mnemonic: 'scas', operands: 'rAX,Yv', reg: str.stringOp, op: str.Str.SCAS, attrs: 'rep' },

  // ---- flags, misc, system ----------------------------------------------------------------------------
  { code: 'F8', mnemonic: 'clc', operands: '', reg: sys.flagOp, op: 0 },
  { code: 'F9', mnemonic: 'stc', operands: '', reg: sys.flagOp, op: 1 },
  { code: 'F5', mnemonic: 'cmc', operands: '', reg: sys.flagOp, op: 2 },
  { code: 'FC', mnemonic: 'cld', operands: '', reg: sys.flagOp, op: 3 },
  { code: 'FD', mnemonic: 'std', operands: '', reg: sys.flagOp, op: 4 },
  { code: '0F 1F /0', mnemonic: 'nop', operands: 'Ev', reg: sys.nop, mem: sys.nop },
  // Hints with no architectural effect here (no caches, one CPU, no CET): executed as NOPs.
  { code: '0F 18 /0 m', mnemonic: 'prefetchnta', operands: 'M', mem: sys.nop },
  { code: '0F 18 /1 m', mnemonic: 'prefetcht0', operands: 'M', mem: sys.nop },
  { code: '0F 18 /2 m', mnemonic: 'prefetcht1', operands: 'M', mem: sys.nop },
  { code: '0F 18 /3 m', mnemonic: 'prefetcht2', operands: 'M', mem: sys.nop },
  { code: 'F3 0F 1E FA', mnemonic: 'endbr64', operands: '', reg: sys.nop },
  { code: '0F AE E8', mnemonic: 'lfence', operands: '', reg: sys.nop, attrs: 'no66' },
  { code: '0F AE F0', mnemonic: 'mfence', operands: '', reg: sys.nop, attrs: 'no66' },
  { code: '0F AE F8', mnemonic: 'sfence', operands: '', reg: sys.nop, attrs: 'no66' },
  { code: 'F4', mnemonic: 'hlt', operands: '', reg: sys.hlt, attrs: 'end' },
  { code: 'CC', mnemonic: 'int3', operands: '', reg: sys.int3, attrs: 'end' },
  { code: '0F 0B', mnemonic: 'ud2', operands: '', reg: sys.ud2, attrs: 'end' },
  { code: '0F A2', mnemonic: 'cpuid', operands: '', reg: sys.cpuidInsn },
  { code: '0F 31', mnemonic: 'rdtsc', operands: '', reg: sys.rdtsc },
  { code: '0F 05', mnemonic: 'syscall', operands: '', reg: sys.syscall, attrs: 'end' },
  { code: '0F 20', mnemonic: 'mov', operands: 'Rq,Cq', reg: sys.movFromCr },
  { code: '0F 22', mnemonic: 'mov', operands: 'Cq,Rq', reg: sys.movToCr, attrs: 'end' },
  { code: '0F 01 /7 m', mnemonic: 'invlpg', operands: 'M', mem: sys.invlpg, attrs: 'end' },
  { code: '0F 32', mnemonic: 'rdmsr', operands: '', reg: sys.rdmsr },
  { code: '0F 30', mnemonic: 'wrmsr', operands: '', reg: sys.wrmsr, attrs: 'end' },

  // ---- privileged, I/O and descriptor tables (privileged.ts; #GP(0) at CPL 3 unless noted) ---------
  { code: 'FA', mnemonic: 'cli', operands: '', reg: priv.cliSti, op: 0 },
  { code: 'FB', mnemonic: 'sti', operands: '', reg: priv.cliSti, op: 1 },
  { code: 'E4', mnemonic: 'in', operands: 'AL,Ib', reg: priv.inPort, op: 0 },
  { code: 'E5', mnemonic: 'in', operands: 'rAX,Ib', reg: priv.inPort, op: 0 },
  { code: 'EC', mnemonic: 'in', operands: 'AL', reg: priv.inPort, op: 1 }, // port in DX
  { code: 'ED', mnemonic: 'in', operands: 'rAX', reg: priv.inPort, op: 1 },
  { code: 'E6', mnemonic: 'out', operands: 'Ib,AL', reg: priv.outPort, op: 0 },
  { code: 'E7', mnemonic: 'out', operands: 'Ib,rAX', reg: priv.outPort, op: 0 },
  { code: 'EE', mnemonic: 'out', operands: 'AL', reg: priv.outPort, op: 1 },
  { code: 'EF', mnemonic: 'out', operands: 'rAX', reg: priv.outPort, op: 1 },
  { code: '6C', mnemonic: 'insb', operands: 'Yb', reg: str.portString, op: 0, attrs: 'rep' },
  { code: '6D', mnemonic: 'ins', operands: 'Yz', reg: str.portString, op: 0, attrs: 'rep' },
  { code: '6E', mnemonic: 'outsb', operands: 'Xb', reg: str.portString, op: 1, attrs: 'rep' },
  { code: '6F', mnemonic: 'outs', operands: 'Xz', reg: str.portString, op: 1, attrs: 'rep' },
  { code: 'CD', mnemonic: 'int', operands: 'Ib', reg: priv.intN, attrs: 'end' }, // #GP(n*8+2) unless the gate has DPL 3
  { code: 'CF', mnemonic: 'iret', operands: '', reg: priv.iret, attrs: 'end' }, // allowed at CPL 3 (same-level return)
  { code: '0F 01 /0 m', mnemonic: 'sgdt', operands: 'M', mem: priv.storeTable, op: 0 }, // not privileged (no UMIP)
  { code: '0F 01 /1 m', mnemonic: 'sidt', operands: 'M', mem: priv.storeTable, op: 1 }, // not privileged (no UMIP)
  { code: '0F 01 /2 m', mnemonic: 'lgdt', operands: 'M', mem: priv.loadTable, op: 0 },
  { code: '0F 01 /3 m', mnemonic: 'lidt', operands: 'M', mem: priv.loadTable, op: 1 },
  { code: '0F 01 /4', mnemonic: 'smsw', operands: 'Ev', reg: priv.storeSystemWordR, mem: priv.storeSystemWordM, op: 4 }, // not privileged
  { code: '0F 01 /6', mnemonic: 'lmsw', operands: 'Ew', reg: priv.loadSystemWordR, mem: priv.loadSystemWordM, op: 6, attrs: 'end' },
  { code: '0F 00 /0', mnemonic: 'sldt', operands: 'Ev', reg: priv.storeSystemWordR, mem: priv.storeSystemWordM, op: 0 }, // not privileged
  { code: '0F 00 /1', mnemonic: 'str', operands: 'Ev', reg: priv.storeSystemWordR, mem: priv.storeSystemWordM, op: 1 }, // not privileged
  { code: '0F 00 /2', mnemonic: 'lldt', operands: 'Ew', reg: priv.loadSystemWordR, mem: priv.loadSystemWordM, op: 2 },
  { code: '0F 00 /3', mnemonic: 'ltr', operands: 'Ew', reg: priv.loadSystemWordR, mem: priv.loadSystemWordM, op: 3 },
  { code: '0F 06', mnemonic: 'clts', operands: '', reg: priv.clts, attrs: 'end' },
  { code: '0F 08', mnemonic: 'invd', operands: '', reg: priv.cacheInvalidate, op: 0 },
  { code: '0F 09', mnemonic: 'wbinvd', operands: '', reg: priv.cacheInvalidate, op: 1 },
  { code: '0F 21', mnemonic: 'mov', operands: 'Rq,Dq', reg: priv.movFromDr },
  { code: '0F 23', mnemonic: 'mov', operands: 'Dq,Rq', reg: priv.movToDr },
  { code: '0F 33', mnemonic: 'rdpmc', operands: '', reg: priv.rdpmc },
  { code: '0F 01 F8', mnemonic: 'swapgs', operands: '', reg: priv.swapgs },
  { code: '0F 07', mnemonic: 'sysret', operands: '', reg: priv.sysret, attrs: 'end' },
  { code: 'F2 0F 01 FE', mnemonic: 'rmpupdate', operands: '', reg: sys.snpInsn, op: sys.Snp.RMPUPDATE, attrs: 'end' },
  { code: 'F3 0F 01 FF', mnemonic: 'psmash', operands: '', reg: sys.snpInsn, op: sys.Snp.PSMASH, attrs: 'end' },
  { code: 'F2 0F 01 FD', mnemonic: 'rmpread', operands: '', reg: sys.snpInsn, op: sys.Snp.RMPREAD },
  { code: 'F2 0F 01 FF', mnemonic: 'pvalidate', operands: '', reg: sys.snpInsn, op: sys.Snp.PVALIDATE, attrs: 'end' },
  { code: 'F3 0F 01 FE', mnemonic: 'rmpadjust', operands: '', reg: sys.snpInsn, op: sys.Snp.RMPADJUST, attrs: 'end' },
];
