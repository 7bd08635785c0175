// The guest RMP checks read entries through the table's allocation-free readers (RmpTable.entryInto,
// isAssigned, regionHasAssigned). These tests pin what that must not change: the same verdicts as a
// reference port whose readers are derived from `entry(pfn)` alone, a failure's entry that later checks cannot alter,
// and the first assigned entry named by a failing 2M Hypervisor-Owned check (spec/rmp.md §3.1).
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/mem/physical.ts';
import { RmpTable } from '../../src/rmp/table.ts';
import {
  GuestCheck, GuestCheckFailure, Perm, checkHypervisorOwned, checkOwnership, checkPrivateAccess,
} from '../../src/guest/rmp-checks.ts';
import type { GuestRmpPort } from '../../src/guest/rmp-port.ts';
import { SIZE_2M, SIZE_4K } from '../../src/guest/constants.ts';

function table(): RmpTable {
  const phys = new PhysicalMemory(64 * 1024 * 1024);
  const rmp = new RmpTable(phys);
  rmp.configure(RmpTable.defaultPlacement(phys.size));
  rmp.enable();
  return rmp;
}

/**
 * The same table with its fast readers replaced by a reference derived from `entry(pfn)` alone (the
 * decoded view, spec/rmp.md §1.4/§1.5), so the table's readers are checked against it.
 */
function portOnly(rmp: RmpTable): GuestRmpPort {
  const assigned = (pfn: number): boolean => rmp.isCovered(pfn) && rmp.entry(pfn).assigned;
  return {
    entryInto: (pfn, out) => {
      const e = rmp.entry(pfn);
      Object.assign(out, e, { vmpl: out.vmpl });
      for (let i = 0; i < 4; i++) out.vmpl[i] = e.vmpl[i]!;
      return out;
    },
    isAssigned: assigned,
    regionHasAssigned: (pfn) => {
      const first = pfn - (pfn % 512);
      for (let p = first; p < first + 512; p++) if (assigned(p)) return true;
      return false;
    },
    get enabled() { return rmp.enabled; },
    isCovered: (pfn) => rmp.isCovered(pfn),
    entry: (pfn) => rmp.entry(pfn),
    setEntry: (pfn, f) => rmp.setEntry(pfn, f),
    psmash: (spa) => rmp.psmash(spa),
    rmpupdate: (spa, s) => rmp.rmpupdate(spa, s),
    setInUse: (pfn, m) => rmp.setInUse(pfn, m),
  };
}

describe('guest checks through the allocation-free readers', () => {
  it('give the same verdict and details as readers derived from entry(), page by page', () => {
    const rmp = table();
    // A mix of states in two 2 MB regions: guest pages (right and wrong GPA, other ASID),
    // pre-guest (Immutable), unvalidated, a VMPL-limited page, and a 2M guest page.
    rmp.setState(0x401000, { state: 'guest-valid', asid: 1, gpa: 0x1000 });
    rmp.setState(0x402000, { state: 'guest-valid', asid: 1, gpa: 0x9000 });
    rmp.setState(0x403000, { state: 'guest-valid', asid: 2, gpa: 0x3000 });
    rmp.setState(0x404000, { state: 'pre-guest', asid: 1, gpa: 0x4000 });
    rmp.setState(0x405000, { state: 'guest-invalid', asid: 1, gpa: 0x5000 });
    rmp.setState(0x406000, { state: 'guest-valid', asid: 1, gpa: 0x6000 });
    rmp.setEntry(0x406, { vmpl: [Perm.R, 0, 0, 0] });
    rmp.setState(0x600000, { state: 'guest-valid', asid: 1, gpa: SIZE_2M, size: '2M' });
    const port = portOnly(rmp);
    const fast = new GuestCheckFailure();
    const slow = new GuestCheckFailure();
    const cases: [number, number, number][] = [];
    for (let k = 0; k < 8; k++) cases.push([0x400000 + k * SIZE_4K, k * SIZE_4K, SIZE_4K]);
    cases.push([0x600000, SIZE_2M, SIZE_2M], [0x6ab000, SIZE_2M + 0xab000, SIZE_2M], [0x6ab000, SIZE_2M + 0xab000, SIZE_4K]);
    for (const [spa, gpa, nested] of cases) {
      for (const need of [Perm.R, Perm.W]) {
        const a = checkPrivateAccess(rmp, spa, gpa, nested, 1, 0, need, fast);
        const b = checkPrivateAccess(port, spa, gpa, nested, 1, 0, need, slow);
        expect(a, `spa 0x${spa.toString(16)} need ${need}`).toBe(b);
        expect([fast.entryPfn, fast.rmpIs2M, fast.entry]).toEqual([slow.entryPfn, slow.rmpIs2M, slow.entry]);
      }
      for (const size of [SIZE_4K, SIZE_2M]) {
        expect(checkHypervisorOwned(rmp, spa, size, fast)).toBe(checkHypervisorOwned(port, spa, size, slow));
        expect([fast.entryPfn, fast.entry]).toEqual([slow.entryPfn, slow.entry]);
      }
    }
    // The verdicts themselves, so the comparison above cannot pass on two equal wrong answers.
    const verdict = (spa: number, gpa: number, nested: number, need: number): number =>
      checkPrivateAccess(rmp, spa, gpa, nested, 1, 0, need, fast);
    expect(verdict(0x400000, 0, SIZE_4K, Perm.R)).toBe(GuestCheck.GUEST_OWNED); // hypervisor page
    expect(verdict(0x401000, 0x1000, SIZE_4K, Perm.R)).toBe(GuestCheck.OK);
    expect(verdict(0x402000, 0x2000, SIZE_4K, Perm.R)).toBe(GuestCheck.REVERSE_MAP);
    expect(verdict(0x403000, 0x3000, SIZE_4K, Perm.R)).toBe(GuestCheck.GUEST_OWNED); // ASID 2
    expect(verdict(0x404000, 0x4000, SIZE_4K, Perm.R)).toBe(GuestCheck.MUTABLE);
    expect(verdict(0x405000, 0x5000, SIZE_4K, Perm.R)).toBe(GuestCheck.VALIDATED);
    expect(verdict(0x406000, 0x6000, SIZE_4K, Perm.R)).toBe(GuestCheck.OK);
    expect(verdict(0x406000, 0x6000, SIZE_4K, Perm.W)).toBe(GuestCheck.VMPL);
    expect(verdict(0x6ab000, SIZE_2M + 0xab000, SIZE_2M, Perm.W)).toBe(GuestCheck.OK);
    expect(verdict(0x6ab000, SIZE_2M + 0xab000, SIZE_4K, Perm.W)).toBe(GuestCheck.PAGE_SIZE);
  });

  it('a failed check keeps its entry: later checks do not change it', () => {
    const rmp = table();
    rmp.setState(0x402000, { state: 'guest-valid', asid: 1, gpa: 0x9000 });
    rmp.setState(0x405000, { state: 'guest-valid', asid: 3, gpa: 0x5000 });
    const out = new GuestCheckFailure();
    expect(checkOwnership(rmp, 0x402000, 0x2000, 1, out)).toBe(GuestCheck.REVERSE_MAP);
    const kept = out.entry!;
    expect(kept.gpa).toBe(0x9000);
    expect(checkOwnership(rmp, 0x405000, 0x5000, 1, out)).toBe(GuestCheck.GUEST_OWNED);
    expect(out.entry!.asid).toBe(3);
    expect(kept).toMatchObject({ gpa: 0x9000, asid: 1 }); // unchanged
    expect(kept).not.toBe(out.scratch);
  });

  it('a failing 2M Hypervisor-Owned check names the first assigned entry of the region', () => {
    const rmp = table();
    rmp.setState(0x4c0000, { state: 'guest-invalid', asid: 4, gpa: 0 });
    rmp.setState(0x5ff000, { state: 'guest-invalid', asid: 5, gpa: 0 });
    const out = new GuestCheckFailure();
    expect(checkHypervisorOwned(rmp, 0x400000 + 0x10, SIZE_2M, out)).toBe(GuestCheck.HYPERVISOR_OWNED);
    expect(out.pfn).toBe(0x400);
    expect(out.entryPfn).toBe(0x4c0); // 0x4c0000 / 4K, the lower of the two
    expect(out.entry!.asid).toBe(4);
    // As a 4K check, the page itself is unassigned: it passes.
    expect(checkHypervisorOwned(rmp, 0x400000, SIZE_4K, out)).toBe(GuestCheck.OK);
    // Above the coverage (64 MiB host: 0xfc00 pages): always hypervisor-owned.
    expect(checkHypervisorOwned(rmp, 0x20000000, SIZE_2M, out)).toBe(GuestCheck.OK);
  });
});
