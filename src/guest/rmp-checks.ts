// The guest-side RMP checks (spec/rmp.md §3.1, §3.2; AMD APM Vol.2 §15.36.10 "RMP and VMPL Access
// Checks"). The guest walk calls them on the system physical address of every guest page-table
// access and of the final access, after every nested-paging check has passed (RMP checks have the
// lowest priority, §3.2 "Priority").
//
// Check matrix (§3.2), as this file applies it:
//
//   guest           access                              C   checks, in priority order
//   SNP-active      guest page-table access, fetch      1   Covered, Guest-Owned, Reverse-Map, Mutable,
//                   data read/write with C=1                 Page-Size → Validated (#VC) → VMPL (NPF)
//   SNP-active      data write with C=0                 0   Hypervisor-Owned
//   SNP-active      data read with C=0                  0   none
//   not SNP-active  data write, page-table access       –   Hypervisor-Owned
//   not SNP-active  data read, fetch                    –   none
//
// Entries are read only through the RMP table's typed view, without allocating: RmpTable.entryInto
// decodes into a scratch record of the GuestCheckFailure, isAssigned / regionHasAssigned answer the
// Hypervisor-Owned test from the Assigned bit and the 2 MB subpage count (src/rmp/table.ts).
//
// [I] The effective entry of a C=1 check (docs/guest.md, "effective entry"): when the 2M-aligned
// entry of the frame's 2 MB region is an assigned 2 MB page (Page_Size = 1), the checks read that
// entry (its ASID, Immutable, Validated and VMPL masks; its GPA plus the frame's offset in the
// region), as Linux's __snp_lookup_rmpentry() takes the level from the aligned entry. The 511
// middle entries carry only Assigned (spec/rmp.md §1.5), so reading them would report a
// Guest-Owned failure where the APM's Page-Size combinations table expects Page-Size (§7 case 36).
// Otherwise the frame's own 4K entry is read.

import { copyEntry, emptyEntry, type RmpEntry } from '../rmp/entry.ts';
import type { GuestRmpPort } from './rmp-port.ts';
import { SIZE_2M as IMPORTED_SIZE_2M, SIZE_4K as IMPORTED_SIZE_4K } from './constants.ts';

// Module-local copies: under the tsx and vitest loaders every use of an imported binding is a
// getter call, which the checks would pay several times per guest page-table access
// (docs/rmp.md "Measured").
const SIZE_4K: number = IMPORTED_SIZE_4K;
const SIZE_2M: number = IMPORTED_SIZE_2M;

/** Which check failed. 0 = all passed. */
export const GuestCheck = {
  OK: 0,
  RMP_COVERED: 1,
  GUEST_OWNED: 2,
  REVERSE_MAP: 3,
  MUTABLE: 4,
  PAGE_SIZE: 5,
  VALIDATED: 6,
  VMPL: 7,
  HYPERVISOR_OWNED: 8,
} as const;
export type GuestCheckCode = (typeof GuestCheck)[keyof typeof GuestCheck];

export const GUEST_CHECK_NAMES: readonly string[] = [
  'OK', 'RMP-Covered', 'Guest-Owned', 'Reverse-Map', 'Mutable', 'Page-Size', 'Validated', 'VMPL',
  'Hypervisor-Owned',
];

/** VMPL permission bits (spec/rmp.md §1.4). */
export const Perm = { R: 0x01, W: 0x02, XU: 0x04, XS: 0x08 } as const;

/** Details of the last failed check (one reusable record: no allocation on the passing path). */
export class GuestCheckFailure {
  check: GuestCheckCode = GuestCheck.OK;
  /** The 4K frame whose entry failed. */
  pfn = 0;
  /**
   * The entry the check read (the effective entry), or null for RMP-Covered. After a failed check
   * it is a copy the caller may keep; after a passing check it is a scratch record that the next
   * check overwrites (read it at once, as PVALIDATE and RMPADJUST do).
   */
  entry: RmpEntry | null = null;
  /** The frame of that entry (differs from pfn when the 2M-aligned entry was used). */
  entryPfn = 0;
  /** The effective entry is a 2 MB RMP page. */
  rmpIs2M = false;
  /** Scratch records the checks decode into (the frame's entry and its 2M-aligned entry). */
  readonly scratch: RmpEntry = emptyEntry();
  readonly scratchHead: RmpEntry = emptyEntry();
}

const PAGES_PER_2M = 512;

/**
 * The ownership part of the C=1 chain (RMP-Covered, Guest-Owned, Reverse-Map, Mutable), which
 * PVALIDATE and RMPADJUST make too. Fills `out` (entry, entryPfn, rmpIs2M) and returns the failing
 * check, or OK.
 */
export function checkOwnership(
  rmp: GuestRmpPort, spa: number, gpa: number, asid: number, out: GuestCheckFailure,
): GuestCheckCode {
  const pfn = Math.floor(spa / SIZE_4K);
  out.pfn = pfn;
  out.entry = null;
  out.entryPfn = pfn;
  out.rmpIs2M = false;
  if (!rmp.isCovered(pfn)) return (out.check = GuestCheck.RMP_COVERED);
  const alignedPfn = pfn - (pfn % PAGES_PER_2M);
  let e = rmp.entryInto(pfn, out.scratch);
  let entryGpa = e.gpa;
  if (alignedPfn !== pfn || e.pageSize === 1) {
    const head = alignedPfn === pfn ? e : rmp.entryInto(alignedPfn, out.scratchHead);
    if (head.assigned && head.pageSize === 1) {
      e = head;
      out.rmpIs2M = true;
      out.entryPfn = alignedPfn;
      entryGpa = head.gpa + (pfn - alignedPfn) * SIZE_4K;
    }
  }
  out.entry = e;
  if (!e.assigned || e.asid !== asid) return fail(out, GuestCheck.GUEST_OWNED);
  if (entryGpa !== gpa - (gpa % SIZE_4K)) return fail(out, GuestCheck.REVERSE_MAP);
  if (e.immutable) return fail(out, GuestCheck.MUTABLE);
  return (out.check = GuestCheck.OK);
}

/**
 * The C=1 chain for an SNP-active guest. `nestedSize` is the size of the nested leaf that mapped
 * the GPA (4K, 2M or 1G; a 1G leaf is checked as 2M, §3.1). `need` is the VMPL permission mask the
 * access needs. Returns the failing check (0 when all pass) and fills `out`.
 */
export function checkPrivateAccess(
  rmp: GuestRmpPort, spa: number, gpa: number, nestedSize: number, asid: number, vmpl: number,
  need: number, out: GuestCheckFailure,
): GuestCheckCode {
  const owned = checkOwnership(rmp, spa, gpa, asid, out);
  if (owned !== GuestCheck.OK) return owned;
  const e = out.entry!;
  const nestedIsLarge = nestedSize >= SIZE_2M;
  if (nestedIsLarge !== out.rmpIs2M) return fail(out, GuestCheck.PAGE_SIZE);
  if (!e.validated) return fail(out, GuestCheck.VALIDATED);
  const mask = e.vmpl[vmpl]!;
  // Write without Read is an illegal mask: any data access to such a page fails (§1.4).
  const illegal = (mask & (Perm.W | Perm.R)) === Perm.W && (need & (Perm.R | Perm.W)) !== 0;
  if (illegal || (mask & need) !== need) return fail(out, GuestCheck.VMPL);
  return (out.check = GuestCheck.OK);
}

/**
 * Hypervisor-Owned (§3.1): Assigned = 0 on the frame's entry, or on all 512 entries of its 2 MB
 * region when the nested leaf maps 2M or 1G (a 1G leaf is checked as the 2M sub-region that holds
 * the address). Uncovered frames are hypervisor-owned. `checkSize` is 4K for page-table accesses.
 */
export function checkHypervisorOwned(
  rmp: GuestRmpPort, spa: number, checkSize: number, out: GuestCheckFailure,
): GuestCheckCode {
  const pfn = Math.floor(spa / SIZE_4K);
  out.pfn = pfn;
  out.entryPfn = pfn;
  out.entry = null;
  if (checkSize === SIZE_4K) {
    // isAssigned is false for an uncovered frame: hypervisor-owned.
    if (!rmp.isAssigned(pfn)) return (out.check = GuestCheck.OK);
    out.entry = rmp.entryInto(pfn, out.scratch);
    return fail(out, GuestCheck.HYPERVISOR_OWNED);
  }
  if (!rmp.regionHasAssigned(pfn)) return (out.check = GuestCheck.OK);
  // Failing: name the first assigned entry of the region (the failure path may take its time).
  const first = pfn - (pfn % PAGES_PER_2M);
  for (let p = first; p < first + PAGES_PER_2M; p++) {
    if (rmp.isAssigned(p)) {
      out.entry = rmp.entryInto(p, out.scratch);
      out.entryPfn = p;
      return fail(out, GuestCheck.HYPERVISOR_OWNED);
    }
  }
  throw new Error(`RMP region of pfn 0x${first.toString(16)}: the subpage count says an entry is assigned, but none is (table written behind the RmpTable's back? RmpTable.recountSubpages repairs it)`);
}

/** Record a failure: `out.entry` becomes a copy, so a fault that keeps it is not changed by later checks. */
function fail(out: GuestCheckFailure, check: GuestCheckCode): GuestCheckCode {
  if (out.entry !== null) out.entry = copyEntry(out.entry);
  return (out.check = check);
}
