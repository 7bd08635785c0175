// The table-driven decoder: bytes -> Insn (Intel SDM Vol.2 Chapter 2, "Instruction Format";
// AMD APM Vol.3 Chapter 1). It understands every legacy prefix (66, 67, F0, F2, F3, the segment
// overrides, with FS/GS bases), REX (and the SPL/BPL/SIL/DIL vs AH..BH rule), ModRM, SIB,
// disp8/disp32, RIP-relative addressing and imm8/16/32/64, for the one-byte and 0F maps.
//
// It never throws for a bad encoding: it returns an Insn whose handler raises #UD (invalid or
// outside the subset, LOCK where LOCK is not allowed) or #GP(0) (longer than 15 bytes) when
// executed, so the fault happens in order and with precise state. It does throw the CpuFault of a
// failed code fetch (ByteSource.byte), which the caller delivers.

import { Vector } from './fault.ts';
import { BASE_RIP, Insn, NO_REG, Seg } from './insn.ts';
import { OPCODE_TABLE, type OpcodeRow } from './opcodes.ts';
import { raiseDecodeFault } from './system.ts';

/** Where the decoder reads instruction bytes; `byte(i)` is the i-th byte of the instruction. */
export interface ByteSource {
  byte(i: number): number;
}

/** Maximum instruction length (Intel SDM Vol.2 §2.3.11, AMD APM Vol.3 §1.1). */
export const MAX_INSN_LENGTH = 15;

const enum Kind {
  E, G, M, I, J, O, Z, R, C, D, X, Y, FixedReg, One, CL,
}

interface OperandSpec {
  kind: Kind;
  /** Size letter: 'b' 'w' 'd' 'q' 'v' 'z' 'y', or '' for none. */
  size: string;
  /** Fixed register number for AL / rAX. */
  fixed: number;
}

/** A table row parsed into what the decoder matches on. */
export interface DecodeRow {
  row: OpcodeRow;
  map: number;
  opcode: number;
  /** Mandatory prefix 0xF2 / 0xF3, or 0. */
  prefix: number;
  /** ModRM.reg opcode extension, or -1. */
  regExt: number;
  /** Fixed ModRM byte, or -1. */
  fixedModrm: number;
  /** 0: any form; 1: memory form only; 2: register form only. */
  form: number;
  hasModrm: boolean;
  plusReg: boolean;
  operands: OperandSpec[];
  lock: boolean;
  d64: boolean;
  f64: boolean;
  ends: boolean;
  rep: boolean;
  noRexB: boolean;
  /** Matches only without a 66 prefix (66 0F AE F0 is TPAUSE, not MFENCE). */
  no66: boolean;
  // Precomputed for the decode loop, so that it compares numbers only (no strings, no closures):
  /** Operand kinds and size codes (SizeCode), in operand order. */
  kinds: Kind[];
  sizeCodes: SizeCode[];
  /** A memory operand is possible (no R or C operand, which read ModRM.rm as a register). */
  memForm: boolean;
  /** Size code of the operand that sets Insn.size (the first sized one that is not a fixed-size immediate), or None. */
  mainSize: SizeCode;
}

/** Operand size letters as numbers. */
const enum SizeCode { None, B, W, D, Q, V, Z, Y }

function sizeCodeOf(letter: string): SizeCode {
  switch (letter) {
    case 'b': return SizeCode.B;
    case 'w': return SizeCode.W;
    case 'd': return SizeCode.D;
    case 'q': return SizeCode.Q;
    case 'v': return SizeCode.V;
    case 'z': return SizeCode.Z;
    case 'y': return SizeCode.Y;
    default: return SizeCode.None;
  }
}

function parseOperand(t: string): OperandSpec {
  if (t === 'AL') return { kind: Kind.FixedReg, size: 'b', fixed: 0 };
  if (t === 'rAX') return { kind: Kind.FixedReg, size: 'v', fixed: 0 };
  if (t === 'CL') return { kind: Kind.CL, size: '', fixed: 1 };
  if (t === '1') return { kind: Kind.One, size: '', fixed: 0 };
  const letter = t[0]!;
  const size = t.slice(1);
  const kinds: Record<string, Kind> = { E: Kind.E, G: Kind.G, M: Kind.M, I: Kind.I, J: Kind.J, O: Kind.O, Z: Kind.Z, R: Kind.R, C: Kind.C, D: Kind.D, X: Kind.X, Y: Kind.Y };
  const kind = kinds[letter];
  if (kind === undefined || !/^(b|w|d|q|v|z|y|)$/.test(size)) throw new Error(`opcode table: bad operand '${t}'`);
  return { kind, size, fixed: 0 };
}

/** Parse one table row's `code` into matchable rows (several for '+r'). */
export function parseRow(row: OpcodeRow): DecodeRow[] {
  const parts = row.code.trim().split(/\s+/);
  let prefix = 0;
  if (parts[0] === 'F2' || parts[0] === 'F3') {
    prefix = parseInt(parts.shift()!, 16);
  }
  let map = 0;
  if (parts[0] === '0F') {
    map = 1;
    parts.shift();
  }
  let opText = parts.shift()!;
  let plusReg = false;
  if (opText.endsWith('+r')) {
    plusReg = true;
    opText = opText.slice(0, -2);
  }
  const opcode = parseInt(opText, 16);
  let regExt = -1;
  let fixedModrm = -1;
  let form = 0;
  for (const p of parts) {
    if (p.startsWith('/')) regExt = parseInt(p.slice(1), 10);
    else if (p === 'm') form = 1;
    else if (p === 'r') form = 2;
    else fixedModrm = parseInt(p, 16);
  }
  const operands = row.operands === '' ? [] : row.operands.split(',').map(parseOperand);
  const attrs = new Set((row.attrs ?? '').split(/\s+/).filter((a) => a !== ''));
  const hasModrm = regExt >= 0 || fixedModrm >= 0 ||
    operands.some((o) => o.kind === Kind.E || o.kind === Kind.G || o.kind === Kind.M || o.kind === Kind.R || o.kind === Kind.C || o.kind === Kind.D);
  if (operands.some((o) => o.kind === Kind.M)) form = 1;
  const main = operands.find((o) => o.size !== '' && !((o.kind === Kind.I || o.kind === Kind.J) && o.size !== 'v' && o.size !== 'z'));
  const base: DecodeRow = {
    row, map, opcode, prefix, regExt, fixedModrm, form, hasModrm, plusReg, operands,
    lock: attrs.has('lock'), d64: attrs.has('d64'), f64: attrs.has('f64'), ends: attrs.has('end'),
    rep: attrs.has('rep'), noRexB: attrs.has('norexb'), no66: attrs.has('no66'),
    kinds: operands.map((o) => o.kind),
    sizeCodes: operands.map((o) => sizeCodeOf(o.size)),
    memForm: !operands.some((o) => o.kind === Kind.R || o.kind === Kind.C || o.kind === Kind.D),
    mainSize: main === undefined ? SizeCode.None : sizeCodeOf(main.size),
  };
  if (!plusReg) return [base];
  return Array.from({ length: 8 }, (_, i) => ({ ...base, opcode: opcode + i }));
}

/** All decode rows, indexed by map * 256 + opcode; mandatory-prefix rows first. */
const INDEX: DecodeRow[][] = Array.from({ length: 512 }, () => []);
for (const row of OPCODE_TABLE) {
  for (const r of parseRow(row)) INDEX[r.map * 256 + r.opcode]!.push(r);
}
for (const list of INDEX) list.sort((a, b) => (b.prefix !== 0 ? 1 : 0) - (a.prefix !== 0 ? 1 : 0));

function faultInsn(vector: number, len: number, row: OpcodeRow | null): Insn {
  const d = new Insn(raiseDecodeFault);
  d.faultVector = vector;
  d.len = len;
  d.row = row;
  d.endsBlock = true;
  return d;
}

class TooLong {}
const TOO_LONG = new TooLong();

// The decode cursor: the byte source and the position of the next byte. Module state rather than
// closures, so that decoding allocates nothing but the Insn (decode saves and restores it, so a
// byte source that decoded something itself would not disturb the caller).
let cursorSrc: ByteSource = { byte: () => 0 };
let cursorPos = 0;

/** The next instruction byte; more than 15 bytes is #GP(0) (TOO_LONG, caught in decode). */
function nextByte(): number {
  if (cursorPos >= MAX_INSN_LENGTH) throw TOO_LONG;
  return cursorSrc.byte(cursorPos++);
}

/** The next n (1, 2 or 4) bytes as a little-endian signed value. */
function nextSigned(n: number): number {
  if (n === 1) return (nextByte() << 24) >> 24;
  if (n === 2) {
    const b0 = nextByte();
    return ((nextByte() << 24) >> 16) | b0;
  }
  const b0 = nextByte();
  const b1 = nextByte();
  const b2 = nextByte();
  return (nextByte() << 24) | (b2 << 16) | (b1 << 8) | b0;
}

/**
 * Decode one instruction. The caller has checked nothing; the result's `len` says how many bytes
 * it used. Fetch faults propagate as CpuFault.
 */
export function decode(src: ByteSource): Insn {
  const savedSrc = cursorSrc;
  const savedPos = cursorPos;
  cursorSrc = src;
  cursorPos = 0;
  try {
    return decodeInner();
  } catch (e) {
    if (e === TOO_LONG) return faultInsn(Vector.GP, MAX_INSN_LENGTH, null);
    throw e;
  } finally {
    cursorSrc = savedSrc;
    cursorPos = savedPos;
  }
}

/** Register operand encoding: byte registers 4..7 are AH..BH without REX (Intel SDM Vol.2 §3.1.1.1). */
function regOperand(r: number, byteSized: boolean, rex: number): number {
  return byteSized && rex === 0 && r >= 4 && r <= 7 ? 16 + (r - 4) : r;
}

function decodeInner(): Insn {
  let opsize16 = false;
  let addr32 = false;
  let lock = false;
  let repPrefix = 0;
  let seg: number = Seg.None;
  let rex = 0;
  let b: number;
  for (;;) {
    b = nextByte();
    if (b >= 0x40 && b <= 0x4f) {
      rex = b;
      continue;
    }
    if (b === 0x66) opsize16 = true;
    else if (b === 0x67) addr32 = true;
    else if (b === 0xf0) lock = true;
    else if (b === 0xf2 || b === 0xf3) repPrefix = b;
    else if (b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e) seg = Seg.None; // ES/CS/SS/DS: no base in 64-bit mode
    else if (b === 0x64) seg = Seg.FS;
    else if (b === 0x65) seg = Seg.GS;
    else break;
    rex = 0; // a REX prefix followed by a legacy prefix is ignored (Intel SDM Vol.2 §2.2.1)
  }
  let map = 0;
  if (b === 0x0f) {
    map = 1;
    b = nextByte();
  }
  const candidates = INDEX[map * 256 + b]!;
  const count = candidates.length;
  if (count === 0) return faultInsn(Vector.UD, cursorPos, null);
  const rexW = (rex & 8) !== 0;
  const rexR = (rex & 4) !== 0 ? 8 : 0;
  const rexX = (rex & 2) !== 0 ? 8 : 0;
  const rexB = (rex & 1) !== 0 ? 8 : 0;
  const needModrm = candidates[0]!.hasModrm;
  let modrm = -1;
  if (needModrm) modrm = nextByte();
  const mod = modrm >> 6;
  const regField = (modrm >> 3) & 7;

  let dr: DecodeRow | undefined;
  for (let ci = 0; ci < count; ci++) {
    const c = candidates[ci]!;
    if (c.prefix !== 0 && c.prefix !== repPrefix) continue;
    if (c.fixedModrm >= 0 && c.fixedModrm !== modrm) continue;
    if (c.regExt >= 0 && c.regExt !== regField) continue;
    if (c.form === 1 && mod === 3) continue;
    if (c.form === 2 && mod !== 3) continue;
    if (c.noRexB && rexB !== 0) continue;
    if (c.no66 && opsize16) continue;
    dr = c;
    break;
  }
  if (dr === undefined) return faultInsn(Vector.UD, cursorPos, null);

  const opSize = dr.f64 || rexW ? 8 : dr.d64 ? (opsize16 ? 2 : 8) : opsize16 ? 2 : 4;
  const d = new Insn(raiseDecodeFault);
  const row = dr.row;
  d.row = row;
  d.addrSize = addr32 ? 4 : 8;
  d.op = row.op ?? 0;
  d.seg = seg;
  d.endsBlock = dr.ends;
  if (dr.rep && repPrefix !== 0 && dr.prefix === 0) d.rep = repPrefix === 0xf3 ? 1 : 2;

  // Memory operand from ModRM/SIB/displacement.
  const isMem = needModrm && mod !== 3 && dr.fixedModrm < 0 && dr.memForm;
  if (isMem) {
    const rm = modrm & 7;
    let base = NO_REG;
    let index = NO_REG;
    let scale = 0;
    let disp = 0;
    if (rm === 4) {
      const sib = nextByte();
      scale = sib >> 6;
      const idx = ((sib >> 3) & 7) | rexX;
      if (idx !== 4) index = idx;
      const sb = sib & 7;
      if (sb === 5 && mod === 0) {
        base = NO_REG;
        disp = nextSigned(4);
      } else {
        base = sb | rexB;
      }
    } else if (rm === 5 && mod === 0) {
      base = BASE_RIP;
      disp = nextSigned(4);
    } else {
      base = rm | rexB;
    }
    if (mod === 1) disp = nextSigned(1);
    else if (mod === 2) disp = nextSigned(4);
    d.base = base;
    d.index = index;
    d.scale = scale;
    d.dispLo = disp;
    d.dispHi = disp >> 31;
    // #SS rather than #GP for a non-canonical address: only an RSP or RBP base (not R12/R13, not an
    // SS override on another base), and not with an FS/GS override (measured on this CPU).
    d.stackAccess = seg === Seg.None && (base === 4 || base === 5);
    d.baseOnly = base >= 0 && base < 16 && index === NO_REG && seg === Seg.None && !addr32;
  }

  // Operand size of the instruction: the first sized operand that is not a fixed-size immediate.
  const size = dr.mainSize === SizeCode.None ? opSize : sizeOf(dr.mainSize, opSize);
  d.size = size;

  // Operands, in order. A register operand lands in r1 when it is the first operand and in r2
  // otherwise, whatever the other operand is (so 'Ev,Gv' puts G in r2 in both forms).
  let immSlot = 0;
  let usesMem = isMem;
  const kinds = dr.kinds;
  const sizes = dr.sizeCodes;
  const nOps = kinds.length;
  for (let oi = 0; oi < nOps; oi++) {
    const sc = sizes[oi]!;
    let reg = -1;
    switch (kinds[oi]!) {
      case Kind.E:
        if (!isMem) reg = regOperand((modrm & 7) | rexB, sc === SizeCode.B, rex);
        break;
      case Kind.G:
        reg = regOperand(regField | rexR, sc === SizeCode.B, rex);
        break;
      case Kind.Z:
        reg = regOperand((b & 7) | rexB, sc === SizeCode.B, rex);
        break;
      case Kind.R:
        reg = (modrm & 7) | rexB;
        break;
      case Kind.C: {
        const cr = regField | rexR;
        if (cr !== 0 && cr !== 2 && cr !== 3 && cr !== 4) return faultInsn(Vector.UD, cursorPos, row);
        d.op = cr;
        break;
      }
      case Kind.D: {
        // DR8..DR15 (REX.R) do not exist: #UD (Intel SDM Vol.2 "MOV-Move to/from Debug Registers").
        const dr = regField | rexR;
        if (dr > 7) return faultInsn(Vector.UD, cursorPos, row);
        d.op = dr;
        break;
      }
      case Kind.FixedReg:
        reg = dr.operands[oi]!.fixed;
        break;
      case Kind.One:
        d.immLo = 1;
        break;
      case Kind.I: {
        const n = sc === SizeCode.B ? 1 : sc === SizeCode.W ? 2 : sc === SizeCode.D ? 4 : sc === SizeCode.V ? opSize : opSize === 2 ? 2 : 4;
        if (immSlot === 1) {
          d.imm2 = nextSigned(n) & 0xff;
          break;
        }
        immSlot++;
        if (n === 8) {
          d.immLo = nextSigned(4);
          d.immHi = nextSigned(4);
        } else if (sc === SizeCode.W) {
          d.immLo = nextSigned(2) & 0xffff; // Iw (RET, ENTER): an unsigned count
          d.immHi = 0;
        } else {
          const v = nextSigned(n);
          // Immediates are stored truncated to the operand size so handlers can use them directly.
          if (size === 8) {
            d.immLo = v;
            d.immHi = v >> 31;
          } else {
            d.immLo = size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v;
            d.immHi = 0;
          }
        }
        break;
      }
      case Kind.J: {
        d.immLo = nextSigned(sc === SizeCode.B ? 1 : 4);
        d.immHi = d.immLo >> 31;
        break;
      }
      case Kind.O: {
        usesMem = true;
        d.dispLo = nextSigned(4);
        d.dispHi = addr32 ? 0 : nextSigned(4);
        d.base = NO_REG;
        d.index = NO_REG;
        d.stackAccess = false;
        break;
      }
      default:
        break; // M (handled above), X, Y, CL: implicit
    }
    if (reg >= 0) {
      if (oi === 0) d.r1 = reg;
      else d.r2 = reg;
    }
  }
  d.len = cursorPos;

  // LOCK is legal only on the listed read-modify-write instructions with a memory destination (#UD otherwise).
  if (lock && !(dr.lock && usesMem)) return faultInsn(Vector.UD, d.len, row);

  const handler = usesMem
    ? (d.size === 8 && row.mem64 !== undefined ? row.mem64 : row.mem)
    : d.size === 8 && row.reg64 !== undefined ? row.reg64 : row.reg;
  if (handler === undefined) return faultInsn(Vector.UD, d.len, row);
  d.exec = handler;
  return d;
}

function sizeOf(code: SizeCode, opSize: number): number {
  switch (code) {
    case SizeCode.B: return 1;
    case SizeCode.W: return 2;
    case SizeCode.D: return 4;
    case SizeCode.Q: return 8;
    case SizeCode.Y: return opSize === 8 ? 8 : 4;
    default: return opSize; // v, z
  }
}
