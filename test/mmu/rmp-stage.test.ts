// The RMP stage: the MMU's last step (spec/rmp.md §3.2, §3.4, §4, §8), checked with a fake
// HostRmpCheck so that these tests pin the MMU's side of the contract: what it asks, in which
// order, with which sizes, what it does with a failure, and what the TLB keeps.

import { describe, expect, it } from 'vitest';
import { Access } from '../../src/mmu/linear-memory.ts';
import { TableAccess } from '../../src/rmp/host-check.ts';
import { A, D, FakeRmp, P, RW, SIZE_1G, SIZE_2M, SIZE_4K, US, enablePaging, faultOf, newMachine } from './helpers.ts';

function setup(size = SIZE_4K, flags = P | RW | US) {
  const rmp = new FakeRmp();
  const m = newMachine(2 * SIZE_1G, rmp);
  const va = size === SIZE_1G ? 0x8000000000 : size === SIZE_2M ? 0x200000 : 0x10000;
  const pa = size === SIZE_1G ? SIZE_1G : size === SIZE_2M ? 0x400000 : 0x30000;
  const leaf = m.tables.map(va, pa, size, flags);
  enablePaging(m.mmu);
  const tablePages = [0x1000, 0x2000, 0x3000, 0x4000]; // PML4 at CR3, then the builder's order
  return { ...m, rmp, va, pa, leaf, tablePages };
}

describe('what the MMU asks the RMP', () => {
  it('a 4K write walk: entry read and A/D write per level in walk order, then the data page', () => {
    const { mmu, rmp, va, pa, phys } = setup();
    // VA 0x10000: indexes 0, 0, 0, 0x10, so the PTE is at 0x4000 + 0x10 * 8 = 0x4080.
    const entries = [0x1000, 0x2000, 0x3000, 0x4080];
    mmu.write8(va, 1);
    const expected = [];
    for (const e of entries) {
      expected.push({ spa: e, access: Access.Read, mapBytes: SIZE_4K, table: TableAccess.EntryRead });
      expected.push({ spa: e, access: Access.Write, mapBytes: SIZE_4K, table: TableAccess.AdWrite });
    }
    expected.push({ spa: pa, access: Access.Write, mapBytes: SIZE_4K, table: TableAccess.None });
    expect(rmp.calls).toEqual(expected);
    expect(mmu.stats.rmpChecks).toBe(9);
    expect(phys.read8(pa)).toBe(1);
  });

  it('table accesses are checked as 4K; the final check carries the mapping size (2M, 1G)', () => {
    for (const size of [SIZE_2M, SIZE_1G]) {
      const { mmu, rmp, va, pa } = setup(size);
      mmu.write8(va + 0x1234, 1);
      const tables = rmp.calls.filter((c) => c.table !== TableAccess.None);
      expect(tables.every((c) => c.mapBytes === SIZE_4K)).toBe(true);
      expect(rmp.calls.at(-1)).toEqual({ spa: pa + 0x1234, access: Access.Write, mapBytes: size, table: TableAccess.None });
    }
  });

  it('no A/D write check when A and D are already set', () => {
    const { mmu, rmp, va, phys, leaf } = setup(SIZE_4K);
    mmu.write8(va, 1); // sets every A and D
    mmu.flushTlb();
    rmp.calls = [];
    mmu.write8(va, 2);
    expect(rmp.calls.filter((c) => c.table === TableAccess.AdWrite)).toEqual([]);
    expect(phys.readU64(leaf) & (A | D)).toBe(A | D);
  });

  it('SNP off: no checks at all', () => {
    const { mmu, rmp, va } = setup();
    rmp.enabled = false;
    mmu.write8(va, 1);
    expect(rmp.calls).toEqual([]);
    expect(mmu.stats.rmpChecks).toBe(0);
  });
});

describe('order: paging checks first', () => {
  it('a write to a read-only page is an ordinary #PF even when the RMP would also fail', () => {
    const { mmu, rmp, va, pa } = setup(SIZE_4K, P | US);
    rmp.failWrite.add(pa / 4096);
    mmu.setCpl(3);
    const f = faultOf(() => mmu.write8(va, 1));
    expect([f.errorCode, f.rmp]).toEqual([0x7, false]);
    expect(rmp.calls).toEqual([]); // the RMP stage never ran
  });

  it('a not-present entry is reported before a failing walk read of an upper table', () => {
    const { mmu, rmp } = setup();
    rmp.failEntryRead.add(1); // the PML4 page
    const f = faultOf(() => mmu.read8(0x7000000000));
    expect([f.errorCode, f.rmp]).toEqual([0, false]);
  });
});

describe('RMP failures', () => {
  it('a data-write failure: #PF RMP|P|W|U with CR2 = the linear address, why from the RMP', () => {
    const { mmu, rmp, va, pa, phys } = setup();
    rmp.failWrite.add(pa / 4096);
    mmu.setCpl(3);
    const f = faultOf(() => mmu.write32(va + 0x10, 5));
    expect(f.errorCode).toBe(0x80000007);
    expect(f.rmp).toBe(true);
    expect(f.address).toBe(BigInt(va + 0x10));
    expect(f.why).toMatch(/RMP check of the write to SPA 0x30010 \(mapped by a 4K page\) failed \(Hypervisor-Owned\): pfn 0x30 is assigned/);
    expect(phys.readU32(pa + 0x10, 4)).toBe(0);
    expect((f.detail as { rmp: { pfn: number } }).rmp.pfn).toBe(0x30);
  });

  it('supervisor write failure is 0x80000003 (the value Linux has printed, spec/rmp.md §3.4)', () => {
    const { mmu, rmp, va, pa } = setup();
    rmp.failWrite.add(pa / 4096);
    expect(faultOf(() => mmu.write8(va, 1)).errorCode).toBe(0x80000003);
  });

  it('reads and fetches of the same page pass (the RMP decides; the fake passes them)', () => {
    const { mmu, rmp, va, pa } = setup();
    rmp.failWrite.add(pa / 4096);
    mmu.setCpl(3);
    expect(mmu.read8(va)).toBe(0);
    expect(mmu.translate(va, Access.Fetch)).toBe(pa);
  });

  it('[I] choice: A/D bits are not written when the final RMP check fails', () => {
    const { mmu, rmp, va, pa, phys, leaf } = setup();
    rmp.failWrite.add(pa / 4096);
    const before = [0x1000, 0x2000, 0x3000].map((a) => phys.readU64(a));
    faultOf(() => mmu.write8(va, 1));
    expect([0x1000, 0x2000, 0x3000].map((a) => phys.readU64(a))).toEqual(before);
    expect(phys.readU64(leaf) & (A | D)).toBe(0n);
  });

  it('[I] choice: walk-induced RMP faults carry the low bits of the access, not of the A/D write', () => {
    // A read whose walk must set A in a page-table page the RMP refuses: RMP|P (no W).
    const { mmu, rmp, va, phys } = setup();
    const pt = Number(phys.readU64(0x3000) & 0xfffff000n);
    rmp.failAdWrite.add(pt / 4096);
    let f = faultOf(() => mmu.read8(va));
    expect([f.errorCode, f.rmp, f.address]).toEqual([0x80000001, true, BigInt(va)]);
    expect(f.why).toMatch(/A\/D write to the PTE at 0x\w+.*checked as a 4K write/);
    // A user fetch through it: RMP|P|U|I/D (NXE is on).
    mmu.setCpl(3);
    f = faultOf(() => mmu.translate(va, Access.Fetch));
    expect(f.errorCode).toBe(0x80000015);
    // A user write: RMP|P|W|U.
    f = faultOf(() => mmu.write8(va, 1));
    expect(f.errorCode).toBe(0x80000007);
  });

  it('walk-read checks on: a page-table page the RMP refuses faults even for a read; off: it passes', () => {
    const { mmu, rmp, va, phys } = setup();
    rmp.failEntryRead.add(0x2000 / 4096); // the PDPT page
    let f = faultOf(() => mmu.read8(va));
    expect(f.errorCode).toBe(0x80000001);
    expect(f.why).toMatch(/walk's read of the PDPTE at 0x2000/);
    expect(phys.readU64(0x1000) & A).toBe(0n); // nothing written, not even the PML4E's A bit
    rmp.checkWalkReads = false; // scenario machine.rmpWalkReads = false
    expect(mmu.read8(va)).toBe(0);
  });
});

describe('the TLB keeps only passing results', () => {
  it('a page that failed the RMP write check never gets cached write rights', () => {
    const { mmu, rmp, va, pa } = setup();
    rmp.failWrite.add(pa / 4096);
    mmu.read8(va); // fills read rights
    for (let i = 0; i < 3; i++) faultOf(() => mmu.write8(va, 1));
    expect(mmu.stats.walks).toBe(4); // every write walked again
    rmp.failWrite.clear(); // as after RMPUPDATE back to hypervisor-owned
    mmu.flushPhysicalRange(pa, 4096);
    mmu.write8(va, 1);
    mmu.write8(va, 2);
    // 4 walks before; each failing write's #PF dropped the entry for va, so the first write walks
    // (5) and fills write rights, and the second hits.
    expect(mmu.stats.walks).toBe(5);
  });

  it('a passing write is cached: the RMP is not asked again until flushPhysicalRange', () => {
    const { mmu, rmp, va, pa } = setup();
    mmu.write8(va, 1);
    const n = rmp.calls.length;
    mmu.write8(va + 1, 1);
    expect(rmp.calls.length).toBe(n);
    rmp.failWrite.add(pa / 4096); // RMPUPDATE assigns the page...
    mmu.write8(va + 2, 1); // ...stale until the flush RMPUPDATE triggers
    mmu.flushPhysicalRange(pa, 4096);
    expect(faultOf(() => mmu.write8(va + 3, 1)).rmp).toBe(true);
  });
});
