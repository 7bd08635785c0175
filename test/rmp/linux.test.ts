// Linux's RMP helpers as the kernel model uses them (spec/rmp.md §6.1, §6.4).
import { describe, expect, it } from 'vitest';
import { dumpRmpEntry, lookupRmpEntry, lookupRmpEntryV7, PG_LEVEL_2M, PG_LEVEL_4K } from '../../src/rmp/linux.ts';
import { PhysicalMemory } from '../../src/mem/physical.ts';
import { RmpTable } from '../../src/rmp/table.ts';
import { makeRmp, MIB } from './setup.ts';

describe('v7 snp_lookup_rmpentry(pfn, &level) (§6.1)', () => {
  it('1 for an assigned 4K entry, level 4K', () => {
    const t = makeRmp();
    t.setState(0x7000, { state: 'guest-valid', asid: 1, gpa: 0x7000 });
    expect(lookupRmpEntryV7(t, 7)).toEqual({ ret: 1, level: PG_LEVEL_4K });
  });

  it('0 for an unassigned page; level from the 2M-aligned entry', () => {
    const t = makeRmp();
    t.setState(0x205000, { state: 'guest-valid', asid: 1, gpa: 0x5000 });
    // Case 5: target unassigned, region holds a 4K guest page: RMP level 4K → v7 splits a 2M mapping.
    expect(lookupRmpEntryV7(t, 0x201)).toEqual({ ret: 0, level: PG_LEVEL_4K });
  });

  it('a middle entry of a 2M page reads assigned with level 2M (§1.5)', () => {
    const t = makeRmp();
    t.setState(0x400000, { state: 'guest-valid', asid: 1, gpa: 0, size: '2M' });
    expect(lookupRmpEntryV7(t, 0x405)).toEqual({ ret: 1, level: PG_LEVEL_2M });
  });

  it('-EINVAL beyond RAM (!pfn_valid), -ENXIO with SNP off or beyond the table', () => {
    const t = makeRmp();
    expect(lookupRmpEntryV7(t, 0x4000).ret).toBe(-22);
    const small = new RmpTable(new PhysicalMemory(64 * MIB));
    small.configure({ base: 0x3f00000, end: 0x3f05fff }); // covers 0x200 pages
    expect(lookupRmpEntryV7(small, 7).ret).toBe(-6);
    small.enable();
    expect(lookupRmpEntryV7(small, 0x200).ret).toBe(-6);
  });
});

describe('mainline snp_lookup_rmpentry(pfn, &assigned, &level) (§6.1)', () => {
  it('0 with assigned and level', () => {
    const t = makeRmp();
    t.setState(0x400000, { state: 'guest-invalid', asid: 1, gpa: 0, size: '2M' });
    expect(lookupRmpEntry(t, 0x4ff)).toEqual({ ret: 0, assigned: true, level: PG_LEVEL_2M });
    expect(lookupRmpEntry(t, 0x7)).toEqual({ ret: 0, assigned: false, level: PG_LEVEL_4K });
  });

  it('-ENODEV with SNP off, -EFAULT beyond the table', () => {
    const off = new RmpTable(new PhysicalMemory(64 * MIB));
    expect(lookupRmpEntry(off, 7).ret).toBe(-19);
    expect(lookupRmpEntry(makeRmp(), 0xfc00).ret).toBe(-14);
  });
});

describe('mainline dump_rmpentry (§6.4)', () => {
  it('an assigned PFN prints its raw entry', () => {
    const t = makeRmp();
    // The VMSA page of §1.4: lo=0x6010fffffffff001 hi=0x1f.
    t.setRawEntry(0x12, 0x6010fffffffff001n, 0x1fn);
    expect(dumpRmpEntry(t, 0x12)).toEqual(['SEV-SNP: PFN 0x12, RMP entry: [0x6010fffffffff001 - 0x000000000000001f]']);
  });

  it('an unassigned PFN dumps the non-zero entries of its 2M region, as in the AVIC log', () => {
    const t = makeRmp();
    t.setState(0x205000, { state: 'guest-valid', asid: 1, gpa: 0x5000 });
    t.setState(0x2ff000, { state: 'hv-fixed' });
    // Guest-valid, ASID 1, GPA 0x5000: lo = 1 | 5<<12 | 1<<51 | 1<<62 = 0x4008000000005001, hi = 0x1f.
    expect(dumpRmpEntry(t, 0x201)).toEqual([
      'SEV-SNP: PFN 0x201 unassigned, dumping non-zero entries in 2M PFN region: [0x200 - 0x400]',
      'SEV-SNP: PFN: 0x200, [0x0000000000000008 - 0x0000000000000000]',
      'SEV-SNP: PFN: 0x205, [0x4008000000005001 - 0x000000000000001f]',
      'SEV-SNP: PFN: 0x2ff, [0x0000000000000004 - 0x0000000000000000]',
    ]);
  });

  it('a PFN without an entry prints the error', () => {
    expect(dumpRmpEntry(makeRmp(), 0xfc00)).toEqual(['SEV-SNP: Failed to read RMP entry for PFN 0xfc00, error -14']);
  });
});
