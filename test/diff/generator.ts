// Random instruction sequences over the core subset (issue 2) for differential testing.
//
// Every case is deterministic on real hardware: memory operands are set up (by MOVs emitted just
// before them) to point into the DATA page or, on purpose, somewhere that faults; RSP is tracked
// statically and never written by random instructions; control flow only skips forward, calls a
// function laid out inline, or loops a few times; flag consumers only read defined flags (flags.ts).
// What stays architecturally undefined is recorded per instruction start, so a comparison masks
// exactly the flags that are undefined where the case stopped.

import { encode, reg, type Insn, type MemOperand, type RegOperand, type RmOperand, type Size } from './encoder.ts';
import * as F from './flags.ts';
import { Rng } from './rng.ts';

export const CODE = 0x100000;
export const DATA = 0x200000;
export const PAGE = 4096;
const RSP = 4;
const RBP = 5;
const RCX = 1;
const RAX = 0;
const RDX = 2;
const RSI = 6;
const RDI = 7;
const CODE_BUDGET = 3000; // bytes of code per case; leaves room on the 4 KiB page

const GPR = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

/** A generated case: the snippet input record plus metadata the runners ignore. */
export interface GeneratedCase {
  id: string;
  code: string;
  regs: Record<string, string>;
  rflags: string;
  mem: string;
  /** Flags undefined when the case runs to its end. */
  flagsUndefinedAtEnd: number;
  /** Per instruction offset (decimal string): flags undefined just before it (for a fault there). */
  flagsUndefinedAt: Record<string, number>;
  /** Offsets of every generated instruction (for the iced-x86 length cross-check and reports). */
  starts: number[];
  /** Offsets that hold deliberately invalid encodings (iced reports them as invalid). */
  invalidAt: number[];
  /** The instruction families used, for coverage counts. */
  families: string[];
  /** Offsets where a shrunk case must not end (an environment-specific value is still live). */
  noCutAt: number[];
}

interface Mark {
  bytes: number;
  starts: number;
  undef: number;
  rsp: number;
  families: number;
  invalid: number;
  noCut: number;
}

class Builder {
  bytes: number[] = [];
  starts: number[] = [];
  undefAt = new Map<number, number>();
  invalidAt: number[] = [];
  noCutAt: number[] = [];
  undef = 0;
  rsp: number;
  /** Registers no random instruction may write (bit per GPR). RSP always. */
  reserved = 1 << RSP;
  /** Lowest RSP the current frame may pop up to (return addresses live at and above it). */
  frameTop: number;
  /** Byte ranges of the data page that must not be written (return addresses). */
  protectedRanges: [number, number][] = [];
  depth = 0;
  inLoop = false;
  families: string[] = [];
  done = false;

  constructor(readonly rng: Rng, rsp: number) {
    this.rsp = rsp;
    this.frameTop = DATA + PAGE - 8;
  }

  get ip(): number {
    return CODE + this.bytes.length;
  }

  mark(): Mark {
    return {
      bytes: this.bytes.length, starts: this.starts.length, undef: this.undef, rsp: this.rsp,
      families: this.families.length, invalid: this.invalidAt.length, noCut: this.noCutAt.length,
    };
  }

  rewind(m: Mark): void {
    this.bytes.length = m.bytes;
    this.starts.length = m.starts;
    for (const k of [...this.undefAt.keys()]) if (k >= m.bytes) this.undefAt.delete(k);
    this.undef = m.undef;
    this.rsp = m.rsp;
    this.families.length = m.families;
    this.invalidAt.length = m.invalid;
    this.noCutAt.length = m.noCut;
  }

  /** Append one instruction's bytes, recording the flag state before it. */
  raw(bytes: ArrayLike<number>, e: F.FlagEffect = F.NO_FLAGS): number {
    if (e.reads & this.undef) throw new Error(`generator bug: reads undefined ${F.flagNames(e.reads & this.undef)}`);
    const off = this.bytes.length;
    this.starts.push(off);
    this.undefAt.set(off, (this.undefAt.get(off) ?? 0) | this.undef);
    for (let i = 0; i < bytes.length; i++) this.bytes.push(bytes[i]!);
    this.undef = F.applyEffect(this.undef, e);
    return off;
  }

  emit(insn: Insn, e: F.FlagEffect = F.NO_FLAGS): number {
    if (insn.rm?.kind === 'mem' && this.rng.chance(0.06)) {
      // ES/CS/SS/DS overrides are ignored in 64-bit mode (AMD APM Vol.1 §4.5.3); FS/GS are not
      // generated, their bases differ between a Linux process and the snippet machine.
      const withSegment = { ...insn, prefixes: [this.rng.pick([0x26, 0x2e, 0x36, 0x3e]), ...(insn.prefixes ?? [])] };
      const bytes = encode(withSegment, this.ip);
      if (bytes.length <= 15) return this.raw(bytes, e);
    }
    return this.raw(encode(insn, this.ip), e);
  }

  /** Make sure `reads` are defined, emitting a CMP (which defines all six) if not. */
  ensure(reads: number): void {
    if ((reads & this.undef) === 0) return;
    const size = this.size();
    this.emit({ size, opcode: [size === 8 ? 0x38 : 0x39], regField: this.anyReg(), rm: reg(this.anyReg()), rm8: size === 8, reg8: size === 8 ? reg(this.anyReg8Low()) : undefined }, F.ARITH);
  }

  size(): Size {
    return this.rng.pick([8, 16, 32, 64, 32, 64] as const);
  }

  /** Any register as a source (RSP included: its value is known exactly). */
  anyReg(): number {
    return this.rng.int(16);
  }

  /** A register random instructions may write. */
  destReg(avoid = 0): number {
    for (;;) {
      const n = this.rng.int(16);
      if (((this.reserved | avoid) & (1 << n)) === 0) return n;
    }
  }

  /** An 8-bit register that needs no AH..BH care (AL..BL, SIL, DIL, R8B..R15B; never SPL/BPL). */
  anyReg8Low(): number {
    return this.rng.pick([0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  }

  destReg8(avoid = 0): number {
    for (;;) {
      const n = this.anyReg8Low();
      if (((this.reserved | avoid) & (1 << n)) === 0) return n;
    }
  }

  canWrite(n: number): boolean {
    return (this.reserved & (1 << n)) === 0;
  }

  /** mov r32, imm32 (zero-extends into the whole register). */
  setReg32(n: number, value: number): void {
    this.emit({ opcode: [0xb8], opcodeReg: reg(n), imm: [{ value: BigInt(value >>> 0), bytes: 4 }] });
  }

  /** mov r64, imm64. */
  setReg64(n: number, value: bigint): void {
    this.emit({ size: 64, opcode: [0xb8], opcodeReg: reg(n), imm: [{ value, bytes: 8 }] });
  }

  /** mov r64, simm32 (sign-extended). */
  setRegSigned(n: number, value: number): void {
    this.emit({ size: 64, opcode: [0xc7], regField: 0, rm: reg(n), imm: [{ value: BigInt(value), bytes: 4 }] });
  }

  overlapsProtected(lo: number, hi: number): boolean {
    return this.protectedRanges.some(([a, b]) => lo < b && a < hi);
  }

  /** A data-page address for an access of `bytes`, clear of protected bytes. */
  pickTarget(bytes: number, spread = 0): number {
    for (;;) {
      let off: number;
      if (this.rng.chance(0.6)) off = this.rng.int(256);
      else off = this.rng.int(PAGE);
      off = Math.max(spread, Math.min(off, PAGE - bytes - spread));
      if (this.rng.chance(0.75)) off &= ~(bytes - 1);
      const a = DATA + off;
      if (!this.overlapsProtected(a - spread, a + bytes + spread)) return a;
    }
  }

  /**
   * A memory operand whose effective address is `target`, after emitting the MOVs that set its
   * base and index registers. Returns the registers it used (bit mask) too.
   */
  mem(target: number, avoid = 0, allowRspBase = true): { op: MemOperand; used: number } {
    const rng = this.rng;
    const free = () => this.destReg(avoid);
    for (;;) {
      const form = rng.int(10);
      switch (form) {
        case 0:
          return { op: { kind: 'mem', disp: target }, used: 0 };
        case 1:
          return { op: { kind: 'mem', rip: true, disp: target }, used: 0 };
        case 2: {
          const b = free();
          this.setReg32(b, target);
          return { op: { kind: 'mem', base: b, disp: 0 }, used: 1 << b };
        }
        case 3: {
          const b = free();
          const d = rng.range(-128, 127);
          this.setReg32(b, target - d);
          return { op: { kind: 'mem', base: b, disp: d, disp32: rng.chance(0.2) }, used: 1 << b };
        }
        case 4: {
          const b = free();
          const d = rng.range(-0x10000, 0x10000);
          this.setReg32(b, target - d);
          return { op: { kind: 'mem', base: b, disp: d }, used: 1 << b };
        }
        case 5: {
          const b = free();
          let i = free();
          if (i === b) i = b === RAX ? RDX : RAX;
          if (!this.canWrite(i) || (avoid & (1 << i))) continue;
          const scale = rng.pick([1, 2, 4, 8] as const);
          const k = rng.range(-16, 16);
          const d = rng.range(-200, 200);
          this.setRegSigned(i, k);
          this.setReg32(b, target - k * scale - d);
          return { op: { kind: 'mem', base: b, index: i, scale, disp: d }, used: (1 << b) | (1 << i) };
        }
        case 6: {
          const i = free();
          const scale = rng.pick([1, 2, 4, 8] as const);
          const k = rng.range(0, 64);
          this.setReg32(i, k);
          return { op: { kind: 'mem', index: i, scale, disp: target - k * scale }, used: 1 << i };
        }
        case 7: {
          // 32-bit address size: garbage in the upper halves is dropped (AMD APM Vol.1 §2.2.4).
          const b = free();
          const d = rng.range(-128, 127);
          this.setReg64(b, (BigInt(rng.u32()) << 32n) | BigInt((target - d) >>> 0));
          const withIndex = rng.chance(0.5);
          if (withIndex) {
            const i = free();
            if (i === b) continue;
            this.setReg64(i, BigInt(rng.u32()) << 32n);
            return { op: { kind: 'mem', base: b, index: i, scale: rng.pick([1, 2, 4, 8] as const), disp: d, addr32: true }, used: (1 << b) | (1 << i) };
          }
          return { op: { kind: 'mem', base: b, disp: d, addr32: true }, used: 1 << b };
        }
        case 8:
          if (!allowRspBase) continue;
          return { op: { kind: 'mem', base: RSP, disp: target - this.rsp }, used: 0 };
        default: {
          // RBP as a base (an SS-relative form in legacy modes; plain in 64-bit mode).
          if (!this.canWrite(RBP) || (avoid & (1 << RBP))) continue;
          const d = rng.range(-128, 127);
          this.setReg32(RBP, target - d);
          return { op: { kind: 'mem', base: RBP, disp: d }, used: 1 << RBP };
        }
      }
    }
  }

  /** A register or (with probability pMem) a data-page memory operand of `size`. */
  rm(size: Size, pMem: number, avoid = 0): { op: RmOperand; used: number } {
    if (this.rng.chance(pMem)) {
      return this.mem(this.pickTarget(size / 8), avoid);
    }
    const n = size === 8 ? this.destReg8(avoid) : this.destReg(avoid);
    return { op: reg(n), used: 1 << n };
  }

  /** Bytes of stack the current frame can still push. */
  stackRoom(): number {
    return this.rsp - (DATA + 16);
  }
}

function imm(value: bigint | number, bytes: number) {
  return { value: BigInt(value), bytes };
}

function immForSize(size: Size, rng: Rng): { value: bigint; bytes: number } {
  const bytes = size === 8 ? 1 : size === 16 ? 2 : 4;
  return imm(rng.interesting64(), bytes);
}

// ---------------------------------------------------------------------------------------------
// Instruction families. Each emits one instruction (plus any set-up MOVs) or a small construct.

type Family = (b: Builder) => void;

const aluBinary: Family = (b) => {
  const { rng } = b;
  const op = rng.int(8); // ADD OR ADC SBB AND SUB XOR CMP (the /digit and opcode row)
  const size = b.size();
  const e = op === 2 || op === 3 ? F.ARITH_WITH_CARRY : op === 1 || op === 4 || op === 6 ? F.LOGIC : F.ARITH;
  b.ensure(e.reads);
  const w = size === 8 ? 0 : 1;
  const form = rng.int(4);
  if (form === 3) {
    b.emit({ size, opcode: [op * 8 + 4 + w], imm: [immForSize(size, rng)] }, e);
    return;
  }
  const { op: rmOp, used } = b.rm(size, 0.4);
  const lock = rmOp.kind === 'mem' && op !== 7 && form !== 1 && rng.chance(0.25) ? [0xf0] : [];
  if (form === 2) {
    if (size !== 8 && rng.chance(0.5)) {
      b.emit({ prefixes: lock, size, opcode: [0x83], regField: op, rm: rmOp, imm: [imm(rng.interesting64(), 1)] }, e);
    } else {
      b.emit({ prefixes: lock, size, opcode: [size === 8 ? 0x80 : 0x81], regField: op, rm: rmOp, rm8: size === 8, imm: [immForSize(size, rng)] }, e);
    }
    return;
  }
  const other = size === 8 ? reg(b.anyReg8Low()) : reg(rmOp.kind === 'reg' ? b.anyReg() : b.destReg(used));
  if (form === 0) {
    // op r/m, r
    b.emit({ prefixes: lock, size, opcode: [op * 8 + w], regField: other.n, reg8: size === 8 ? other : undefined, rm: rmOp, rm8: size === 8 }, e);
  } else {
    // op r, r/m: the destination is the reg field
    const dest = size === 8 ? reg(b.destReg8(used)) : reg(b.destReg(used));
    b.emit({ size, opcode: [op * 8 + 2 + w], regField: dest.n, reg8: size === 8 ? dest : undefined, rm: rmOp, rm8: size === 8 }, e);
  }
};

/** 8-bit ALU between legacy byte registers, including AH..BH (no REX). */
const aluHighBytes: Family = (b) => {
  const { rng } = b;
  const op = rng.int(8);
  const e = op === 2 || op === 3 ? F.ARITH_WITH_CARRY : op === 1 || op === 4 || op === 6 ? F.LOGIC : F.ARITH;
  b.ensure(e.reads);
  // AL CL DL BL AH CH DH BH: without REX, encodings 4-7 name AH..BH (the upper byte of RAX..RBX).
  const pickLegacy = (write: boolean): RegOperand => {
    for (;;) {
      const n = rng.int(8);
      if (write && !b.canWrite(n & 3)) continue;
      return n >= 4 ? reg(n, true) : reg(n);
    }
  };
  const dst = pickLegacy(op !== 7);
  const src = pickLegacy(false);
  b.emit({ opcode: [op * 8], reg8: src, rm: dst, rm8: true }, e);
};

const testFamily: Family = (b) => {
  const { rng } = b;
  const size = b.size();
  const w = size === 8 ? 0 : 1;
  const form = rng.int(3);
  if (form === 0) {
    b.emit({ size, opcode: [0xa8 + w], imm: [immForSize(size, rng)] }, F.LOGIC);
  } else {
    const { op: rmOp } = b.rm(size, 0.4, 0);
    if (form === 1) {
      const r = size === 8 ? reg(b.anyReg8Low()) : reg(b.anyReg());
      b.emit({ size, opcode: [0x84 + w], regField: r.n, reg8: size === 8 ? r : undefined, rm: rmOp, rm8: size === 8 }, F.LOGIC);
    } else {
      b.emit({ size, opcode: [0xf6 + w], regField: 0, rm: rmOp, rm8: size === 8, imm: [immForSize(size, rng)] }, F.LOGIC);
    }
  }
};

const unary: Family = (b) => {
  const { rng } = b;
  const size = b.size();
  const w = size === 8 ? 0 : 1;
  const { op: rmOp } = b.rm(size, 0.35);
  const lock = rmOp.kind === 'mem' && rng.chance(0.25) ? [0xf0] : [];
  switch (rng.int(4)) {
    case 0:
      b.emit({ prefixes: lock, size, opcode: [0xfe + w], regField: 0, rm: rmOp, rm8: size === 8 }, F.INC_DEC);
      break;
    case 1:
      b.emit({ prefixes: lock, size, opcode: [0xfe + w], regField: 1, rm: rmOp, rm8: size === 8 }, F.INC_DEC);
      break;
    case 2:
      b.emit({ prefixes: lock, size, opcode: [0xf6 + w], regField: 2, rm: rmOp, rm8: size === 8 }, F.NO_FLAGS);
      break;
    default:
      b.emit({ prefixes: lock, size, opcode: [0xf6 + w], regField: 3, rm: rmOp, rm8: size === 8 }, F.ARITH);
  }
};

const IMPLICIT_AX_DX = (1 << RAX) | (1 << RDX);

const multiply: Family = (b) => {
  const { rng } = b;
  if (!b.canWrite(RAX) || !b.canWrite(RDX)) return;
  const form = rng.int(3);
  if (form === 0) {
    const size = b.size();
    const { op: rmOp } = b.rm(size, 0.3, IMPLICIT_AX_DX);
    b.emit({ size, opcode: [size === 8 ? 0xf6 : 0xf7], regField: rng.pick([4, 5]), rm: rmOp, rm8: size === 8 }, F.MULTIPLY);
    return;
  }
  const size = rng.pick([16, 32, 64] as const);
  const { op: rmOp, used } = b.rm(size, 0.3, 0);
  const dest = b.destReg(used);
  if (form === 1) {
    b.emit({ size, opcode: [0x0f, 0xaf], regField: dest, rm: rmOp }, F.MULTIPLY);
  } else if (rng.chance(0.5)) {
    b.emit({ size, opcode: [0x6b], regField: dest, rm: rmOp, imm: [imm(rng.interesting64(), 1)] }, F.MULTIPLY);
  } else {
    b.emit({ size, opcode: [0x69], regField: dest, rm: rmOp, imm: [immForSize(size, rng)] }, F.MULTIPLY);
  }
};

const divide: Family = (b) => {
  const { rng } = b;
  if (!b.canWrite(RAX) || !b.canWrite(RDX)) return;
  const size = b.size();
  const signed = rng.chance(0.5);
  // Make the quotient fit most of the time (otherwise #DE, which is tested too).
  switch (rng.chance(0.15) ? 2 : signed ? rng.pick([0, 1, 1]) : 0) {
    case 0: // zero the upper half of the dividend
      if (size === 8) b.emit({ opcode: [0xb4], imm: [imm(0, 1)] }); // mov ah, 0
      else if (size === 16) b.emit({ size: 16, opcode: [0xba], imm: [imm(0, 2)] }); // mov dx, 0
      else b.setReg32(RDX, 0);
      break;
    case 1: // sign-extend: CBW / CWD / CDQ / CQO
      if (size === 8) b.emit({ size: 16, opcode: [0x98] });
      else b.emit({ size, opcode: [0x99] });
      break;
    default:
      break;
  }
  const { op: rmOp } = b.rm(size, 0.3, IMPLICIT_AX_DX);
  b.emit({ size, opcode: [size === 8 ? 0xf6 : 0xf7], regField: signed ? 7 : 6, rm: rmOp, rm8: size === 8 }, F.DIVIDE);
};

const SHIFT_COUNTS = [0, 1, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255];

const shiftRotate: Family = (b) => {
  const { rng } = b;
  const size = b.size();
  const w = size === 8 ? 0 : 1;
  const op = rng.pick([0, 1, 2, 3, 4, 5, 7]);
  const form = rng.int(3); // 0: by 1, 1: by CL, 2: by imm8
  if (form === 1 && !b.canWrite(RCX)) return;
  const count = form === 0 ? 1 : rng.chance(0.8) ? rng.pick(SHIFT_COUNTS) : rng.int(256);
  const masked = count & (size === 64 ? 63 : 31);
  const e = op <= 1 ? F.rotateEffect(masked) : op <= 3 ? F.rotateCarryEffect(masked) : F.shiftEffect(masked, size);
  b.ensure(e.reads);
  if (form === 1) b.emit({ opcode: [0xb1], imm: [imm(count, 1)] }); // mov cl, imm8 (upper RCX bits stay)
  const { op: rmOp } = b.rm(size, 0.3, form === 1 ? 1 << RCX : 0);
  if (form === 0) b.emit({ size, opcode: [0xd0 + w], regField: op, rm: rmOp, rm8: size === 8 }, e);
  else if (form === 1) b.emit({ size, opcode: [0xd2 + w], regField: op, rm: rmOp, rm8: size === 8 }, e);
  else b.emit({ size, opcode: [0xc0 + w], regField: op, rm: rmOp, rm8: size === 8, imm: [imm(count, 1)] }, e);
};

const doubleShift: Family = (b) => {
  const { rng } = b;
  const size = rng.pick([16, 32, 64] as const);
  const byCl = rng.chance(0.5);
  if (byCl && !b.canWrite(RCX)) return;
  let count: number;
  do count = rng.chance(0.7) ? rng.pick(SHIFT_COUNTS) : rng.int(256);
  while (size === 16 && (count & 31) > 16); // a count above the operand size is undefined (SDM SHLD)
  const masked = count & (size === 64 ? 63 : 31);
  const left = rng.chance(0.5);
  if (byCl) b.emit({ opcode: [0xb1], imm: [imm(count, 1)] });
  const { op: rmOp, used } = b.rm(size, 0.3, byCl ? 1 << RCX : 0);
  const src = rmOp.kind === 'reg' ? b.anyReg() : b.destReg(used);
  const opcode = [0x0f, (left ? 0xa4 : 0xac) + (byCl ? 1 : 0)];
  b.emit({ size, opcode, regField: src, rm: rmOp, imm: byCl ? [] : [imm(count, 1)] }, F.doubleShiftEffect(masked));
};

const bitTest: Family = (b) => {
  const { rng } = b;
  const size = rng.pick([16, 32, 64] as const);
  const op = rng.int(4); // BT BTS BTR BTC
  const form = rng.int(3);
  if (form === 0) {
    // register destination, register offset (taken modulo the operand size)
    const dst = op === 0 ? b.anyReg() : b.destReg();
    b.emit({ size, opcode: [0x0f, 0xa3 + op * 8], regField: b.anyReg(), rm: reg(dst) }, F.BIT_TEST);
  } else if (form === 1) {
    const { op: rmOp } = b.rm(size, 0.4);
    const lock = rmOp.kind === 'mem' && op !== 0 && rng.chance(0.3) ? [0xf0] : [];
    b.emit({ prefixes: lock, size, opcode: [0x0f, 0xba], regField: 4 + op, rm: rmOp, imm: [imm(rng.int(256), 1)] }, F.BIT_TEST);
  } else {
    // memory bit string: the signed register offset selects a word away from the operand address
    const bits = size;
    const bytes = size / 8;
    const offReg = b.destReg((1 << RBP));
    const bitOffset = rng.range(-256 * 8, 256 * 8);
    const accessed = b.pickTarget(bytes, 0);
    const word = Math.floor(bitOffset / bits);
    const ea = accessed - word * bytes;
    if (ea < DATA - 0x1000 || ea > DATA + 0x2000) return;
    b.setRegSigned(offReg, bitOffset);
    const { op: m } = b.mem(ea, 1 << offReg);
    const lock = op !== 0 && rng.chance(0.3) ? [0xf0] : [];
    b.emit({ prefixes: lock, size, opcode: [0x0f, 0xa3 + op * 8], regField: offReg, rm: m }, F.BIT_TEST);
  }
};

const bitScan: Family = (b) => {
  const { rng } = b;
  const size = rng.pick([16, 32, 64] as const);
  const kind = rng.int(5);
  const { op: rmOp, used } = b.rm(size, 0.3, 0);
  if (rmOp.kind === 'reg' && rng.chance(0.15)) b.setReg32(rmOp.n, 0); // a zero source
  const dest = b.destReg(used);
  const table: [number[], number[], F.FlagEffect][] = [
    [[], [0x0f, 0xbc], F.BIT_SCAN], // BSF
    [[], [0x0f, 0xbd], F.BIT_SCAN], // BSR
    [[0xf3], [0x0f, 0xbc], F.COUNT_ZEROS], // TZCNT
    [[0xf3], [0x0f, 0xbd], F.COUNT_ZEROS], // LZCNT
    [[0xf3], [0x0f, 0xb8], F.POPCNT], // POPCNT
  ];
  const [prefixes, opcode, e] = table[kind]!;
  b.emit({ prefixes, size, opcode, regField: dest, rm: rmOp }, e);
};

const moveExtend: Family = (b) => {
  const { rng } = b;
  const kind = rng.int(5);
  if (kind === 4) {
    const { op: rmOp, used } = b.rm(32, 0.4, 0);
    b.emit({ size: 64, opcode: [0x63], regField: b.destReg(used), rm: rmOp }); // MOVSXD
    return;
  }
  const srcSize: Size = kind & 1 ? 16 : 8;
  const size = srcSize === 8 ? rng.pick([16, 32, 64] as const) : rng.pick([32, 64] as const);
  const { op: rmOp, used } = b.rm(srcSize, 0.4, 0);
  const opcode = [0x0f, (kind < 2 ? 0xb6 : 0xbe) + (srcSize === 16 ? 1 : 0)];
  b.emit({ size, opcode, regField: b.destReg(used), rm: rmOp, rm8: srcSize === 8 });
};

const conditional: Family = (b) => {
  const { rng } = b;
  const cc = rng.int(16);
  b.ensure(F.conditionReads(cc));
  const reads = { defines: 0, undefines: 0, reads: F.conditionReads(cc) };
  if (rng.chance(0.5)) {
    const size = rng.pick([16, 32, 64] as const);
    const { op: rmOp, used } = b.rm(size, 0.3, 0);
    b.emit({ size, opcode: [0x0f, 0x40 + cc], regField: b.destReg(used), rm: rmOp }, reads);
  } else {
    const { op: rmOp } = b.rm(8, 0.3);
    b.emit({ opcode: [0x0f, 0x90 + cc], regField: 0, rm: rmOp, rm8: true }, reads);
  }
};

const exchange: Family = (b) => {
  const { rng } = b;
  const kind = rng.int(6);
  const size = b.size();
  const w = size === 8 ? 0 : 1;
  if (kind === 0) {
    // XCHG r/m, r (a memory form locks implicitly)
    const { op: rmOp, used } = b.rm(size, 0.4);
    const r = size === 8 ? reg(b.destReg8(used)) : reg(b.destReg(used));
    b.emit({ size, opcode: [0x86 + w], regField: r.n, reg8: size === 8 ? r : undefined, rm: rmOp, rm8: size === 8 });
  } else if (kind === 1) {
    if (size === 8 || !b.canWrite(RAX)) return;
    b.emit({ size, opcode: [0x90], opcodeReg: reg(b.destReg()) }); // XCHG rAX, r (90 alone is NOP)
  } else if (kind === 2) {
    const { op: rmOp, used } = b.rm(size, 0.4);
    const r = size === 8 ? reg(b.destReg8(used)) : reg(b.destReg(used));
    const lock = rmOp.kind === 'mem' && rng.chance(0.3) ? [0xf0] : [];
    b.emit({ prefixes: lock, size, opcode: [0x0f, 0xc0 + w], regField: r.n, reg8: size === 8 ? r : undefined, rm: rmOp, rm8: size === 8 }, F.ARITH); // XADD
  } else if (kind === 3) {
    if (!b.canWrite(RAX)) return;
    const { op: rmOp } = b.rm(size, 0.4, 1 << RAX);
    if (rng.chance(0.4)) {
      // load the accumulator from the destination so the compare succeeds
      b.emit({ size, opcode: [0x8a + w], regField: RAX, rm: rmOp, rm8: size === 8 });
    }
    const r = size === 8 ? reg(b.anyReg8Low()) : reg(b.anyReg());
    const lock = rmOp.kind === 'mem' && rng.chance(0.3) ? [0xf0] : [];
    b.emit({ prefixes: lock, size, opcode: [0x0f, 0xb0 + w], regField: r.n, reg8: size === 8 ? r : undefined, rm: rmOp, rm8: size === 8 }, F.ARITH); // CMPXCHG
  } else if (kind === 4) {
    if (!b.canWrite(RAX) || !b.canWrite(RDX)) return;
    const wide = rng.chance(0.5);
    const bytes = wide ? 16 : 8;
    let target = b.pickTarget(bytes);
    target &= ~(bytes - 1); // CMPXCHG16B needs 16-byte alignment (#GP otherwise)
    if (b.overlapsProtected(target, target + bytes)) return;
    if (rng.chance(0.4)) {
      // store RDX:RAX (EDX:EAX) there first so the compare succeeds
      b.emit({ size: wide ? 64 : 32, opcode: [0x89], regField: RAX, rm: { kind: 'mem', disp: target } });
      b.emit({ size: wide ? 64 : 32, opcode: [0x89], regField: RDX, rm: { kind: 'mem', disp: target + bytes / 2 } });
    }
    const { op: m } = b.mem(target, IMPLICIT_AX_DX);
    const lock = rng.chance(0.3) ? [0xf0] : [];
    b.emit({ prefixes: lock, size: wide ? 64 : 32, opcode: [0x0f, 0xc7], regField: 1, rm: m }, F.CMPXCHG_WIDE);
  } else {
    const s = rng.pick([32, 64] as const);
    b.emit({ size: s, opcode: [0x0f, 0xc8], opcodeReg: reg(b.destReg()) }); // BSWAP
  }
};

const lea: Family = (b) => {
  const { rng } = b;
  const size = rng.pick([16, 32, 64] as const);
  // LEA computes an address and touches no memory, so any register may be base or index.
  let m: MemOperand;
  const form = rng.int(5);
  if (form === 0) m = { kind: 'mem', rip: true, disp: CODE + rng.int(PAGE) };
  else if (form === 1) m = { kind: 'mem', disp: rng.range(-0x8000000, 0x7ffffff) };
  else {
    const base = rng.int(16);
    let index: number | undefined = rng.chance(0.6) ? rng.int(16) : undefined;
    if (index === RSP) index = undefined;
    m = {
      kind: 'mem', base, index, scale: rng.pick([1, 2, 4, 8] as const),
      disp: rng.chance(0.5) ? rng.range(-128, 127) : rng.range(-0x80000000, 0x7fffffff),
      addr32: rng.chance(0.25),
    };
  }
  b.emit({ size, opcode: [0x8d], regField: b.destReg(), rm: m });
};

const convert: Family = (b) => {
  const { rng } = b;
  if (!b.canWrite(RAX) || !b.canWrite(RDX)) return;
  const size = rng.pick([16, 32, 64] as const);
  b.emit({ size, opcode: [rng.chance(0.5) ? 0x98 : 0x99] }); // CBW/CWDE/CDQE, CWD/CDQ/CQO
};

const flagsAh: Family = (b) => {
  if (b.rng.chance(0.5)) {
    if (!b.canWrite(RAX)) return;
    b.ensure(F.LAHF.reads);
    b.raw([0x9f], F.LAHF);
  } else {
    b.raw([0x9e], F.SAHF);
  }
};

const flagOps: Family = (b) => {
  const k = b.rng.int(5);
  const e = [F.SET_CF, F.SET_CF, F.CMC, F.SET_DF, F.SET_DF][k]!;
  b.raw([[0xf8, 0xf9, 0xf5, 0xfc, 0xfd][k]!], e);
};

const move: Family = (b) => {
  const { rng } = b;
  const size = b.size();
  const w = size === 8 ? 0 : 1;
  switch (rng.int(6)) {
    case 0: {
      const { op: rmOp, used } = b.rm(size, 0.5);
      const r = size === 8 ? reg(b.anyReg8Low()) : reg(rmOp.kind === 'reg' ? b.anyReg() : b.destReg(used));
      b.emit({ size, opcode: [0x88 + w], regField: r.n, reg8: size === 8 ? r : undefined, rm: rmOp, rm8: size === 8 });
      break;
    }
    case 1: {
      const { op: rmOp, used } = b.rm(size, 0.5, 0);
      const r = size === 8 ? reg(b.destReg8(used)) : reg(b.destReg(used));
      b.emit({ size, opcode: [0x8a + w], regField: r.n, reg8: size === 8 ? r : undefined, rm: rmOp, rm8: size === 8 });
      break;
    }
    case 2: {
      const { op: rmOp } = b.rm(size, 0.5);
      b.emit({ size, opcode: [0xc6 + w], regField: 0, rm: rmOp, rm8: size === 8, imm: [immForSize(size, rng)] });
      break;
    }
    case 3: {
      if (size === 8) {
        const n = rng.int(8);
        if (!b.canWrite(n >= 4 ? n - 4 : n)) return;
        b.emit({ opcode: [0xb0], opcodeReg: reg(n, n >= 4), rm8: true, imm: [imm(rng.int(256), 1)] }); // mov AH.., imm8
      } else {
        const bytes = size === 16 ? 2 : size === 32 ? 4 : 8;
        b.emit({ size, opcode: [0xb8], opcodeReg: reg(b.destReg()), imm: [imm(rng.interesting64(), bytes)] });
      }
      break;
    }
    case 4: {
      // MOV with a 64-bit absolute address (moffs, A0-A3), or a 32-bit one under 67.
      if (!b.canWrite(RAX)) return;
      const target = b.pickTarget(size / 8);
      const store = rng.chance(0.5);
      const a32 = rng.chance(0.3);
      b.emit({ prefixes: a32 ? [0x67] : [], size, opcode: [(store ? 0xa2 : 0xa0) + w], imm: [imm(target, a32 ? 4 : 8)] });
      break;
    }
    default: {
      // read the code page itself, below the current instruction (bytes already fixed)
      const here = b.bytes.length;
      if (here < 8) return;
      const target = CODE + b.rng.int(here - 7);
      const r = reg(b.destReg());
      b.emit({ size: 64, opcode: [0x8b], regField: r.n, rm: { kind: 'mem', rip: true, disp: target } });
    }
  }
};

const strings: Family = (b) => {
  const { rng } = b;
  if (b.inLoop || !b.canWrite(RSI) || !b.canWrite(RDI) || !b.canWrite(RCX) || !b.canWrite(RAX)) return;
  const kind = rng.int(5); // MOVS CMPS STOS LODS SCAS
  const size = b.size();
  const w = size === 8 ? 0 : 1;
  const opcode = [0xa4, 0xa6, 0xaa, 0xac, 0xae][kind]! + w;
  const compares = kind === 1 || kind === 4;
  const rep = rng.chance(0.7) ? (compares && rng.chance(0.5) ? 0xf2 : 0xf3) : 0;
  const count = rep ? rng.int(17) : 1;
  const span = 16 * 8 + 8;
  const src = b.pickTarget(size / 8, span);
  const dst = b.pickTarget(size / 8, span);
  if (b.overlapsProtected(dst - span, dst + span)) return;
  const a32 = rng.chance(0.2);
  const garbage = () => BigInt(rng.u32()) << 32n;
  if (a32) {
    b.setReg64(RSI, garbage() | BigInt(src));
    b.setReg64(RDI, garbage() | BigInt(dst));
  } else {
    b.setReg32(RSI, src);
    b.setReg32(RDI, dst);
  }
  if (rep) b.setReg32(RCX, count);
  const e = compares && count > 0 ? F.ARITH : F.NO_FLAGS;
  b.emit({ prefixes: [...(a32 ? [0x67] : []), ...(rep ? [rep] : [])], size, opcode: [opcode] }, e);
};

const pushPop: Family = (b) => {
  const { rng } = b;
  const canPop = b.rsp + 8 <= b.frameTop - 8;
  const doPush = !canPop || (b.stackRoom() > 64 && rng.chance(0.55));
  if (doPush) {
    if (b.stackRoom() < 32) return;
    if (b.overlapsProtected(b.rsp - 8, b.rsp)) return;
    switch (rng.int(5)) {
      case 0: b.emit({ opcode: [0x50], opcodeReg: reg(b.anyReg()) }); break;
      case 1: b.emit({ opcode: [0x6a], imm: [imm(rng.int(256), 1)] }); break;
      case 2: b.emit({ opcode: [0x68], imm: [imm(rng.u32(), 4)] }); break;
      case 3: {
        const { op } = b.mem(b.pickTarget(8));
        b.emit({ size: 64, default64: true, opcode: [0xff], regField: 6, rm: op });
        break;
      }
      default: // PUSH r16 (66 prefix): RSP moves by 2
        b.emit({ size: 16, opcode: [0x50], opcodeReg: reg(b.anyReg()) });
        b.rsp -= 2;
        if (b.rng.chance(0.8)) {
          b.emit({ size: 16, opcode: [0x58], opcodeReg: reg(b.destReg()) });
          b.rsp += 2;
        } else {
          b.emit({ size: 64, opcode: [0x8d], regField: RSP, rm: { kind: 'mem', base: RSP, disp: 2 } }); // lea rsp,[rsp+2]
          b.rsp += 2;
        }
        return;
    }
    b.rsp -= 8;
  } else {
    if (rng.chance(0.8)) {
      b.emit({ opcode: [0x58], opcodeReg: reg(b.destReg()) });
    } else {
      // POP r/m64: an RSP-based address would be computed after the increment; avoid it.
      const target = b.pickTarget(8);
      if (b.overlapsProtected(target, target + 8)) return;
      const { op } = b.mem(target, 0, false);
      b.emit({ size: 64, default64: true, opcode: [0x8f], regField: 0, rm: op });
    }
    b.rsp += 8;
  }
};

/**
 * PUSHF/POPF. RFLAGS as pushed holds IF=1 natively (user mode) and bits snpemu need not model the
 * same way, so the pushed image is masked to the status flags and DF before anything reads it;
 * the status flags must all be defined. POPF loads only status flags and DF (IF and IOPL are
 * ignored at CPL 3 anyway; AC is never set, so no alignment checks start).
 */
const pushfPopf: Family = (b) => {
  const { rng } = b;
  if (b.stackRoom() < 32 || b.overlapsProtected(b.rsp - 8, b.rsp)) return;
  if (rng.chance(0.5)) {
    b.ensure(F.STATUS);
    b.raw([0x9c]); // pushfq
    b.noCutAt.push(b.bytes.length); // the unmasked image (IF=1 natively) is on the stack here
    b.emit({ size: 64, opcode: [0x81], regField: 4, rm: { kind: 'mem', base: RSP, disp: 0 }, imm: [imm(0xcd5, 4)] }, F.LOGIC);
    b.emit({ opcode: [0x58], opcodeReg: reg(b.destReg()) });
  } else {
    b.emit({ opcode: [0x68], imm: [imm(rng.u32() & 0xcd5, 4)] });
    b.raw([0x9d], { defines: F.STATUS | F.DF, undefines: 0, reads: 0 }); // popfq
  }
};

const nops: Family = (b) => {
  const { rng } = b;
  switch (rng.int(3)) {
    case 0: b.raw([0x90]); break;
    case 1: b.raw([0x66, 0x90]); break;
    default:
      // 0F 1F /0: the operand is never accessed, so any address will do.
      b.emit({ size: rng.pick([16, 32] as const), opcode: [0x0f, 0x1f], regField: 0, rm: { kind: 'mem', base: rng.int(16), disp: rng.range(-300, 300) } });
  }
};

// --- control flow -----------------------------------------------------------------------------

/** Generate a few items into the current position (an inner block), with restrictions. */
function block(b: Builder, items: number): void {
  b.depth++;
  for (let i = 0; i < items && b.bytes.length < CODE_BUDGET; i++) item(b);
  b.depth--;
}

/** Keep a block's RSP balanced, so RSP stays statically known whether or not it ran. */
function rebalance(b: Builder, rspBefore: number): void {
  if (b.rsp !== rspBefore) {
    b.emit({ size: 64, opcode: [0x8d], regField: RSP, rm: { kind: 'mem', base: RSP, disp: rspBefore - b.rsp, disp32: true } });
    b.rsp = rspBefore;
  }
}

const skip: Family = (b) => {
  const { rng } = b;
  if (b.depth >= 2) return;
  const m = b.mark();
  const kind = rng.int(9); // 0-3 Jcc rel8, 4 Jcc rel32, 5 JMP, 6 JRCXZ, 7 LOOPcc forward, 8 JMP r64
  if (kind === 8) {
    indirectSkip(b);
    return;
  }
  const cc = rng.int(16);
  let head: number[];
  let reads = 0;
  if (kind <= 3) { reads = F.conditionReads(cc); head = [0x70 + cc, 0]; }
  else if (kind === 4) { reads = F.conditionReads(cc); head = [0x0f, 0x80 + cc, 0, 0, 0, 0]; }
  else if (kind === 5) head = rng.chance(0.5) ? [0xeb, 0] : [0xe9, 0, 0, 0, 0];
  else if (kind === 6) head = rng.chance(0.3) ? [0x67, 0xe3, 0] : [0xe3, 0];
  else {
    if (!b.canWrite(RCX)) return;
    const op = rng.pick([0xe0, 0xe1, 0xe2]); // LOOPNE LOOPE LOOP
    if (op !== 0xe2) reads = F.ZF;
    head = [op, 0];
  }
  b.ensure(reads);
  const atJump = b.undef;
  const rspBefore = b.rsp;
  const headAt = b.raw(head, { defines: 0, undefines: 0, reads });
  const bodyStart = b.bytes.length;
  block(b, rng.range(1, 3));
  rebalance(b, rspBefore);
  const distance = b.bytes.length - bodyStart;
  const rel32 = head.length >= 5;
  if (!rel32 && distance > 127) {
    b.rewind(m);
    return;
  }
  const dispAt = headAt + head.length - (rel32 ? 4 : 1);
  if (rel32) {
    for (let i = 0; i < 4; i++) b.bytes[dispAt + i] = (distance >>> (8 * i)) & 0xff;
  } else {
    b.bytes[dispAt] = distance;
  }
  b.undef |= atJump; // the block may or may not have run
  b.families.push('skip');
};

/** mov r32, target; jmp r64 over a block that never runs (the target is patched in afterwards). */
function indirectSkip(b: Builder): void {
  const r = b.destReg();
  const immAt = b.bytes.length + (r >= 8 ? 2 : 1);
  b.setReg32(r, 0);
  b.emit({ opcode: [0xff], regField: 4, rm: reg(r) });
  const atJump = b.undef;
  const rspBefore = b.rsp;
  block(b, b.rng.range(1, 2));
  rebalance(b, rspBefore);
  const target = CODE + b.bytes.length;
  for (let i = 0; i < 4; i++) b.bytes[immAt + i] = (target >>> (8 * i)) & 0xff;
  b.undef |= atJump;
  b.families.push('skip');
}

const loopBack: Family = (b) => {
  const { rng } = b;
  if (b.depth >= 2 || b.inLoop || !b.canWrite(RCX)) return;
  const m = b.mark();
  const op = rng.pick([0xe2, 0xe2, 0xe1, 0xe0]);
  b.setReg32(RCX, rng.range(1, 4));
  const entry = b.undef;
  const top = b.bytes.length;
  // A second iteration starts from whatever the body left, which is not known before the body is
  // generated: start it from "all undefined" so every consumer inside gets its own definer.
  b.undef = F.STATUS;
  const saved = b.reserved;
  b.reserved |= 1 << RCX;
  b.inLoop = true;
  const rspBefore = b.rsp;
  block(b, rng.range(1, 3));
  rebalance(b, rspBefore);
  if (op !== 0xe2) b.ensure(F.ZF);
  b.inLoop = false;
  b.reserved = saved;
  const bodyEnd = b.undef;
  const loopAt = b.raw([op, 0], { defines: 0, undefines: 0, reads: op === 0xe2 ? 0 : F.ZF });
  const rel = top - (loopAt + 2);
  if (rel < -128) {
    b.rewind(m);
    return;
  }
  b.bytes[loopAt + 1] = rel & 0xff;
  // Later iterations start from the state the body left: widen every mask inside the loop.
  for (const [off, mask] of b.undefAt) if (off >= top && off <= loopAt) b.undefAt.set(off, mask | bodyEnd);
  b.undef = entry | bodyEnd;
  b.families.push('loop');
};

const callRet: Family = (b) => {
  const { rng } = b;
  if (b.depth >= 2 || b.inLoop || b.stackRoom() < 96) return;
  const m = b.mark();
  const args = rng.chance(0.3) ? rng.range(1, 2) : 0;
  const rspBefore = b.rsp;
  for (let i = 0; i < args; i++) {
    b.emit({ opcode: [0x6a], imm: [imm(rng.int(256), 1)] });
    b.rsp -= 8;
  }
  const kind = rng.int(3); // 0 direct, 1 via register, 2 via memory
  let patchAbs = -1;
  let slot = 0;
  if (kind === 1) {
    const r = b.destReg();
    patchAbs = b.bytes.length + (r >= 8 ? 2 : 1);
    b.setReg32(r, 0);
    b.emit({ opcode: [0xff], regField: 2, rm: reg(r) });
  } else if (kind === 2) {
    slot = b.pickTarget(8);
    slot &= ~7;
    if (b.overlapsProtected(slot, slot + 8) || (slot >= b.rsp - 8 * 4 && slot < b.rsp + 8)) {
      b.rewind(m);
      return;
    }
    b.emit({ size: 64, opcode: [0xc7], regField: 0, rm: { kind: 'mem', disp: slot }, imm: [imm(0, 4)] });
    patchAbs = b.bytes.length - 4; // the imm32 is the instruction's last field
    const { op } = b.mem(slot, 0, false);
    b.emit({ opcode: [0xff], regField: 2, rm: op });
  } else {
    b.raw([0xe8, 0, 0, 0, 0]);
  }
  const afterCall = b.bytes.length;
  b.rsp -= 8;
  const jmpAt = b.raw([0xe9, 0, 0, 0, 0]);
  const fn = b.bytes.length;
  if (kind === 0) {
    const rel = fn - afterCall;
    for (let i = 0; i < 4; i++) b.bytes[afterCall - 4 + i] = (rel >>> (8 * i)) & 0xff;
  } else {
    const abs = CODE + fn;
    for (let i = 0; i < 4; i++) b.bytes[patchAbs + i] = (abs >>> (8 * i)) & 0xff;
  }
  // Function body: the return address (and the arguments) are off limits.
  const savedTop = b.frameTop;
  const retSlot = b.rsp;
  b.protectedRanges.push([retSlot, retSlot + 8]);
  b.frameTop = retSlot;
  const rspInBody = b.rsp;
  block(b, rng.range(1, 4));
  rebalance(b, rspInBody);
  b.protectedRanges.pop();
  b.frameTop = savedTop;
  if (args > 0) b.raw([0xc2, (args * 8) & 0xff, 0]);
  else b.raw([0xc3]);
  b.rsp = rspBefore;
  const over = b.bytes.length - (jmpAt + 5);
  for (let i = 0; i < 4; i++) b.bytes[jmpAt + 1 + i] = (over >>> (8 * i)) & 0xff;
  b.families.push('call');
};

const enterLeave: Family = (b) => {
  const { rng } = b;
  if (b.depth >= 2 || b.inLoop || !b.canWrite(RBP) || b.stackRoom() < 160) return;
  const level = rng.pick([0, 0, 1, 2]);
  const size = rng.range(0, 48);
  if (level > 0) b.setReg32(RBP, b.rsp - 16); // ENTER copies frame pointers from [RBP-8]...
  const rspBefore = b.rsp;
  b.emit({ opcode: [0xc8], imm: [imm(size, 2), imm(level, 1)] });
  const frame = rspBefore - 8;
  b.rsp = rspBefore - 8 - 8 * level - size;
  const saved = b.reserved;
  b.reserved |= 1 << RBP;
  const savedTop = b.frameTop;
  b.frameTop = b.rsp;
  b.protectedRanges.push([frame, frame + 8]);
  block(b, rng.range(1, 3)); // LEAVE restores RSP from RBP, so the body need not balance its pushes
  b.protectedRanges.pop();
  b.frameTop = savedTop;
  b.reserved = saved;
  b.raw([0xc9]); // LEAVE: RSP = RBP, POP RBP
  b.rsp = rspBefore;
  b.families.push('enter');
};

// --- deliberate faults --------------------------------------------------------------------------

const fault: Family = (b) => {
  const { rng } = b;
  const r = () => b.destReg();
  switch (rng.int(17)) {
    case 16: // INT3: #BP is a trap, reported with RIP after the INT3 (AMD APM Vol.2 §8.2.4)
      b.raw([0xcc]);
      break;
    case 0: // write to the read-only code page: #PF(P|W|U)
      b.emit({ size: b.rng.pick([32, 64] as const), opcode: [0x89], regField: b.anyReg(), rm: { kind: 'mem', disp: CODE + rng.int(PAGE - 8) } });
      break;
    case 1: { // read from an unmapped page: #PF(U)
      const a = rng.chance(0.5) ? 0x201000 + rng.int(0xfe000) : 0x101000 + rng.int(0xfe000);
      b.emit({ size: 64, opcode: [0x8b], regField: r(), rm: { kind: 'mem', disp: a } });
      break;
    }
    case 2: { // an access straddling the end of the data page: #PF at 0x201000, no partial write
      const size = rng.pick([16, 32, 64] as const);
      const a = DATA + PAGE - rng.range(1, size / 8 - 1);
      const { op } = b.mem(a);
      b.emit({ size, opcode: [rng.chance(0.5) ? 0x89 : 0x01], regField: b.anyReg(), rm: op }, F.ARITH);
      break;
    }
    case 3: { // a non-canonical address: #GP(0)
      const base = r();
      b.setReg64(base, rng.pick([0x0000800000000000n, 0x8000000000000000n, 0xfff0000000000000n, 0x00007fffffffff00n + 0x1000n]));
      b.emit({ size: 64, opcode: [0x8b], regField: r(), rm: { kind: 'mem', base, disp: rng.int(64) } });
      break;
    }
    case 4: { // a non-canonical stack reference (RSP or RBP based): #SS(0)
      if (rng.chance(0.5) && b.canWrite(RBP)) {
        b.setReg64(RBP, 0x0000800000000000n + BigInt(rng.int(4096)));
        b.emit({ size: 64, opcode: [0x8b], regField: RAX, rm: { kind: 'mem', base: RBP, disp: 8 } });
      } else {
        b.setReg64(RSP, 0x8000000000000000n + BigInt(rng.int(4096)) * 8n);
        b.raw([0x50 + rng.int(8)]);
      }
      break;
    }
    case 5: // divide by zero: #DE
      if (!b.canWrite(RAX) || !b.canWrite(RDX)) return;
      b.setReg32(3, 0);
      b.emit({ size: rng.pick([8, 16, 32, 64] as const), opcode: [0xf7], regField: rng.pick([6, 7]), rm: reg(3) }, F.DIVIDE);
      break;
    case 6: // UD2
      b.raw([0x0f, 0x0b]);
      break;
    case 7: { // fetch from the NX data page or an unmapped page: #PF(U|I/D)
      const target = rng.chance(0.5) ? DATA + rng.int(PAGE) : 0x300000 + rng.int(PAGE);
      const t = r();
      b.setReg32(t, target);
      b.emit({ opcode: [0xff], regField: rng.pick([2, 4]), rm: reg(t) });
      break;
    }
    case 8: // stack overflow off the bottom of the data page
      b.setReg32(RSP, DATA + rng.pick([0, 2, 4, 6]));
      b.raw([0x50 + rng.int(8)]);
      break;
    case 9: // LOCK on a register destination or a non-lockable instruction: #UD
      b.raw(rng.chance(0.5) ? [0xf0, 0x01, 0xc0 + rng.int(64)] : [0xf0, 0x89, 0xc0 + rng.int(64)]);
      b.invalidAt.push(b.starts[b.starts.length - 1]!);
      break;
    case 10: { // longer than 15 bytes: #GP(0)
      const prefixes = Array.from({ length: rng.range(5, 8) }, () => rng.pick([0x2e, 0x3e, 0x26, 0x36]));
      b.emit({ prefixes, size: 64, opcode: [0xc7], regField: 0, rm: { kind: 'mem', disp: DATA }, imm: [imm(1, 4)] });
      b.invalidAt.push(b.starts[b.starts.length - 1]!);
      break;
    }
    case 11: { // misaligned CMPXCHG16B: #GP(0)
      if (!b.canWrite(RAX) || !b.canWrite(RDX)) return;
      const a = DATA + 16 * rng.int(200) + rng.pick([4, 8, 12]);
      b.emit({ size: 64, opcode: [0x0f, 0xc7], regField: 1, rm: { kind: 'mem', disp: a } }, F.CMPXCHG_WIDE);
      break;
    }
    case 12: // privileged at CPL 3: HLT, MOV from CR0, RDMSR, WRMSR, INVLPG: #GP(0)
      b.raw(rng.pick([[0xf4], [0x0f, 0x20, 0xc0], [0x0f, 0x32], [0x0f, 0x30], [0x0f, 0x01, 0x3d, 0, 0, 0, 0]]));
      break;
    case 13: { // opcodes that do not exist in 64-bit mode: #UD
      b.raw([rng.pick([0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0xce, 0xd4, 0xd5, 0xd6])]);
      b.invalidAt.push(b.starts[b.starts.length - 1]!);
      break;
    }
    case 14: { // RIP-relative write into the code page itself
      b.emit({ size: 32, opcode: [0xc7], regField: 0, rm: { kind: 'mem', rip: true, disp: CODE + rng.int(64) }, imm: [imm(rng.u32(), 4)] });
      break;
    }
    default: { // a jump to a non-canonical address: #GP(0) on the jump itself
      const t = r();
      b.setReg64(t, rng.pick([0x0000800000000000n, 0xffff7fffffffff00n]));
      b.emit({ opcode: [0xff], regField: rng.pick([2, 4]), rm: reg(t) });
    }
  }
  b.families.push('fault');
  b.done = true;
};

// --- the mix ------------------------------------------------------------------------------------

const FAMILIES: [string, Family, number][] = [
  ['alu', aluBinary, 14],
  ['alu8h', aluHighBytes, 2],
  ['test', testFamily, 3],
  ['unary', unary, 5],
  ['mul', multiply, 5],
  ['div', divide, 4],
  ['shift', shiftRotate, 10],
  ['shxd', doubleShift, 4],
  ['bt', bitTest, 5],
  ['bitscan', bitScan, 5],
  ['movx', moveExtend, 4],
  ['cond', conditional, 6],
  ['xchg', exchange, 6],
  ['lea', lea, 3],
  ['convert', convert, 2],
  ['lahf', flagsAh, 2],
  ['flagops', flagOps, 2],
  ['mov', move, 6],
  ['string', strings, 5],
  ['stack', pushPop, 5],
  ['nop', nops, 1],
  ['pushf', pushfPopf, 2],
  ['skip', skip, 5],
  ['loop', loopBack, 2],
  ['call', callRet, 3],
  ['enter', enterLeave, 1],
];
const TOTAL_WEIGHT = FAMILIES.reduce((s, [, , w]) => s + w, 0);

function item(b: Builder): void {
  let x = b.rng.int(TOTAL_WEIGHT);
  for (const [name, fn, w] of FAMILIES) {
    if (x < w) {
      const before = b.families.length;
      fn(b);
      if (b.families.length === before && name !== 'skip' && name !== 'loop' && name !== 'call' && name !== 'enter') {
        b.families.push(name);
      }
      return;
    }
    x -= w;
  }
}

/** Generate case number `index` of the campaign seeded with `seed`. */
export function generateCase(seed: number, index: number): GeneratedCase {
  const rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const initialRsp = rng.chance(0.7) ? 0x2000c0 : DATA + 0x100 + 8 * rng.int(0x1c0);
  const b = new Builder(rng, initialRsp);
  const items = rng.range(1, 24);
  const faultAt = rng.chance(0.18) ? rng.int(items + 1) : -1;
  for (let i = 0; i < items && !b.done && b.bytes.length < CODE_BUDGET; i++) {
    if (i === faultAt) fault(b);
    else item(b);
  }
  if (faultAt === items && !b.done) fault(b);

  const regs: Record<string, string> = {};
  for (let i = 0; i < 16; i++) {
    if (i === RSP) regs.rsp = '0x' + initialRsp.toString(16);
    else if (rng.chance(0.9)) regs[GPR[i]!] = '0x' + rng.interesting64().toString(16);
  }
  const memLength = rng.chance(0.5) ? 256 : rng.chance(0.5) ? PAGE : rng.int(PAGE);
  const flagsUndefinedAt: Record<string, number> = {};
  for (const [off, mask] of b.undefAt) if (mask !== 0) flagsUndefinedAt[String(off)] = mask;
  return {
    id: `s${seed}-${index}`,
    code: Buffer.from(b.bytes).toString('hex'),
    regs,
    rflags: '0x' + (rng.u32() & 0xcd5).toString(16),
    mem: Buffer.from(rng.bytes(memLength)).toString('hex'),
    flagsUndefinedAtEnd: b.undef,
    flagsUndefinedAt,
    starts: b.starts,
    invalidAt: b.invalidAt,
    families: b.families,
    noCutAt: b.noCutAt,
  };
}

/** The flags to ignore for a result that stopped at `rip` (fault) or ran to the end. */
export function undefinedFlagsFor(c: GeneratedCase, rip: bigint, faulted: boolean): number {
  if (!faulted) return c.flagsUndefinedAtEnd;
  const off = Number(rip - BigInt(CODE));
  if (off >= 0 && off < c.code.length / 2 && c.starts.includes(off)) return c.flagsUndefinedAt[String(off)] ?? 0;
  // A fault somewhere unexpected (e.g. a fetch fault at a jump target): be conservative.
  let all = c.flagsUndefinedAtEnd;
  for (const m of Object.values(c.flagsUndefinedAt)) all |= m;
  return all;
}
