// What the guest model needs from the RMP table (src/rmp/table.ts, owned by the RMP module).
//
// The guest checks read entries only through the table's one typed view (`entry(pfn)` → RmpEntry,
// src/rmp/entry.ts, or its allocation-free readers on the hot path) and write them only through its setter; nothing here parses raw entries
// (docs/architecture.md, RmpTable). PSMASH and RMPUPDATE are the table's own instructions, used by
// the hypervisor model. This interface is structural: the real RmpTable satisfies it.

import type { RmpEntry } from '../rmp/entry.ts';
import type { RmpEntryReader } from '../rmp/table.ts';

export interface GuestRmpPort extends RmpEntryReader {
  /** SYSCFG.SNP_EN: with SNP off no RMP check is made at all. */
  readonly enabled: boolean;
  /** RMP-Covered: the frame has an entry (below the covered limit). Uncovered frames are hypervisor-owned. */
  isCovered(pfn: number): boolean;
  /** The decoded entry of a covered frame. */
  entry(pfn: number): RmpEntry;
  /** Write a whole decoded entry (PVALIDATE, RMPADJUST and VMRUN's in-use mark go through this). */
  setEntry(pfn: number, fields: Partial<RmpEntry>): void;
  /** PSMASH (spec/rmp.md §5.3): EAX return code. */
  psmash(spa: number): number;
  /** RMPUPDATE (spec/rmp.md §5.2) with the 16-byte architectural state: EAX return code. */
  rmpupdate(spa: number, state: Uint8Array): number;
  /**
   * VMRUN's in-use mark (spec/rmp.md §3.3) on a covered frame, or null to clear it (#VMEXIT).
   * Returns false for an uncovered frame.
   */
  setInUse(pfn: number, mark: { kind: 'vmcb' | 'vmsa' | 'avic'; snpGuest: boolean } | null): boolean;
}
