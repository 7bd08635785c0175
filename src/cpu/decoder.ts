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
  E, G, M, I, J, O, Z, R, C, X, Y, FixedReg, One, CL,
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
}

function parseOperand(t: string): OperandSpec {
  if (t === 'AL') return { kind: Kind.FixedReg, size: 'b', fixed: 0 };
  if (t === 'rAX') return { kind: Kind.FixedReg, size: 'v', fixed: 0 };
  if (t === 'CL') return { kind: Kind.CL, size: '', fixed: 1 };
  if (t === '1') return { kind: Kind.One, size: '', fixed: 0 };
  const letter = t[0]!;
  const size = t.slice(1);
  const kinds: Record<string, Kind> = { E: Kind.E, G: Kind.G, M: Kind.M, I: Kind.I, J: Kind.J, O: Kind.O, Z: Kind.Z, R: Kind.R, C: Kind.C, X: Kind.X, Y: Kind.Y };
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
    operands.some((o) => o.kind === Kind.E || o.kind === Kind.G || o.kind === Kind.M || o.kind === Kind.R || o.kind === Kind.C);
  if (operands.some((o) => o.kind === Kind.M)) form = 1;
  const base: DecodeRow = {
    row, map, opcode, prefix, regExt, fixedModrm, form, hasModrm, plusReg, operands,
    lock: attrs.has('lock'), d64: attrs.has('d64'), f64: attrs.has('f64'), ends: attrs.has('end'),
    rep: attrs.has('rep'), noRexB: attrs.has('norexb'), no66: attrs.has('no66'),
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

/** The decode rows for one opcode (for tests and tools). */
export function rowsFor(map: number, opcode: number): readonly DecodeRow[] {
  return INDEX[map * 256 + opcode]!;
}

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

/**
 * Decode one instruction. The caller has checked nothing; the result's `len` says how many bytes
 * it used. Fetch faults propagate as CpuFault.
 */
export function decode(src: ByteSource): Insn {
  let i = 0;
  const next = (): number => {
    if (i >= MAX_INSN_LENGTH) throw TOO_LONG;
    return src.byte(i++);
  };
  try {
    return decodeInner(next, () => i);
  } catch (e) {
    if (e === TOO_LONG) return faultInsn(Vector.GP, MAX_INSN_LENGTH, null);
    throw e;
  }
}

function decodeInner(next: () => number, pos: () => number): Insn {
  let opsize16 = false;
  let addr32 = false;
  let lock = false;
  let repPrefix = 0;
  let seg: number = Seg.None;
  let rex = 0;
  let b: number;
  for (;;) {
    b = next();
    if (b >= 0x40 && b <= 0x4f) {
      rex = b;
      continue;
    }
    let legacy = true;
    switch (b) {
      case 0x66: opsize16 = true; break;
      case 0x67: addr32 = true; break;
      case 0xf0: lock = true; break;
      case 0xf2: case 0xf3: repPrefix = b; break;
      case 0x26: case 0x2e: case 0x36: case 0x3e: seg = Seg.None; break; // ES/CS/SS/DS: no base in 64-bit mode
      case 0x64: seg = Seg.FS; break;
      case 0x65: seg = Seg.GS; break;
      default: legacy = false;
    }
    if (!legacy) break;
    rex = 0; // a REX prefix followed by a legacy prefix is ignored (Intel SDM Vol.2 §2.2.1)
  }
  let map = 0;
  if (b === 0x0f) {
    map = 1;
    b = next();
  }
  const candidates = INDEX[map * 256 + b]!;
  if (candidates.length === 0) return faultInsn(Vector.UD, pos(), null);
  const rexW = (rex & 8) !== 0;
  const rexR = (rex & 4) !== 0 ? 8 : 0;
  const rexX = (rex & 2) !== 0 ? 8 : 0;
  const rexB = (rex & 1) !== 0 ? 8 : 0;
  const needModrm = candidates[0]!.hasModrm;
  let modrm = -1;
  if (needModrm) modrm = next();
  const mod = modrm >> 6;
  const regField = (modrm >> 3) & 7;

  let dr: DecodeRow | undefined;
  for (const c of candidates) {
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
  if (dr === undefined) return faultInsn(Vector.UD, pos(), null);

  const opSize = rexW && !dr.f64 ? 8 : dr.f64 ? 8 : dr.d64 ? (opsize16 ? 2 : 8) : opsize16 ? 2 : 4;
  const d = new Insn(raiseDecodeFault);
  d.row = dr.row;
  d.addrSize = addr32 ? 4 : 8;
  d.op = dr.row.op ?? 0;
  d.seg = seg;
  d.endsBlock = dr.ends;
  if (dr.rep && repPrefix !== 0 && dr.prefix === 0) d.rep = repPrefix === 0xf3 ? 1 : 2;

  // Memory operand from ModRM/SIB/displacement.
  const isMem = needModrm && mod !== 3 && dr.fixedModrm < 0 &&
    !dr.operands.some((o) => o.kind === Kind.R || o.kind === Kind.C);
  if (isMem) {
    const rm = modrm & 7;
    let base = NO_REG;
    let index = NO_REG;
    let scale = 0;
    let disp = 0;
    if (rm === 4) {
      const sib = next();
      scale = sib >> 6;
      const idx = ((sib >> 3) & 7) | rexX;
      if (idx !== 4) index = idx;
      const sb = sib & 7;
      if (sb === 5 && mod === 0) {
        base = NO_REG;
        disp = readSigned(next, 4);
      } else {
        base = sb | rexB;
      }
    } else if (rm === 5 && mod === 0) {
      base = BASE_RIP;
      disp = readSigned(next, 4);
    } else {
      base = rm | rexB;
    }
    if (mod === 1) disp = readSigned(next, 1);
    else if (mod === 2) disp = readSigned(next, 4);
    d.base = base;
    d.index = index;
    d.scale = scale;
    d.dispLo = disp;
    d.dispHi = disp >> 31;
    // #SS rather than #GP for a non-canonical address: only an RSP or RBP base (not R12/R13, not an
    // SS override on another base), and not with an FS/GS override (measured on this CPU).
    d.stackAccess = seg === Seg.None && (base === 4 || base === 5);
  }

  // Operand size of the instruction: the first sized operand that is not a fixed-size immediate.
  let size = 0;
  for (const o of dr.operands) {
    if (o.size === '') continue;
    if ((o.kind === Kind.I || o.kind === Kind.J) && o.size !== 'v' && o.size !== 'z') continue;
    size = sizeOf(o.size, opSize);
    break;
  }
  if (size === 0) size = opSize;
  d.size = size;

  // Operands, in order. A register operand lands in r1 when it is the first operand and in r2
  // otherwise, whatever the other operand is (so 'Ev,Gv' puts G in r2 in both forms).
  let immSlot = 0;
  let usesMem = isMem;
  let position = 0;
  const assignReg = (r: number, byteSized: boolean): void => {
    const enc = byteSized && rex === 0 && r >= 4 && r <= 7 ? 16 + (r - 4) : r;
    if (position === 0) d.r1 = enc;
    else d.r2 = enc;
  };
  for (let oi = 0; oi < dr.operands.length; oi++) {
    const o = dr.operands[oi]!;
    position = oi;
    const byteSized = o.size === 'b';
    switch (o.kind) {
      case Kind.E:
        if (!isMem) assignReg((modrm & 7) | rexB, byteSized);
        break;
      case Kind.G:
        assignReg(regField | rexR, byteSized);
        break;
      case Kind.Z:
        assignReg((b & 7) | rexB, byteSized);
        break;
      case Kind.R:
        assignReg((modrm & 7) | rexB, false);
        break;
      case Kind.C: {
        const cr = regField | rexR;
        if (cr !== 0 && cr !== 2 && cr !== 3 && cr !== 4) return faultInsn(Vector.UD, pos(), dr.row);
        d.op = cr;
        break;
      }
      case Kind.FixedReg:
        assignReg(o.fixed, false);
        break;
      case Kind.One:
        d.immLo = 1;
        break;
      case Kind.I: {
        const n = o.size === 'b' ? 1 : o.size === 'w' ? 2 : o.size === 'd' ? 4 : o.size === 'v' ? opSize : opSize === 2 ? 2 : 4;
        if (immSlot === 1) {
          d.imm2 = readSigned(next, n) & 0xff;
          break;
        }
        immSlot++;
        if (n === 8) {
          d.immLo = readSigned(next, 4);
          d.immHi = readSigned(next, 4);
        } else if (o.size === 'w') {
          d.immLo = readSigned(next, 2) & 0xffff; // Iw (RET, ENTER): an unsigned count
          d.immHi = 0;
        } else {
          d.immLo = readSigned(next, n);
          d.immHi = d.immLo >> 31;
          truncateImmediate(d, size);
        }
        break;
      }
      case Kind.J: {
        const n = o.size === 'b' ? 1 : 4;
        d.immLo = readSigned(next, n);
        d.immHi = d.immLo >> 31;
        break;
      }
      case Kind.O: {
        usesMem = true;
        if (addr32) {
          d.dispLo = readSigned(next, 4);
          d.dispHi = 0;
        } else {
          d.dispLo = readSigned(next, 4);
          d.dispHi = readSigned(next, 4);
        }
        d.base = NO_REG;
        d.index = NO_REG;
        d.stackAccess = false;
        break;
      }
      default:
        break; // M (handled above), X, Y, CL: implicit
    }
  }
  d.len = pos();

  // LOCK is legal only on the listed read-modify-write instructions with a memory destination (#UD otherwise).
  if (lock && !(dr.lock && usesMem)) return faultInsn(Vector.UD, d.len, dr.row);

  const handler = usesMem ? dr.row.mem : d.size === 8 && dr.row.reg64 !== undefined ? dr.row.reg64 : dr.row.reg;
  if (handler === undefined) return faultInsn(Vector.UD, d.len, dr.row);
  d.exec = handler;
  return d;
}

function sizeOf(letter: string, opSize: number): number {
  switch (letter) {
    case 'b': return 1;
    case 'w': return 2;
    case 'd': return 4;
    case 'q': return 8;
    case 'y': return opSize === 8 ? 8 : 4;
    default: return opSize; // v, z
  }
}

/** Immediates are stored truncated to the operand size so handlers can use them as operands directly. */
function truncateImmediate(d: Insn, size: number): void {
  if (size < 8) d.immHi = 0;
  if (size === 1) d.immLo &= 0xff;
  else if (size === 2) d.immLo &= 0xffff;
}

function readSigned(next: () => number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) v |= next() << (8 * k);
  if (n === 1) return (v << 24) >> 24;
  if (n === 2) return (v << 16) >> 16;
  return v | 0;
}
