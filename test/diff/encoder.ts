// A compact x86-64 encoder for the differential-test generator: legacy prefixes, REX, ModRM, SIB,
// displacements and immediates (Intel SDM Vol.2A §2.1-2.2, AMD APM Vol.3 §1.2-1.4).
//
// It encodes only what the generator asks for and checks nothing about instruction semantics; every
// generated instruction's length is cross-checked against iced-x86's decoder (generator.test.ts and
// the campaign), so an encoding slip shows up as a length mismatch, not as a bogus CPU bug.

export type Size = 8 | 16 | 32 | 64;

/** A register operand. For 8-bit operands n=4..7 means SPL..DIL (needs REX) unless `high` (AH..BH). */
export interface RegOperand {
  kind: 'reg';
  n: number;
  high?: boolean;
}

/**
 * A memory operand. `rip`: RIP-relative, `disp` is then the absolute target address. Without base
 * and index, `disp` is an absolute 32-bit address (SIB form with no base and no index).
 */
export interface MemOperand {
  kind: 'mem';
  base?: number;
  index?: number;
  scale?: 1 | 2 | 4 | 8;
  disp: number;
  rip?: boolean;
  /** Use a 32-bit displacement even when 8 bits (or none) would do. */
  disp32?: boolean;
  /** 67 prefix: 32-bit address size (the effective address is truncated to 32 bits). */
  addr32?: boolean;
}

export type RmOperand = RegOperand | MemOperand;

export const reg = (n: number, high = false): RegOperand => ({ kind: 'reg', n, high });

export interface Insn {
  /** Legacy prefixes in order (F0, F2, F3, 2E..., 66 is added from `size`, 67 from addr32). */
  prefixes?: number[];
  /** Operand size: 16 adds 66, 64 adds REX.W unless `default64`. */
  size?: Size;
  /** The instruction's operand size defaults to 64 bits (PUSH, POP, CALL...): no REX.W for 64. */
  default64?: boolean;
  opcode: number[];
  /** ModRM.reg: a register number or an opcode extension (/digit). Absent: no ModRM. */
  regField?: number;
  /** The reg-field operand is an 8-bit register (REX rules for SPL..DIL and AH..BH). */
  reg8?: RegOperand;
  rm?: RmOperand;
  /** Register number folded into the opcode's low 3 bits (B8+r, 50+r, 0F C8+r), REX.B for r8-r15. */
  opcodeReg?: RegOperand;
  /** The rm or opcodeReg operand is 8-bit (for SPL..DIL / AH..BH rules). */
  rm8?: boolean;
  imm?: { value: bigint; bytes: number }[];
  /** Force a REX prefix (e.g. REX=40 for SPL). */
  forceRex?: boolean;
}

function le(value: bigint, bytes: number): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(bytes * 8, value);
  for (let i = 0; i < bytes; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

const fitsInt8 = (v: number) => v >= -128 && v <= 127;

/** Encode `insn` at linear address `ip` (needed for RIP-relative displacements). */
export function encode(insn: Insn, ip: number): Uint8Array {
  const prefixes: number[] = [...(insn.prefixes ?? [])];
  if (insn.size === 16) prefixes.push(0x66);
  const rexW = insn.size === 64 && !insn.default64 ? 1 : 0;
  let rexR = 0;
  let rexX = 0;
  let rexB = 0;
  let needRex = insn.forceRex === true;
  let forbidRex = false;
  const tail: number[] = [];
  let ripTarget: number | undefined;
  let ripDispAt = -1;

  const note8 = (r: RegOperand) => {
    if (r.high) forbidRex = true;
    else if (r.n >= 4 && r.n <= 7) needRex = true;
  };

  const opcode = [...insn.opcode];
  if (insn.opcodeReg) {
    const r = insn.opcodeReg;
    if (insn.rm8) note8(r);
    rexB = r.n >> 3;
    opcode[opcode.length - 1]! |= r.n & 7;
  }

  if (insn.regField !== undefined || insn.reg8 !== undefined) {
    const regN = insn.reg8 ? insn.reg8.n : insn.regField!;
    if (insn.reg8) note8(insn.reg8);
    rexR = regN >> 3;
    const rm = insn.rm!;
    if (rm.kind === 'reg') {
      if (insn.rm8) note8(rm);
      rexB = rm.n >> 3;
      tail.push(0xc0 | ((regN & 7) << 3) | (rm.n & 7));
    } else {
      if (rm.addr32) prefixes.push(0x67);
      const r3 = (regN & 7) << 3;
      if (rm.rip) {
        tail.push(0x05 | r3);
        ripTarget = rm.disp;
        ripDispAt = tail.length;
        tail.push(0, 0, 0, 0);
      } else if (rm.base === undefined) {
        // SIB with base=101 and mod=00: disp32, no base (Intel SDM Vol.2A Table 2-3 note 1).
        const index = rm.index ?? 4;
        if (rm.index === 4) throw new Error('RSP cannot be an index');
        rexX = rm.index === undefined ? 0 : index >> 3;
        tail.push(0x04 | r3, (scaleBits(rm.scale) << 6) | ((index & 7) << 3) | 5, ...le(BigInt(rm.disp), 4));
      } else {
        const base = rm.base;
        rexB = base >> 3;
        let mod: number;
        if (rm.disp32 || !fitsInt8(rm.disp)) mod = 2;
        else if (rm.disp !== 0 || (base & 7) === 5) mod = 1; // [rbp]/[r13] need a displacement
        else mod = 0;
        const needSib = rm.index !== undefined || (base & 7) === 4;
        if (needSib) {
          if (rm.index === 4) throw new Error('RSP cannot be an index');
          const index = rm.index ?? 4;
          rexX = rm.index === undefined ? 0 : index >> 3;
          tail.push((mod << 6) | r3 | 4, (scaleBits(rm.scale) << 6) | ((index & 7) << 3) | (base & 7));
        } else {
          tail.push((mod << 6) | r3 | (base & 7));
        }
        if (mod === 1) tail.push(...le(BigInt(rm.disp), 1));
        if (mod === 2) tail.push(...le(BigInt(rm.disp), 4));
      }
    }
  }
  for (const imm of insn.imm ?? []) tail.push(...le(imm.value, imm.bytes));

  if (rexW || rexR || rexX || rexB) needRex = true;
  if (needRex && forbidRex) throw new Error('AH..BH cannot be encoded with a REX prefix');
  const bytes = [...prefixes];
  if (needRex) bytes.push(0x40 | (rexW << 3) | (rexR << 2) | (rexX << 1) | rexB);
  const modrmStart = bytes.length + opcode.length;
  bytes.push(...opcode, ...tail);
  if (ripTarget !== undefined) {
    const disp = ripTarget - (ip + bytes.length); // relative to the next instruction
    bytes.splice(modrmStart + ripDispAt, 4, ...le(BigInt(disp), 4));
  }
  return Uint8Array.from(bytes);
}

function scaleBits(scale: 1 | 2 | 4 | 8 | undefined): number {
  switch (scale ?? 1) {
    case 1:
      return 0;
    case 2:
      return 1;
    case 4:
      return 2;
    default:
      return 3;
  }
}

export const littleEndian = le;
