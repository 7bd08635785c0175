// The one typed view of an RMP entry. Nothing else in snpemu parses raw entries: the host check's
// fast path uses the byte masks exported here, everything else decodes with `decodeEntry`.
//
// Raw in-memory format (NOT architectural; Linux `struct rmpentry_raw`, AMD firmware
// `rmp_fields_t`/`rmp_quadword2_t`; spec/rmp.md §1.4). Each entry is 16 bytes, little-endian:
//
//   qword 0                                   qword 1
//   bit  0      assigned                      bits  7:0   VMPL0 permission mask
//   bit  1      pagesize (1 = 2 MB)           bits 15:8   VMPL1 permission mask
//   bit  2      immutable                     bits 23:16  VMPL2 permission mask
//   bits 11:3   subpage_count (2M-aligned     bits 31:24  VMPL3 permission mask
//               entry: assigned entries       bits 63:32  implicit key select, root port, IDE
//               among the 511 others)                     stream, page migration (kept as-is)
//   bits 50:12  gpa >> 12 (39 bits)
//   bits 60:51  asid (10 bits)
//   bit  61     vmsa
//   bit  62     validated
//   bit  63     lock (firmware; set with Immutable on Firmware pages)
//
// In memory we read the entry as four little-endian 32-bit words: w0 = qword0 bits 31:0,
// w1 = qword0 bits 63:32, w2 = qword1 bits 31:0, w3 = qword1 bits 63:32.
//
// The architectural RMPUPDATE/RMPREAD 16-byte state (spec/rmp.md §1.4, Linux `struct rmp_state`,
// `struct rmpentry`) is a different format; `decodeRmpState`/`encodeRmpState` handle it.

export const RMP_ENTRY_BYTES = 16;
/** The processor bookkeeping area before the first entry (Linux RMPTABLE_CPU_BOOKKEEPING_SZ). */
export const RMP_BOOKKEEPING_BYTES = 0x4000;
export const PAGES_PER_2M = 512;

/** RMP page sizes (Linux RMP_PG_SIZE_4K / RMP_PG_SIZE_2M). */
export const RmpPageSize = { Size4K: 0, Size2M: 1 } as const;
export type RmpPageSizeValue = (typeof RmpPageSize)[keyof typeof RmpPageSize];

// Byte-level masks for the host check's fast path (byte 0 and byte 1 of qword 0).
/** Byte 0 bit 0: Assigned. */
export const BYTE0_ASSIGNED = 0x01;
/** Byte 0 bit 1: Page_Size. */
export const BYTE0_PAGESIZE = 0x02;
/** Byte 0 bit 2: Immutable. */
export const BYTE0_IMMUTABLE = 0x04;
/** Byte 0 bits 7:3 hold subpage_count bits 4:0. */
export const BYTE0_SUBPAGE_LOW = 0xf8;
/** Byte 1 bits 3:0 hold subpage_count bits 8:5. */
export const BYTE1_SUBPAGE_HIGH = 0x0f;

/** VMPL permission-mask bits (spec/rmp.md §1.4; AMD firmware vmpl_perm_mask_t). */
export const VmplPerm = {
  Read: 0x01,
  Write: 0x02,
  ExecuteUser: 0x04,
  ExecuteSupervisor: 0x08,
  SupervisorShadowStack: 0x10,
} as const;
/** "All permissions" as RMPUPDATE leaves VMPL0 (bits 4:0; bits 7:5 are reserved). */
export const VMPL_PERM_ALL = 0x1f;

/** A decoded RMP entry: every field of the raw format. */
export interface RmpEntry {
  assigned: boolean;
  /** 0 = 4 KB, 1 = 2 MB (meaningful on the 2 MB-aligned entry). */
  pageSize: RmpPageSizeValue;
  immutable: boolean;
  /** Hardware-kept count of assigned entries among the other 511 of a 2 MB region (aligned entry only). */
  subpageCount: number;
  /** Guest physical address (a byte address, multiple of 4096, below 2^51). */
  gpa: number;
  asid: number;
  vmsa: boolean;
  validated: boolean;
  /** Firmware lock bit (bit 63 of qword 0). */
  lock: boolean;
  /** Permission masks of VMPL0..VMPL3. */
  vmpl: [number, number, number, number];
  /** Bits 63:32 of qword 1 (key select, root port, IDE stream, migration), kept unchanged. */
  qword1High: number;
}

export const MAX_ASID = 0x3ff;
/** Largest GPA the 39-bit field holds, exclusive: 2^51. */
export const GPA_LIMIT = 2 ** 51;

export function emptyEntry(): RmpEntry {
  return {
    assigned: false, pageSize: 0, immutable: false, subpageCount: 0, gpa: 0, asid: 0,
    vmsa: false, validated: false, lock: false, vmpl: [0, 0, 0, 0], qword1High: 0,
  };
}

/** Decode the four little-endian 32-bit words of a raw entry. */
export function decodeWords(w0: number, w1: number, w2: number, w3: number): RmpEntry {
  return decodeWordsInto(w0, w1, w2, w3, emptyEntry());
}

/**
 * Decode the four raw words into an existing entry record, its `vmpl` array included, and return
 * it: the allocation-free form of `decodeWords` for hot paths (RmpTable.entryInto).
 */
export function decodeWordsInto(w0: number, w1: number, w2: number, w3: number, out: RmpEntry): RmpEntry {
  // gpa bits 50:12 = w0 bits 31:12 (20 bits) then w1 bits 18:0 (19 bits).
  const gpaPage = (w0 >>> 12) + (w1 & 0x7ffff) * 0x100000;
  out.assigned = (w0 & 1) !== 0;
  out.pageSize = ((w0 >>> 1) & 1) as RmpPageSizeValue;
  out.immutable = ((w0 >>> 2) & 1) !== 0;
  out.subpageCount = (w0 >>> 3) & 0x1ff;
  out.gpa = gpaPage * 4096;
  out.asid = (w1 >>> 19) & 0x3ff;
  out.vmsa = ((w1 >>> 29) & 1) !== 0;
  out.validated = ((w1 >>> 30) & 1) !== 0;
  out.lock = ((w1 >>> 31) & 1) !== 0;
  const vmpl = out.vmpl;
  vmpl[0] = w2 & 0xff;
  vmpl[1] = (w2 >>> 8) & 0xff;
  vmpl[2] = (w2 >>> 16) & 0xff;
  vmpl[3] = (w2 >>> 24) & 0xff;
  out.qword1High = w3 >>> 0;
  return out;
}

/** A copy that shares nothing with `e` (its own `vmpl` array). */
export function copyEntry(e: RmpEntry): RmpEntry {
  return { ...e, vmpl: [e.vmpl[0], e.vmpl[1], e.vmpl[2], e.vmpl[3]] };
}

/** Encode an entry into its four raw words. Throws on a field that does not fit. */
export function encodeWords(e: RmpEntry): [number, number, number, number] {
  checkEntryFields(e);
  const gpaPage = e.gpa / 4096;
  const w0 =
    (e.assigned ? 1 : 0) |
    (e.pageSize << 1) |
    (e.immutable ? 4 : 0) |
    (e.subpageCount << 3) |
    ((gpaPage % 0x100000) << 12);
  const w1 =
    Math.floor(gpaPage / 0x100000) |
    (e.asid << 19) |
    (e.vmsa ? 1 << 29 : 0) |
    (e.validated ? 1 << 30 : 0) |
    (e.lock ? 1 << 31 : 0);
  const w2 = e.vmpl[0] | (e.vmpl[1] << 8) | (e.vmpl[2] << 16) | (e.vmpl[3] << 24);
  return [w0 >>> 0, w1 >>> 0, w2 >>> 0, e.qword1High >>> 0];
}

function checkEntryFields(e: RmpEntry): void {
  if (!Number.isSafeInteger(e.gpa) || e.gpa < 0 || e.gpa % 4096 !== 0 || e.gpa >= GPA_LIMIT) {
    throw new RangeError(`RMP entry gpa must be a 4 KiB-aligned address below 2^51, got 0x${e.gpa.toString(16)}`);
  }
  if (!Number.isInteger(e.asid) || e.asid < 0 || e.asid > MAX_ASID) {
    throw new RangeError(`RMP entry asid must be 0..1023 (10 bits), got ${e.asid}`);
  }
  if (!Number.isInteger(e.subpageCount) || e.subpageCount < 0 || e.subpageCount > 511) {
    throw new RangeError(`RMP entry subpage count must be 0..511, got ${e.subpageCount}`);
  }
  if (e.pageSize !== 0 && e.pageSize !== 1) throw new RangeError(`RMP entry page size must be 0 or 1, got ${e.pageSize}`);
  for (let i = 0; i < 4; i++) {
    const m = e.vmpl[i]!;
    if (!Number.isInteger(m) || m < 0 || m > 0xff) throw new RangeError(`VMPL${i} permission mask must be a byte, got ${m}`);
  }
  if (!Number.isInteger(e.qword1High) || e.qword1High < 0 || e.qword1High > 0xffffffff) {
    throw new RangeError(`RMP entry qword1 bits 63:32 must be a 32-bit value, got ${e.qword1High}`);
  }
}

/** The two raw qwords (Linux's `lo` and `hi`) from the four words. */
export function wordsToQwords(w0: number, w1: number, w2: number, w3: number): { lo: bigint; hi: bigint } {
  return {
    lo: (BigInt(w1 >>> 0) << 32n) | BigInt(w0 >>> 0),
    hi: (BigInt(w3 >>> 0) << 32n) | BigInt(w2 >>> 0),
  };
}

/** Decode a raw entry given as Linux's two qwords. */
export function decodeQwords(lo: bigint, hi: bigint): RmpEntry {
  const m = 0xffffffffn;
  return decodeWords(Number(lo & m), Number((lo >> 32n) & m), Number(hi & m), Number((hi >> 32n) & m));
}

/** Encode an entry into Linux's two qwords. */
export function encodeQwords(e: RmpEntry): { lo: bigint; hi: bigint } {
  const [w0, w1, w2, w3] = encodeWords(e);
  return wordsToQwords(w0, w1, w2, w3);
}

/** Zero-padded 16-digit hex, as Linux prints raw entries (%016llx). */
export function hex64(v: bigint): string {
  return '0x' + v.toString(16).padStart(16, '0');
}

/** The decoded fields as one line, for explanations: "Assigned=1, 4K, Immutable=0, ...". */
export function describeFields(e: RmpEntry): string {
  const parts = [
    `Assigned=${e.assigned ? 1 : 0}`,
    `Page_Size=${e.pageSize === 1 ? '2M' : '4K'}`,
    `Immutable=${e.immutable ? 1 : 0}`,
    `ASID=${e.asid}`,
    `GPA=0x${e.gpa.toString(16)}`,
    `Validated=${e.validated ? 1 : 0}`,
    `VMSA=${e.vmsa ? 1 : 0}`,
  ];
  if (e.lock) parts.push('Lock=1');
  if (e.subpageCount !== 0) parts.push(`subpage_count=${e.subpageCount}`);
  if (e.vmpl.some((m) => m !== 0)) parts.push(`VMPL0..3 perms=${e.vmpl.map((m) => '0x' + m.toString(16)).join('/')}`);
  return parts.join(', ');
}

// ---------------------------------------------------------------------------------------------
// The architectural 16-byte state of RMPUPDATE (input) and RMPREAD (output), spec/rmp.md §1.4:
//   bytes 0..7   gpa (u64, a byte address)
//   byte  8      bit 0 assigned
//   byte  9      bit 0 page size, bit 1 "2MB region status" (RMPREAD output only)
//   byte  10     bit 0 immutable
//   byte  11     reserved
//   bytes 12..15 asid (u32)

export interface RmpState {
  gpa: number;
  /** High 32 bits of the gpa field beyond what a JS number holds exactly, for reserved-bit checks. */
  gpaHigh: number;
  assigned: boolean;
  pageSize: RmpPageSizeValue;
  /** RMPREAD's bit 1 of byte 9. */
  region2M: boolean;
  immutable: boolean;
  asid: number;
  /** Bits that are reserved in the RMPUPDATE input (any set bit makes the input malformed). */
  reservedBits: boolean;
}

export const RMP_STATE_BYTES = 16;

function u32le(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/** Decode an RMPUPDATE input state (16 bytes). */
export function decodeRmpState(b: Uint8Array): RmpState {
  if (b.length !== RMP_STATE_BYTES) throw new RangeError(`an RMP state is ${RMP_STATE_BYTES} bytes, got ${b.length}`);
  const gpaLow = u32le(b, 0);
  const gpaHigh = u32le(b, 4);
  return {
    gpa: gpaHigh * 0x100000000 + gpaLow,
    gpaHigh,
    assigned: (b[8]! & 1) !== 0,
    pageSize: (b[9]! & 1) as RmpPageSizeValue,
    region2M: (b[9]! & 2) !== 0,
    immutable: (b[10]! & 1) !== 0,
    asid: u32le(b, 12),
    reservedBits: (b[8]! & 0xfe) !== 0 || (b[9]! & 0xfe) !== 0 || (b[10]! & 0xfe) !== 0 || b[11]! !== 0,
  };
}

/** Encode a state in the architectural format (used for RMPREAD output and to build RMPUPDATE input). */
export function encodeRmpState(s: {
  gpa: number; assigned: boolean; pageSize: number; immutable: boolean; asid: number; region2M?: boolean;
}): Uint8Array {
  const b = new Uint8Array(RMP_STATE_BYTES);
  const lo = s.gpa % 0x100000000;
  const hi = Math.floor(s.gpa / 0x100000000);
  for (let i = 0; i < 4; i++) {
    b[i] = (lo >>> (8 * i)) & 0xff;
    b[4 + i] = (hi >>> (8 * i)) & 0xff;
    b[12 + i] = (s.asid >>> (8 * i)) & 0xff;
  }
  b[8] = s.assigned ? 1 : 0;
  b[9] = (s.pageSize & 1) | (s.region2M ? 2 : 0);
  b[10] = s.immutable ? 1 : 0;
  return b;
}
