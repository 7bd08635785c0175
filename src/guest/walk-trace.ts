// What a guest translation did, as plain records, for `--trace mmu,rmp` on guest scenarios
// (docs/cli.md "Tracing", docs/guest.md "Tracing"). The shapes follow the host's
// src/mmu/walk-trace.ts where the two agree (levels with entry address and value, A/D writes with
// before/after, TLB hit/miss), and add what only a two-dimensional walk has: each guest entry's
// GPA→SPA nested sub-walk, the ASID, the effective C-bit, and the guest RMP check chain.
//
// Records are built only while an observer is attached (GuestMemory.observe); with none attached
// the walk tests one field per guest level and per nested access and builds nothing.

import { describeFields, type RmpEntry } from '../rmp/entry.ts';
import { SIZE_1G, SIZE_2M } from './constants.ts';

/** Which stage a nested sub-walk served: a guest page-table entry's GPA, or the final GPA. */
export type NestedRole = 'PML4E' | 'PDPTE' | 'PDE' | 'PTE' | 'final';

/** One entry of a nested (GPA→SPA) walk. */
export interface NestedLevelTrace {
  /** 'nPML4E', 'nPDPTE', 'nPDE' or 'nPTE'. */
  name: string;
  /** System physical address of the nested entry. */
  entryAddress: number;
  /** The entry as read (before the walk's A/D update). */
  value: bigint;
}

/** One nested sub-walk (AMD APM Vol.2 §15.25.5). */
export interface NestedWalkTrace {
  role: NestedRole;
  /** "PAGE" (a guest page-table access) or "FINAL" (the final GPA), as EXITINFO1 bits 33/32 name them. */
  kind: 'PAGE' | 'FINAL';
  gpa: number;
  levels: NestedLevelTrace[];
  /** The SPA, or null when the nested walk faulted (an NPF follows). */
  spa: number | null;
  /** Nested leaf size (4096, 2 MiB, 1 GiB), or null on a fault. */
  size: number | null;
  /** Why the nested walk faulted, or null. */
  fault: string | null;
}

/** One guest paging entry (read through its nested sub-walk). */
export interface GuestLevelTrace {
  name: 'PML4E' | 'PDPTE' | 'PDE' | 'PTE';
  /** Guest physical address of the entry. */
  entryGpa: number;
  /** Where that GPA landed (the nested sub-walk's result). */
  entrySpa: number;
  value: bigint;
  leaf: boolean;
}

/** The fault a guest translation ended with. */
export interface GuestWalkFault {
  /** 'npf' (#VMEXIT(NPF)), 'pf' (guest #PF), 'vc' (#VC 0x404). */
  kind: 'npf' | 'pf' | 'vc';
  /** EXITINFO1 for an NPF, the error code for #PF/#VC. */
  code: bigint;
  /** EXITINFO2 (the GPA) for an NPF, CR2 (the guest VA) for #PF/#VC. */
  address: bigint;
  why: string;
}

/** One two-dimensional walk (a guest TLB miss, or the operand of PVALIDATE/RMPADJUST). */
export interface GuestWalkTrace {
  gva: number;
  access: 'read' | 'write' | 'fetch';
  cpl: number;
  asid: number;
  vmpl: number;
  /** Guest CR3 (a GPA), or null when guest paging is off (linear = guest physical). */
  cr3: number | null;
  nCr3: number;
  levels: GuestLevelTrace[];
  /** Every nested sub-walk, in order: one per guest level read, then the final GPA's. */
  nested: NestedWalkTrace[];
  /** The final GPA, or null when the walk faulted before it was known. */
  gpa: number | null;
  spa: number | null;
  guestPageSize: number | null;
  nestedPageSize: number | null;
  /** Effective C-bit of the final access (fetches and page-table accesses are always C=1). */
  cBit: boolean | null;
  /** Memory references (guest + nested entry reads) this walk made. */
  memRefs: number;
  fault: GuestWalkFault | null;
}

export interface GuestTlbTrace {
  asid: number;
  gva: number;
  access: 'read' | 'write' | 'fetch';
  user: boolean;
  hit: boolean;
}

export interface GuestAdWriteTrace {
  /** 'guest' for a guest paging entry, 'nested' for a nested entry. */
  stage: 'guest' | 'nested';
  /** Entry name: 'PTE', 'nPDE', ... */
  name: string;
  /** System physical address of the entry. */
  entryAddress: number;
  before: bigint;
  after: bigint;
}

/**
 * One guest RMP check (spec/rmp.md §3.2): which chain ran on which access, and its result.
 * `chain` is 'C=1' (RMP-Covered, Guest-Owned, Reverse-Map, Mutable, Page-Size, Validated, VMPL),
 * 'Hypervisor-Owned', 'ownership' (PVALIDATE/RMPADJUST: RMP-Covered, Guest-Owned, Reverse-Map,
 * Mutable, then the instruction's size rule) or 'none' (an access the matrix leaves unchecked).
 */
export interface GuestRmpCheckTrace {
  /** 'page' for a guest page-table access, else the access kind; or the instruction's name. */
  access: 'page' | 'read' | 'write' | 'fetch' | 'PVALIDATE' | 'RMPADJUST';
  /** For a page-table access: the guest entry being read. */
  role: NestedRole;
  gpa: number;
  spa: number;
  /** The effective C-bit of the access. */
  cBit: boolean;
  asid: number;
  vmpl: number;
  /** The size the access is checked as: the nested leaf size (4K for non-SNP page-table accesses). */
  checkedAs: number;
  chain: 'C=1' | 'Hypervisor-Owned' | 'ownership' | 'none';
  /** The checks of the chain, in priority order. */
  checks: string[];
  /** VMPL permission the access needs ('R', 'W', 'RW', 'XU', 'XS'), for the C=1 chain. */
  need: string | null;
  /** null when every check passed (or none ran); else the failing check's name. */
  failed: string | null;
  /** The pfn whose entry decided (the 2M-aligned entry for a 2M RMP page), or null. */
  entryPfn: number | null;
  /** That entry's decoded fields (spec/rmp.md §1.4), or why there is none. */
  entry: string | null;
  /** What follows a failure: 'NPF', '#VC 0x404', 'SIZEM NPF', 'FAIL_SIZEMISMATCH'. */
  result: string;
}

/** The observer slot of guest memory: each method optional, each called as the event happens. */
export interface GuestWalkObserver {
  walk?(t: GuestWalkTrace): void;
  /** nested sub-walks, as each completes (also part of the walk record) */
  nested?(t: NestedWalkTrace): void;
  tlb?(t: GuestTlbTrace): void;
  adWrite?(t: GuestAdWriteTrace): void;
  rmpCheck?(t: GuestRmpCheckTrace): void;
}

export const C1_CHAIN = ['RMP-Covered', 'Guest-Owned', 'Reverse-Map', 'Mutable', 'Page-Size', 'Validated', 'VMPL'] as const;
export const OWNERSHIP_CHAIN = ['RMP-Covered', 'Guest-Owned', 'Reverse-Map', 'Mutable', 'Page-Size'] as const;
export const ACCESS_TRACE_NAMES = ['read', 'write', 'fetch'] as const;

/** Name of a VMPL permission mask (spec/rmp.md §1.4 bits: R 1, W 2, XU 4, XS 8). */
export function permName(need: number): string {
  const n: string[] = [];
  if (need & 1) n.push('R');
  if (need & 2) n.push('W');
  if (need & 4) n.push('XU');
  if (need & 8) n.push('XS');
  return n.join('') || '-';
}

export function sizeText(bytes: number | null): string {
  if (bytes === null) return '-';
  return bytes === SIZE_1G ? '1G' : bytes === SIZE_2M ? '2M' : '4K';
}

/** An entry's decoded fields for a trace, or why there is none. */
export function entryText(entry: RmpEntry | null): string | null {
  return entry === null ? null : describeFields(entry);
}
