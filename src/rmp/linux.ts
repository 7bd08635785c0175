// What the Linux host kernel reads from the RMP (spec/rmp.md §6.1, §6.4), for the emulated kernel:
// the two generations of snp_lookup_rmpentry() and mainline's dump_rmpentry() text.

import { hex64, PAGES_PER_2M } from './entry.ts';
import type { RmpTable } from './table.ts';

/** Linux errno values used by the lookups. */
export const Errno = { EFAULT: 14, ENXIO: 6, ENODEV: 19, EINVAL: 22 } as const;

/** x86 page levels as Linux numbers them (PG_LEVEL_4K = 1, PG_LEVEL_2M = 2). */
export const PG_LEVEL_4K = 1;
export const PG_LEVEL_2M = 2;

export interface LookupV7 {
  /** 1 = assigned, 0 = not assigned, negative errno = no entry. */
  ret: number;
  /** PG_LEVEL_4K or PG_LEVEL_2M from the 2 MB-aligned entry's Page_Size; undefined on error. */
  level?: number;
}

/**
 * v7-era `int snp_lookup_rmpentry(u64 pfn, int *level)` (v7 "x86/sev: Add RMP entry lookup
 * helpers", §6.1): -EINVAL when !pfn_valid (pfn beyond RAM), -ENXIO when SNP is off or the pfn is
 * beyond the table, else !!assigned of the pfn's own 4K entry, with *level from the 2 MB-aligned
 * entry. The v7 fault handler treats any non-zero return (an error too) as "assigned".
 */
export function lookupRmpEntryV7(t: RmpTable, pfn: number): LookupV7 {
  if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= t.phys.frameCount) return { ret: -Errno.EINVAL };
  if (!t.enabled) return { ret: -Errno.ENXIO };
  if (!t.isCovered(pfn)) return { ret: -Errno.ENXIO };
  const level = t.entry(pfn - (pfn % PAGES_PER_2M)).pageSize === 1 ? PG_LEVEL_2M : PG_LEVEL_4K;
  return { ret: t.entry(pfn).assigned ? 1 : 0, level };
}

export interface LookupMainline {
  /** 0 on success; -ENODEV (SNP off) or -EFAULT (pfn beyond the table). */
  ret: number;
  assigned?: boolean;
  level?: number;
}

/**
 * Mainline `int snp_lookup_rmpentry(u64 pfn, bool *assigned, int *level)` (arch/x86/virt/svm/sev.c,
 * §6.1) on the raw-table path: -ENODEV when SNP is off, -EFAULT beyond the table, else 0 with
 * *assigned from the pfn's own entry and *level from the 2 MB-aligned entry.
 */
export function lookupRmpEntry(t: RmpTable, pfn: number): LookupMainline {
  if (!t.enabled) return { ret: -Errno.ENODEV };
  if (!Number.isSafeInteger(pfn) || pfn < 0 || !t.isCovered(pfn)) return { ret: -Errno.EFAULT };
  const level = t.entry(pfn - (pfn % PAGES_PER_2M)).pageSize === 1 ? PG_LEVEL_2M : PG_LEVEL_4K;
  return { ret: 0, assigned: t.entry(pfn).assigned, level };
}

/** Linux's pr_fmt for arch/x86/virt/svm/sev.c. */
export const SEV_SNP_PREFIX = 'SEV-SNP: ';

/**
 * Mainline dump_rmpentry(pfn) (commit 1f568d36361b, §6.4), one string per printed line:
 * - assigned: "PFN 0x..., RMP entry: [0x<lo> - 0x<hi>]"
 * - unassigned: "PFN 0x... unassigned, dumping non-zero entries in 2M PFN region: [0x<start> - 0x<end>]"
 *   followed by "PFN: 0x..., [0x<lo> - 0x<hi>]" for every non-zero entry of the 2M region
 *   (end is exclusive, as Linux prints pfn_i + PTRS_PER_PMD);
 * - no entry: "Failed to read RMP entry for PFN 0x..., error -N".
 */
export function dumpRmpEntry(t: RmpTable, pfn: number): string[] {
  const look = lookupRmpEntry(t, pfn);
  if (look.ret !== 0) return [`${SEV_SNP_PREFIX}Failed to read RMP entry for PFN 0x${pfn.toString(16)}, error ${look.ret}`];
  if (look.assigned) {
    const { lo, hi } = t.rawEntry(pfn);
    return [`${SEV_SNP_PREFIX}PFN 0x${pfn.toString(16)}, RMP entry: [${hex64(lo)} - ${hex64(hi)}]`];
  }
  const start = pfn - (pfn % PAGES_PER_2M);
  const end = start + PAGES_PER_2M;
  const lines = [
    `${SEV_SNP_PREFIX}PFN 0x${pfn.toString(16)} unassigned, dumping non-zero entries in 2M PFN region: [0x${start.toString(16)} - 0x${end.toString(16)}]`,
  ];
  for (let p = start; p < end; p++) {
    if (!t.isCovered(p)) {
      lines.push(`${SEV_SNP_PREFIX}Error -${Errno.EFAULT} reading RMP contents for PFN 0x${p.toString(16)}`);
      continue;
    }
    const { lo, hi } = t.rawEntry(p);
    if (lo !== 0n || hi !== 0n) lines.push(`${SEV_SNP_PREFIX}PFN: 0x${p.toString(16)}, [${hex64(lo)} - ${hex64(hi)}]`);
  }
  return lines;
}
