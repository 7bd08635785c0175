// The allocation-free entry readers of RmpTable (entryInto, isAssigned, regionHasAssigned): each
// must agree with the one typed view `entry(pfn)`, which the other tests pin to the raw layout of
// spec/rmp.md §1.4.
import { describe, expect, it } from 'vitest';
import { emptyEntry, type RmpEntry } from '../../src/rmp/entry.ts';
import { makeRmp, PAGE, TWO_MIB } from './setup.ts';

const pfnOf = (pa: number): number => pa / PAGE;

describe('RmpTable.entryInto', () => {
  it('fills the given record with the same fields entry() decodes, and returns that record', () => {
    const rmp = makeRmp();
    const pa = 0x123000;
    rmp.setState(pa, { state: 'guest-valid', asid: 0x3ff, gpa: 0x7ffff_fffff000 });
    // Every field set, so a mixed-up byte or shift shows: lock, VMSA, VMPL masks, qword 1 high.
    rmp.setEntry(pfnOf(pa), { vmsa: true, lock: true, immutable: true, vmpl: [0x1f, 0x03, 0x80, 0x5a], qword1High: 0xdeadbeef });
    const out = emptyEntry();
    const vmplArray = out.vmpl;
    const got = rmp.entryInto(pfnOf(pa), out);
    expect(got).toBe(out);
    expect(out.vmpl).toBe(vmplArray); // filled in place, not replaced
    expect(out).toEqual(rmp.entry(pfnOf(pa)));
    expect(out).toMatchObject({
      assigned: true, immutable: true, validated: true, vmsa: true, lock: true, asid: 0x3ff,
      gpa: 0x7ffff_fffff000, vmpl: [0x1f, 0x03, 0x80, 0x5a], qword1High: 0xdeadbeef,
    });
  });

  it('overwrites every field of a reused record (nothing left over from the previous entry)', () => {
    const rmp = makeRmp();
    rmp.setState(0x200000, { state: 'guest-valid', asid: 5, gpa: 0x200000, size: '2M' });
    const out = emptyEntry();
    rmp.entryInto(pfnOf(0x200000), out);
    expect(out).toMatchObject({ assigned: true, pageSize: 1, subpageCount: 511, asid: 5, validated: true });
    rmp.entryInto(pfnOf(0x5000), out); // a hypervisor-owned page: all zero
    expect(out).toEqual(emptyEntry());
  });

  it('reads the last covered pfn and the first entry of every table frame (256 entries a frame)', () => {
    const rmp = makeRmp();
    const last = rmp.coveredPages - 1;
    for (const pfn of [0, 255, 256, 511, 512, last]) {
      rmp.setEntry(pfn, { assigned: false, asid: 0, gpa: pfn * PAGE, vmpl: [pfn & 0xff, 1, 2, 3] });
      const out: RmpEntry = emptyEntry();
      expect(rmp.entryInto(pfn, out)).toEqual(rmp.entry(pfn));
      expect(out.gpa).toBe(pfn * PAGE);
    }
  });

  it('throws for a pfn without an entry, as entry() does', () => {
    const rmp = makeRmp();
    expect(() => rmp.entryInto(rmp.coveredPages, emptyEntry())).toThrow(/has no RMP entry/);
    expect(() => rmp.entryInto(-1, emptyEntry())).toThrow(/has no RMP entry/);
    expect(() => rmp.entryInto(1.5, emptyEntry())).toThrow(/has no RMP entry/);
  });
});

describe('RmpTable.isAssigned and regionHasAssigned', () => {
  it('isAssigned follows the Assigned bit; false above the coverage (hypervisor-owned, §1.2)', () => {
    const rmp = makeRmp();
    const pfn = pfnOf(0x345000);
    expect(rmp.isAssigned(pfn)).toBe(false);
    rmp.setState(0x345000, { state: 'guest-invalid', asid: 1, gpa: 0 });
    expect(rmp.isAssigned(pfn)).toBe(true);
    expect(rmp.isAssigned(pfn + 1)).toBe(false);
    expect(rmp.isAssigned(rmp.coveredPages)).toBe(false);
    expect(rmp.isAssigned(-1)).toBe(false);
  });

  it('regionHasAssigned is true exactly when one of the 512 entries of the 2 MB region is assigned (§3.1)', () => {
    const rmp = makeRmp();
    const base = pfnOf(0x600000); // a 2 MB-aligned region
    expect(rmp.regionHasAssigned(base + 7)).toBe(false);
    // A middle entry: seen from every page of the region, including the aligned one.
    rmp.setState(0x600000 + 0x1ff000, { state: 'guest-valid', asid: 2, gpa: 0 });
    for (const p of [base, base + 7, base + 511]) expect(rmp.regionHasAssigned(p)).toBe(true);
    expect(rmp.regionHasAssigned(base + 512)).toBe(false); // the next region
    rmp.setState(0x600000 + 0x1ff000, { state: 'hypervisor' });
    expect(rmp.regionHasAssigned(base + 7)).toBe(false);
    // The aligned entry alone.
    rmp.setState(0x600000, { state: 'firmware' });
    expect(rmp.regionHasAssigned(base + 300)).toBe(true);
    // A 2M page.
    rmp.setState(0x600000, { state: 'hypervisor' });
    rmp.setState(0x800000, { state: 'guest-valid', asid: 1, gpa: TWO_MIB, size: '2M' });
    expect(rmp.regionHasAssigned(pfnOf(0x800000) + 100)).toBe(true);
    expect(rmp.regionHasAssigned(rmp.coveredPages)).toBe(false);
  });

  it('regionHasAssigned agrees with a scan of the 512 entries through entry()', () => {
    const rmp = makeRmp();
    // Assign a scattered set of pages, then compare region by region over the first 16 MiB.
    for (const pa of [0x1000, 0x3ff000, 0x400000, 0x9a3000, 0xe00000 + 0x1ff000]) {
      rmp.setState(pa, { state: 'guest-valid', asid: 3, gpa: 0 });
    }
    for (let region = 0; region < 8; region++) {
      const first = region * 512;
      let scan = false;
      for (let p = first; p < first + 512; p++) scan ||= rmp.entry(p).assigned;
      expect(rmp.regionHasAssigned(first + 1), `region ${region}`).toBe(scan);
    }
  });
});
