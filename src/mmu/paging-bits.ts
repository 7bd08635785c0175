// Long-mode paging: the entry formats and control-register bits, as data the walker and the trace
// share. A 64-bit entry is handled as two unsigned 32-bit halves (lo = bits 31:0, hi = bits 63:32),
// so the walk never touches BigInt.
//
// Entry formats (AMD APM Vol.2 §5.4.1 figures 5-18..5-24; Intel SDM Vol.3A §4.5, tables 4-15..4-20):
//
//   bit  | PML4E      | PDPTE (PS=0) | PDPTE (PS=1, 1G) | PDE (PS=0) | PDE (PS=1, 2M) | PTE
//   0    | P          | P            | P                | P          | P              | P
//   1    | R/W        | R/W          | R/W              | R/W        | R/W            | R/W
//   2    | U/S        | U/S          | U/S              | U/S        | U/S            | U/S
//   3,4  | PWT,PCD    | PWT,PCD      | PWT,PCD          | PWT,PCD    | PWT,PCD        | PWT,PCD
//   5    | A          | A            | A                | A          | A              | A
//   6    | ign        | ign          | D                | ign        | D              | D
//   7    | MBZ (PS)   | PS=0         | PS=1             | PS=0       | PS=1           | PAT
//   8    | MBZ on AMD | MBZ on AMD   | G                | ign        | G              | G
//   12   | addr       | addr         | PAT              | addr       | PAT            | addr
//   29:13| addr       | addr         | MBZ              | addr       | 20:13 MBZ      | addr
//   47:12| table base | table base   | 47:30 frame      | table base | 47:21 frame    | 47:12 frame
//   51:48| MBZ (above MAXPHYADDR = 48)
//   62:52| available (ignored)
//   63   | NX: execute-disable when EFER.NXE=1; reserved (MBZ) when EFER.NXE=0
//
// MAXPHYADDR is 48 (CPUID 0x80000008 EAX[7:0] reports 48, docs/memory.md): bits 51:48 of every entry
// are reserved. Bit 8 of a non-leaf PML4E or PDPTE is reserved on AMD processors only (KVM's
// __reset_rsvds_bits_mask, "Non-leaf PML4Es and PDPEs reserve bit 8 ... on AMD CPUs only"); snpemu
// models an AMD (SEV-SNP) part, so it is reserved here.

export const TWO_32 = 4294967296;
export const MAXPHYADDR = 48;

// Entry bits in the low half.
export const E_P = 1 << 0;
export const E_RW = 1 << 1;
export const E_US = 1 << 2;
export const E_PWT = 1 << 3;
export const E_PCD = 1 << 4;
export const E_A = 1 << 5;
export const E_D = 1 << 6;
export const E_PS = 1 << 7;
export const E_G = 1 << 8;
/** Bits 47:32 of a frame or table address, in the high half. */
export const HI_ADDR_MASK = 0x0000ffff;
/** Bits 51:48 (above MAXPHYADDR) in the high half: reserved at every level. */
export const HI_RSVD_ABOVE_MAXPHYADDR = 0x000f0000;
/** Bit 63 (NX) in the high half. */
export const HI_NX = 0x80000000;

/** Reserved bits of the low half, per level and shape (level 4 = PML4E ... level 1 = PTE). */
export const LO_RSVD_PML4E = 0x180; // bit 7 (PS) and bit 8 (AMD)
export const LO_RSVD_PDPTE_TABLE = 0x100; // bit 8 (AMD)
export const LO_RSVD_PDPTE_1G = 0x3fffe000; // bits 29:13: the frame must be 1G-aligned
export const LO_RSVD_PDE_2M = 0x001fe000; // bits 20:13: the frame must be 2M-aligned
export const LO_FRAME_4K = 0xfffff000;
export const LO_FRAME_2M = 0xffe00000;
export const LO_FRAME_1G = 0xc0000000;

export const PAGE_4K = 4096;
export const PAGE_2M = 2 * 1024 * 1024;
export const PAGE_1G = 1024 * 1024 * 1024;

// Control registers (AMD APM Vol.2 §3.1; Intel SDM Vol.3A §2.5).
export const CR0_WP = 1 << 16;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;
export const CR4_LA57 = 1 << 12;
export const CR4_PCIDE = 1 << 17;
export const CR4_SMEP = 1 << 20;
export const CR4_SMAP = 1 << 21;
export const CR4_PKE = 1 << 22;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;

/** Level names, indexed by level number (4 = top). */
export const LEVEL_NAMES = ['', 'PTE', 'PDE', 'PDPTE', 'PML4E'] as const;
export type LevelName = 'PTE' | 'PDE' | 'PDPTE' | 'PML4E';

/** Index of the entry used at `level` for a 48-bit linear address (bits 47:39, 38:30, 29:21, 20:12). */
export function entryIndex(la: number, level: number): number {
  switch (level) {
    case 4:
      return Math.floor(la / 549755813888) & 511; // 2^39
    case 3:
      return Math.floor(la / 1073741824) & 511; // 2^30
    case 2:
      return (la >>> 21) & 511;
    default:
      return (la >>> 12) & 511;
  }
}

/** Decoded flags of one entry, for traces and explanations. */
export interface EntryFlags {
  P: boolean;
  RW: boolean;
  US: boolean;
  PWT: boolean;
  PCD: boolean;
  A: boolean;
  /** Meaningful in a leaf only. */
  D: boolean;
  /** PS in a PDPTE/PDE; PAT in a PTE (reported as PS=false there). */
  PS: boolean;
  /** Meaningful in a leaf only. */
  G: boolean;
  NX: boolean;
}

export function decodeFlags(lo: number, hi: number, level: number): EntryFlags {
  return {
    P: (lo & E_P) !== 0,
    RW: (lo & E_RW) !== 0,
    US: (lo & E_US) !== 0,
    PWT: (lo & E_PWT) !== 0,
    PCD: (lo & E_PCD) !== 0,
    A: (lo & E_A) !== 0,
    D: (lo & E_D) !== 0,
    PS: level !== 1 && (lo & E_PS) !== 0,
    G: (lo & E_G) !== 0,
    NX: (hi & HI_NX) !== 0,
  };
}

/** Names of the reserved bits set in an entry, as the walk found them (for `why` sentences). */
export function describeReservedBits(rsvdLo: number, rsvdHi: number, level: number, leaf: boolean): string[] {
  const out: string[] = [];
  if ((rsvdHi & HI_RSVD_ABOVE_MAXPHYADDR) !== 0) {
    out.push(`bits 51:48 (above MAXPHYADDR ${MAXPHYADDR}) = 0x${((rsvdHi >>> 16) & 0xf).toString(16)}`);
  }
  if ((rsvdHi & HI_NX) !== 0) out.push('bit 63 (NX) while EFER.NXE=0');
  if (level === 4 && (rsvdLo & E_PS) !== 0) out.push('bit 7 (PS), which must be 0 in a PML4E');
  if ((level === 4 || (level === 3 && !leaf)) && (rsvdLo & E_G) !== 0) {
    out.push(`bit 8, which must be 0 in a non-leaf ${LEVEL_NAMES[level]} on AMD processors`);
  }
  if (level === 3 && leaf && (rsvdLo & LO_RSVD_PDPTE_1G) !== 0) {
    out.push(`bits 29:13 = 0x${((rsvdLo & LO_RSVD_PDPTE_1G) >>> 0).toString(16)}: a 1G page frame must be 1G-aligned`);
  }
  if (level === 2 && leaf && (rsvdLo & LO_RSVD_PDE_2M) !== 0) {
    out.push(`bits 20:13 = 0x${((rsvdLo & LO_RSVD_PDE_2M) >>> 0).toString(16)}: a 2M page frame must be 2M-aligned`);
  }
  return out;
}

export function hex(n: number): string {
  return '0x' + n.toString(16);
}

export function hex64(lo: number, hi: number): string {
  return '0x' + (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

// ---------------------------------------------------------------------------------------------------
// The same entry format as 64-bit bigint masks, for code off the hot path that builds or edits
// whole entries (the kernel's page tables, the hypervisor's nested tables, guest page tables):
// bit 63 (NX) does not fit a 32-bit number, and those builders read and write entries with
// PhysicalMemory.readU64/writeU64.

/**
 * Paging-structure entry bits (AMD APM Vol.2 §5.4.1, figures 5-18..5-24; Intel SDM Vol.3A §4.5,
 * tables 4-15..4-20). PS is bit 7 of a PDPTE/PDE; in a 4K PTE bit 7 is PAT instead.
 */
export const PTE_BITS = {
  P: 1n << 0n,
  RW: 1n << 1n,
  US: 1n << 2n,
  PWT: 1n << 3n,
  PCD: 1n << 4n,
  A: 1n << 5n,
  D: 1n << 6n,
  PS: 1n << 7n,
  G: 1n << 8n,
  /** PAT bit of a 2M/1G leaf (bit 12); in a 4K PTE the PAT bit is bit 7 (AMD APM Vol.2 §5.4.1). */
  PAT_LARGE: 1n << 12n,
  /** Execute-disable when EFER.NXE=1 ; reserved when EFER.NXE=0 (AMD APM Vol.2 §5.4.1). */
  NX: 1n << 63n,
} as const;

export type PteBitName = keyof typeof PTE_BITS;

/**
 * Physical-address field of an entry: bits 51:12, the architectural ceiling (MAXPHYADDR 52,
 * AMD APM Vol.2 §5.4.1). Bits above this model's MAXPHYADDR are reserved, and the walks check them.
 */
export const PTE_ADDR_MASK = 0x000ffffffffff000n;

/**
 * Physical-address field for a 48-bit physical address space (bits 47:12, AMD APM Vol.2 §5.4.1 with
 * MAXPHYADDR = 48): what a guest's tables hold, where bit 51 is the SEV C-bit, not an address bit.
 */
export const PTE_ADDR_MASK_48 = 0x0000fffffffff000n;
