// What a walk did, as plain records: the CLI's `walk` command, `--trace mmu/rmp`, scenario results
// and CpuFault.detail all read these. Built only when someone asks (walkTrace, an observer, a
// fault), never on the hot path.

import type { AccessKind } from './linear-memory.ts';
import type { RmpCheckFailure, TableAccessKind } from '../rmp/host-check.ts';
import type { EntryFlags, LevelName } from './paging-bits.ts';

export interface LevelTrace {
  /** 4 = PML4E, 3 = PDPTE, 2 = PDE, 1 = PTE. */
  level: number;
  name: LevelName;
  /** Index of the entry in its table (bits of the linear address). */
  index: number;
  /** System physical address of the entry. */
  entryAddress: number;
  /** The entry as read (before any A/D update). */
  value: bigint;
  flags: EntryFlags;
  /** Reserved bits found set (0n when none). */
  reservedBits: bigint;
  /** True when this entry maps the page (PTE, or PS=1 in a PDE/PDPTE). */
  leaf: boolean;
}

export interface RmpCheckTrace {
  /** System physical address checked. */
  spa: number;
  access: AccessKind;
  /** 4096 for table accesses; the mapping size for the final check. */
  mapBytes: number;
  table: TableAccessKind;
  /** The level of the entry for table accesses, 0 for the final check. */
  level: number;
  /** null when the check passed. */
  failure: RmpCheckFailure | null;
}

export interface AdWriteTrace {
  level: number;
  entryAddress: number;
  before: bigint;
  after: bigint;
}

export type FaultReason = 'not-present' | 'reserved' | 'protection' | 'rmp';

export interface WalkFault {
  vector: 14;
  errorCode: number;
  /** CR2: the linear address, sign-extended. */
  address: bigint;
  reason: FaultReason;
  /** Level whose entry caused it (4..1), or 0 for a protection/RMP fault on the whole translation. */
  level: number;
  why: string;
}

export interface WalkTrace {
  /** The linear address, sign-extended to 64 bits. */
  linearAddress: bigint;
  access: AccessKind;
  accessName: 'read' | 'write' | 'fetch';
  /** 'user', 'supervisor', 'supervisor (RFLAGS.AC=1)' or 'implicit supervisor'. */
  mode: string;
  /** False when CR0.PG=0: linear = physical, no levels. */
  paging: boolean;
  cr3: number;
  levels: LevelTrace[];
  /** Final system physical address, or null on a fault before the translation completed. */
  physicalAddress: number | null;
  /** 4096, 2 MiB or 1 GiB, or null. */
  pageSize: number | null;
  /** Combined rights over all levels. */
  writable: boolean | null;
  user: boolean | null;
  executeDisable: boolean | null;
  global: boolean | null;
  /** RMP checks in the order made (empty when SNP is off or a paging check failed first). */
  rmpChecks: RmpCheckTrace[];
  /** A/D writes made (or, for walkTrace, that the access would make). */
  adWrites: AdWriteTrace[];
  fault: WalkFault | null;
}

/** Event of a TLB lookup (only delivered when an observer is attached). */
export interface TlbTrace {
  linearAddress: bigint;
  access: AccessKind;
  hit: boolean;
}

/**
 * The observer slot for traces (`mmu.observer`). With no observer attached the MMU's fast path is
 * untouched; with one attached, every access takes the slow path so each lookup can be reported.
 */
export interface MmuObserver {
  /** After every walk that ran for a real access (success or fault). */
  walk?(trace: WalkTrace): void;
  /** Every TLB lookup (not made when the TLB is off). */
  tlb?(event: TlbTrace): void;
  /** Every A/D write, after it landed. */
  adWrite?(event: AdWriteTrace): void;
  /** Every RMP check the MMU made. */
  rmpCheck?(event: RmpCheckTrace): void;
  /**
   * Every data access the CPU makes through read8..read64 / write8..write64, once it passed every
   * check: `la` the 48-bit linear address, `pa` the physical address of its first byte, `size` in
   * bytes, the value as two unsigned 32-bit halves (`hi` is 0 unless size is 8). Reads are reported
   * after the value was read, writes before it lands. Fetches, probes and the kernel-side
   * readBytes/writeBytes are not data accesses of an instruction and are not reported. Positional
   * arguments, not an event object: no allocation per access.
   */
  access?(kind: AccessKind, la: number, pa: number, size: number, lo: number, hi: number): void;
}

export const ACCESS_NAMES = ['read', 'write', 'fetch'] as const;
