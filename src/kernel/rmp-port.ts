// What the kernel's fault policies ask the RMP module (src/rmp): Linux's snp_lookup_rmpentry in its
// v7 and mainline shapes (spec/rmp.md §6.1), and the RMP dump mainline prints on an RMP #PF
// (snp_dump_hva_rmpentry / dump_rmpentry, §6.4). The kernel never parses raw RMP entries itself.

export interface RmpLookupV7 {
  /** 1: the pfn's own 4K entry is assigned; 0: it is not; negative: an errno (no entry, SNP off). */
  ret: number;
  /** PG_LEVEL_4K (1) or PG_LEVEL_2M (2), from the Page_Size of the 2M-aligned entry. */
  level: number;
}

export interface KernelRmpPort {
  /** v7 snp_lookup_rmpentry(pfn, &level) (arch/x86/kernel/sev.c, v7 "Add RMP entry lookup helpers"). */
  lookupV7(pfn: number): RmpLookupV7;
  /** The pfn's entry decoded into a sentence (for a decision's `why`). */
  describe(pfn: number): string;
  /** mainline dump_rmpentry(pfn): the lines an oops prints for an RMP #PF. */
  dump(pfn: number): string[];
}

import { describePfn, dumpRmpEntry, lookupRmpEntryV7, type RmpTable } from '../rmp/index.ts';

/** The port over the real RMP table, using the RMP module's Linux helpers (src/rmp/linux.ts). */
export function rmpPortFor(table: RmpTable): KernelRmpPort {
  return {
    lookupV7(pfn) {
      const r = lookupRmpEntryV7(table, pfn);
      return { ret: r.ret, level: r.level ?? 1 };
    },
    describe(pfn) {
      if (!table.enabled) return 'SNP is off (no RMP entry)';
      if (!table.isCovered(pfn)) return `pfn 0x${pfn.toString(16)} is not covered by the RMP`;
      return describePfn(table, pfn);
    },
    dump(pfn) {
      return dumpRmpEntry(table, pfn);
    },
  };
}
