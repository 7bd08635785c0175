// The full host RMP check: the reference semantics that the fast path in table.ts short-cuts, and
// the explanation (`why`) of every failure. Runs only when the fast path could not prove a pass,
// so it may allocate.
//
// Order of the checks [I, documented in docs/rmp.md]:
//   1. an injected "entry busy" (another logical processor mid-update, §3.2 transient faults);
//   2. Hypervisor-Owned (§3.1): the target's 4K entry, or for a 2M/1G mapping the 2 MB region
//      (Assigned and subpage count of the 2 MB-aligned entry);
//   3. In-Use (§3.3): a VMRUN-marked VMCB/VMSA/AVIC page, for data writes and A/D writes; with the
//      erratum option, an in-use 2 MB-aligned page poisons its region for huge mappings;
//   4. the quirk hostChecksImmutable (§6.3): the target's own 4K entry must have Immutable=0.

import type { AccessKind } from '../mmu/linear-memory.ts';
import type { RmpCheckFailure, TableAccessKind } from './host-check.ts';
import { describeFields, hex64, PAGES_PER_2M, type RmpEntry } from './entry.ts';
import { stateNameOf } from './states.ts';
import type { RmpTable } from './table.ts';

const TABLE_NONE = 0;
const TABLE_ENTRY_READ = 1;
/** At most this many region entries are listed in a `why` (all are in `regionEntries`). */
const WHY_REGION_LIMIT = 8;

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** "guest-valid (Assigned=1, ...)" for one pfn, naming a 2M page's middle entries as such. */
export function describePfn(t: RmpTable, pfn: number): string {
  const e = t.entry(pfn);
  const offset = pfn % PAGES_PER_2M;
  if (offset !== 0) {
    const aligned = t.entry(pfn - offset);
    if (aligned.assigned && aligned.pageSize === 1 && e.assigned) {
      return `a middle entry (Assigned=1) of the 2M ${stateNameOf(aligned)} page at pfn ${hex(pfn - offset)} (${describeFields(aligned)})`;
    }
  }
  return `${stateNameOf(e)} (${describeFields(e)})`;
}

function accessPhrase(access: AccessKind, table: TableAccessKind): string {
  if (table === TABLE_ENTRY_READ) return 'page-table read by the walk';
  if (table !== TABLE_NONE) return 'A/D-bit write by the walk';
  return access === 1 ? 'write' : access === 2 ? 'fetch' : 'read';
}

function sizePhrase(mapBytes: number, table: TableAccessKind): string {
  if (table !== TABLE_NONE) return 'checked as 4K, as every page-table access is (spec/rmp.md §3.2)';
  if (mapBytes === 4096) return 'through a 4K mapping';
  if (mapBytes > 0x200000) return 'through a 1G mapping, checked as the 2M sub-region that holds the address (spec/rmp.md §3.1)';
  return 'through a 2M mapping, which needs all 512 entries of its 2M region unassigned (spec/rmp.md §3.1)';
}

function regionEntries(t: RmpTable, alignedPfn: number): { pfn: number; lo: bigint; hi: bigint }[] {
  const out: { pfn: number; lo: bigint; hi: bigint }[] = [];
  for (let i = 0; i < PAGES_PER_2M; i++) {
    const p = alignedPfn + i;
    if (!t.isCovered(p)) break;
    const { lo, hi } = t.rawEntry(p);
    if (lo !== 0n || hi !== 0n) out.push({ pfn: p, lo, hi });
  }
  return out;
}

function listRegion(entries: { pfn: number; lo: bigint; hi: bigint }[]): string {
  const shown = entries.slice(0, WHY_REGION_LIMIT).map((r) => `pfn ${hex(r.pfn)} [${hex64(r.lo)} - ${hex64(r.hi)}]`);
  const more = entries.length > WHY_REGION_LIMIT ? `, and ${entries.length - WHY_REGION_LIMIT} more` : '';
  return shown.join(', ') + more;
}

/** The full check of one host access (see the file comment); null when it passes. */
export function evaluateHostCheck(
  t: RmpTable, spa: number, pfn: number, access: AccessKind, mapBytes: number, table: TableAccessKind,
): RmpCheckFailure | null {
  const what = `${accessPhrase(access, table)} to spa ${hex(spa)} (pfn ${hex(pfn)})`;
  const as4K = table !== TABLE_NONE || mapBytes === 4096;
  const alignedPfn = pfn - (pfn % PAGES_PER_2M);

  // 1. Transient: another logical processor is updating the entry.
  if (t.consumeBusyAccess(pfn)) {
    return {
      pfn, targetPfn: pfn, check: 'Transient',
      why: `${what} took an RMP violation because pfn ${hex(pfn)}'s entry is being updated by another logical processor (injected busy entry; spec/rmp.md §3.2: software should retry)`,
    };
  }

  // 2. Hypervisor-Owned.
  const target = t.entry(pfn);
  if (as4K) {
    if (target.assigned) {
      return {
        pfn, targetPfn: pfn, check: 'Hypervisor-Owned',
        why: `${what} ${sizePhrase(mapBytes, table)} fails Hypervisor-Owned: pfn ${hex(pfn)} is ${describePfn(t, pfn)}`,
      };
    }
  } else {
    const aligned: RmpEntry = alignedPfn === pfn ? target : t.entry(alignedPfn);
    if (aligned.assigned || aligned.subpageCount !== 0) {
      const entries = regionEntries(t, alignedPfn);
      let culprit = alignedPfn;
      if (target.assigned) culprit = pfn;
      else if (!aligned.assigned) {
        const firstAssigned = entries.find((r) => (r.lo & 1n) !== 0n);
        if (firstAssigned !== undefined) culprit = firstAssigned.pfn;
      }
      const region = `2M region pfn ${hex(alignedPfn)}-${hex(alignedPfn + PAGES_PER_2M - 1)}`;
      let why: string;
      if (target.assigned) {
        why = `${what} ${sizePhrase(mapBytes, table)} fails Hypervisor-Owned: the target pfn ${hex(pfn)} is itself ${describePfn(t, pfn)}`;
      } else {
        why =
          `${what} ${sizePhrase(mapBytes, table)} fails Hypervisor-Owned: the target pfn ${hex(pfn)} is ${stateNameOf(target)}, ` +
          `but pfn ${hex(culprit)} in ${region} is ${describePfn(t, culprit)}` +
          (aligned.assigned ? '' : ` (the 2M-aligned entry counts ${aligned.subpageCount} assigned 4K entries)`) +
          `; non-zero entries of the region: ${listRegion(entries)}`;
      }
      return { pfn: culprit, targetPfn: pfn, check: 'Hypervisor-Owned', why, regionEntries: entries };
    }
  }

  // 3. In-use pages (data writes and A/D writes; the walk only reads page tables it does not own).
  if (table !== TABLE_ENTRY_READ) {
    const mark = t.inUseMark(pfn);
    const opts = t.options;
    if (mark !== undefined && !(opts.hvInUseWrAllowed && mark.kind === 'avic' && !mark.snpGuest)) {
      return {
        pfn, targetPfn: pfn, check: 'In-Use',
        why: `${what} fails: pfn ${hex(pfn)} is in use as a running ${mark.snpGuest ? 'SNP' : 'non-SNP'} guest's ${mark.kind.toUpperCase()} page (marked by VMRUN, spec/rmp.md §3.3), so a host write takes an RMP #PF although the page is ${stateNameOf(target)}`,
      };
    }
    if (opts.inUseErratum && !as4K && alignedPfn !== pfn) {
      const alignedMark = t.inUseMark(alignedPfn);
      if (alignedMark !== undefined) {
        return {
          pfn: alignedPfn, targetPfn: pfn, check: 'In-Use (2M erratum)',
          why: `${what} ${sizePhrase(mapBytes, table)} fails: the 2M-aligned pfn ${hex(alignedPfn)} is an in-use ${alignedMark.kind.toUpperCase()} page, and early SNP parts treat its whole 2M region as in use for huge mappings (erratum, spec/rmp.md §3.3)`,
        };
      }
    }
  }

  // 4. The quirk: condition 3 of the v7 commit message, which the hardware does not check (§6.3).
  if (t.hostChecksImmutable && target.immutable) {
    return {
      pfn, targetPfn: pfn, check: 'Mutable (quirk hostChecksImmutable)',
      why: `${what} fails only because of the quirk hostChecksImmutable: pfn ${hex(pfn)} is ${describePfn(t, pfn)} with Immutable=1; real hardware checks only Assigned for host accesses (spec/rmp.md §6.3)`,
    };
  }
  return null;
}
