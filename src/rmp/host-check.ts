// The contract between the MMU's final stage and the RMP (spec/rmp.md §3, §8).
// The MMU calls this on the final system physical address of a translation and on each
// page-table access of its walk; the RMP module decides which accesses are checked and how.

import type { AccessKind } from '../mmu/linear-memory.ts';

/** How a physical access is used by the walk, for the RMP's "page-table access" rule. */
export const TableAccess = {
  /** Not a page-table access: the final data access (or fetch). */
  None: 0,
  /** The walk reads a paging-structure entry (checked only when rmpWalkReads is on, §9 item 3). */
  EntryRead: 1,
  /** The walk writes an A or D bit (always checked, always as 4K, §3.2 notes). */
  AdWrite: 2,
} as const;
export type TableAccessKind = (typeof TableAccess)[keyof typeof TableAccess];

/** Why an RMP check failed: enough to build the fault's `why` and the RMP dump. */
export interface RmpCheckFailure {
  /** The 4K frame whose entry failed the check. */
  pfn: number;
  /** The check that failed, e.g. 'Hypervisor-Owned'. */
  check: string;
  /** A sentence naming the pfn and the decoded fields of its entry. */
  why: string;
  /** The 4K frame the access targeted (differs from `pfn` when a 2M region's other entry failed). */
  targetPfn?: number;
  /**
   * For a target checked through a 2M (or 1G) mapping: the non-zero raw entries of its 2M region,
   * as mainline's RMP dump lists them (spec/rmp.md §6.4).
   */
  regionEntries?: { pfn: number; lo: bigint; hi: bigint }[];
}

export interface HostRmpCheck {
  /** SYSCFG.SNP_EN: when false every check passes. */
  readonly enabled: boolean;
  /**
   * Check one host access. `mapBytes` is the size of the page the final translation maps
   * (4096, 2 MiB or 1 GiB); table accesses are always checked as 4K. Returns null when the access
   * may proceed. Reads and fetches that are not table accesses always pass (§3.2).
   */
  checkHost(spa: number, access: AccessKind, mapBytes: number, table: TableAccessKind): RmpCheckFailure | null;
}
