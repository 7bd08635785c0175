// walkTrace (no side effects) and the observer slot.

import { describe, expect, it } from 'vitest';
import { Access } from '../../src/mmu/linear-memory.ts';
import { TableAccess } from '../../src/rmp/host-check.ts';
import type { AdWriteTrace, RmpCheckTrace, TlbTrace, WalkTrace } from '../../src/mmu/walk-trace.ts';
import { A, FakeRmp, NX, P, RW, SIZE_2M, SIZE_4K, US, enablePaging, newMachine } from './helpers.ts';

describe('walkTrace', () => {
  it('reports each level, the final address, the page size and the RMP checks, changing nothing', () => {
    const rmp = new FakeRmp();
    const { mmu, phys, tables } = newMachine(64 * 1024 * 1024, rmp);
    tables.map(0x200000, 0x400000, SIZE_2M, P | RW | US | NX);
    enablePaging(mmu);
    const before = [0x1000, 0x2000, 0x3008].map((a) => phys.readU64(a));
    const t = mmu.walkTrace(0x212345, Access.Write, { cpl: 3 });
    expect(t.levels.map((l) => [l.name, l.index, l.entryAddress, l.leaf])).toEqual([
      ['PML4E', 0, 0x1000, false], ['PDPTE', 0, 0x2000, false], ['PDE', 1, 0x3008, true],
    ]);
    expect(t.levels[2]!.value).toBe(0x400000n | P | RW | US | NX | 0x80n);
    expect(t.levels[2]!.flags).toMatchObject({ P: true, RW: true, US: true, PS: true, NX: true, A: false });
    expect(t.physicalAddress).toBe(0x412345);
    expect(t.pageSize).toBe(SIZE_2M);
    expect([t.writable, t.user, t.executeDisable]).toEqual([true, true, true]);
    expect(t.mode).toBe('user');
    expect(t.fault).toBeNull();
    expect(t.adWrites.map((w) => w.level)).toEqual([4, 3, 2]); // would set A in all, D in the PDE
    expect(t.adWrites[2]!.after - t.adWrites[2]!.before).toBe(0x60n);
    expect(t.rmpChecks.at(-1)).toMatchObject({ spa: 0x412345, mapBytes: SIZE_2M, table: TableAccess.None, failure: null });
    // No side effects: entries, counters, TLB.
    expect([0x1000, 0x2000, 0x3008].map((a) => phys.readU64(a))).toEqual(before);
    expect(mmu.stats).toEqual({ walks: 0, tlbHits: 0, tlbMisses: 0, rmpChecks: 0 });
    mmu.setCpl(3);
    mmu.read8(0x212345);
    expect(mmu.stats.walks).toBe(1); // walkTrace did not fill the TLB
  });

  it('a faulting trace names the reason, the level and the sentence', () => {
    const { mmu, tables } = newMachine();
    tables.map(0x10000, 0x30000, SIZE_4K, P | US);
    enablePaging(mmu);
    const t = mmu.walkTrace(0x10008, Access.Write, { cpl: 3 });
    expect(t.fault).toMatchObject({ vector: 14, errorCode: 7, reason: 'protection', address: 0x10008n });
    expect(t.fault!.why).toMatch(/user write to 0x10008: the PTE at 0x4080 \(index 16\) = 0x0000000000030005 has R\/W=0/);
    const np = mmu.walkTrace(0x8000000000, Access.Read); // PML4 index 1: not present
    expect(np.fault).toMatchObject({ reason: 'not-present', level: 4, errorCode: 0 });
    expect(np.levels).toHaveLength(1);
  });

  it('paging off: a trace with no levels and PA = LA', () => {
    const { mmu } = newMachine();
    const t = mmu.walkTrace(0x1234, Access.Read);
    expect([t.paging, t.levels.length, t.physicalAddress]).toEqual([false, 0, 0x1234]);
  });
});

describe('observer', () => {
  it('sees TLB lookups, walks, A/D writes and RMP checks; detaching restores the fast path', () => {
    const rmp = new FakeRmp();
    const { mmu, tables } = newMachine(64 * 1024 * 1024, rmp);
    tables.map(0x10000, 0x30000, SIZE_4K, P | RW);
    enablePaging(mmu);
    const tlb: TlbTrace[] = [];
    const walks: WalkTrace[] = [];
    const ad: AdWriteTrace[] = [];
    const checks: RmpCheckTrace[] = [];
    mmu.observer = { tlb: (e) => tlb.push(e), walk: (t) => walks.push(t), adWrite: (e) => ad.push(e), rmpCheck: (e) => checks.push(e) };
    mmu.write32(0x10000, 1);
    mmu.read32(0x10000);
    expect(tlb.map((e) => e.hit)).toEqual([false, true]);
    expect(walks).toHaveLength(1);
    expect(walks[0]!.physicalAddress).toBe(0x30000);
    expect(ad.map((e) => e.level)).toEqual([4, 3, 2, 1]);
    expect(ad[3]!.after & (A | 0x40n)).toBe(A | 0x40n);
    expect(checks).toHaveLength(9);
    expect(mmu.stats).toMatchObject({ walks: 1, tlbHits: 1, tlbMisses: 1, rmpChecks: 9 });
    mmu.observer = null;
    mmu.read32(0x10000);
    expect(tlb).toHaveLength(2);
    expect(mmu.stats.tlbHits).toBe(2);
  });

  it('a faulting walk is reported with its fault', () => {
    const { mmu } = newMachine();
    enablePaging(mmu);
    const walks: WalkTrace[] = [];
    mmu.observer = { walk: (t) => walks.push(t) };
    expect(mmu.tryTranslate(0x5000, Access.Read)).toBe(-1);
    expect(walks[0]!.fault!.reason).toBe('not-present');
  });
});
