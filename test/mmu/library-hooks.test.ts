// The MMU and physical-memory hooks the library API (issue 9) builds on: the observer's `access`
// event, `restoreStats`, copy-on-write splits of frames the TLB caches (flushFrame, with its
// per-frame counts), and snapshot restores that visit only the frames written since (dirty list).

import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/mem/physical.ts';
import { A, D, P, RW, SIZE_4K, US, enablePaging, faultOf, newMachine } from './helpers.ts';

const RWX = P | RW | US | A | D;

describe('observer access event', () => {
  it('reports each data access once, with linear and physical address, size and value', () => {
    const { phys, mmu, tables } = newMachine();
    tables.map(0x400000, 0x20000, SIZE_4K, RWX);
    tables.map(0x401000, 0x35000, SIZE_4K, RWX);
    enablePaging(mmu);
    const seen: [number, number, number, number, number, number][] = [];
    mmu.observer = { access: (kind, la, pa, size, lo, hi) => void seen.push([kind, la, pa, size, lo, hi]) };
    mmu.write32(0x400010, 0xdeadbeef);
    mmu.write64(0x400020, 0x11223344, 0x55667788);
    expect(mmu.read16(0x400010)).toBe(0xbeef);
    expect(mmu.read64(0x400020)).toBe(0x11223344);
    // An 8-byte store at 0x400ffc crosses into the second page: one event, pa = its first byte.
    mmu.write64(0x400ffc, 0x04030201, 0x08070605);
    expect(mmu.read8(0x401003)).toBe(0x08);
    expect(seen).toEqual([
      [1, 0x400010, 0x20010, 4, 0xdeadbeef, 0],
      [1, 0x400020, 0x20020, 8, 0x11223344, 0x55667788],
      [0, 0x400010, 0x20010, 2, 0xbeef, 0],
      [0, 0x400020, 0x20020, 8, 0x11223344, 0x55667788],
      [1, 0x400ffc, 0x20ffc, 8, 0x04030201, 0x08070605],
      [0, 0x401003, 0x35003, 1, 0x08, 0],
    ]);
    // The bytes landed where the events said: 0x20ffc..0x20fff and 0x35000..0x35003.
    expect(phys.readU32(0x20ffc)).toBe(0x04030201);
    expect(phys.readU32(0x35000)).toBe(0x08070605);
  });

  it('a faulting access reports nothing, and TLB hits count one lookup per access', () => {
    const { mmu, tables } = newMachine();
    tables.map(0x400000, 0x20000, SIZE_4K, P | US | A | D); // read-only
    enablePaging(mmu);
    let events = 0;
    mmu.observer = { access: () => void events++ };
    mmu.read32(0x400000); // walk (a miss), then the access
    mmu.resetStats();
    for (let k = 0; k < 10; k++) mmu.read32(0x400000 + 4 * k);
    // 10 reads: 10 hits, no extra lookup for the event (the API's old tap translated first: 20).
    expect(mmu.stats.tlbHits).toBe(10);
    expect(events).toBe(11);
    const f = faultOf(() => mmu.write8(0x400000, 1)); // CR0.WP=1: a supervisor write to R/W=0 faults
    expect(f.vector).toBe(14);
    expect(events).toBe(11);
  });
});

describe('restoreStats', () => {
  it('sets every counter that stats reports', () => {
    const { mmu, tables } = newMachine();
    tables.map(0x400000, 0x20000, SIZE_4K, RWX);
    enablePaging(mmu);
    mmu.read8(0x400000);
    const saved = mmu.stats;
    mmu.read8(0x400001);
    mmu.restoreStats(saved);
    expect(mmu.stats).toEqual(saved);
    mmu.restoreStats({ walks: 7, tlbHits: 11, tlbMisses: 13, rmpChecks: 17 });
    expect(mmu.stats).toEqual({ walks: 7, tlbHits: 11, tlbMisses: 13, rmpChecks: 17 });
  });
});

describe('copy-on-write splits of frames the TLB caches', () => {
  it('a split drops every slot caching the frame, also past the 255 count where counting saturates', () => {
    const { phys, mmu, tables } = newMachine();
    // 300 linear pages, all mapping frame 0x40: 300 TLB slots hold its DataView.
    for (let k = 0; k < 300; k++) tables.map(0x800000 + k * SIZE_4K, 0x40000, SIZE_4K, RWX);
    tables.map(0x400000, 0x41000, SIZE_4K, RWX);
    enablePaging(mmu);
    for (let k = 0; k < 300; k++) mmu.write8(0x800000 + k * SIZE_4K, 1); // fill with write rights
    mmu.write8(0x400000, 1);
    const snap = phys.snapshotFrames(); // the MMU lets go of every cached frame
    for (let k = 0; k < 300; k++) mmu.write8(0x800000 + k * SIZE_4K, 2); // re-cached, shared frame split on the first write
    const snap2 = phys.snapshotFrames();
    // Reads cache the frame's shared view in all 300 slots (the per-frame count saturates at 255).
    for (let k = 0; k < 300; k++) expect(mmu.read8(0x800000 + k * SIZE_4K)).toBe(2);
    phys.write8(0x40000, 4); // split frame 0x40 from snap2 behind the MMU's back
    // Every slot must now read the new frame, not the one snap2 holds.
    for (let k = 0; k < 300; k++) expect(mmu.read8(0x800000 + k * SIZE_4K)).toBe(4);
    for (let k = 0; k < 300; k++) mmu.write8(0x800000 + k * SIZE_4K + 1, 5);
    expect([phys.read8(0x40000), phys.read8(0x40001)]).toEqual([4, 5]);
    phys.restoreFrames(snap2);
    expect([phys.read8(0x40000), phys.read8(0x40001)]).toEqual([2, 0]);
    phys.restoreFrames(snap);
    expect([phys.read8(0x40000), phys.read8(0x41000)]).toEqual([1, 1]);
  });

  it('a split of a frame no slot caches leaves the TLB alone', () => {
    const { phys, mmu, tables } = newMachine();
    tables.map(0x400000, 0x20000, SIZE_4K, RWX);
    enablePaging(mmu);
    phys.write8(0x30000, 1);
    phys.snapshotFrames();
    mmu.write8(0x400000, 1); // walks, caches frame 0x20 (split from the snapshot first)
    mmu.resetStats();
    phys.write8(0x30000, 2); // splits frame 0x30: not in the TLB
    mmu.write8(0x400001, 2);
    expect(mmu.stats).toEqual({ walks: 0, tlbHits: 1, tlbMisses: 0, rmpChecks: 0 });
    phys.write8(0x20000, 3); // frame 0x20 is private now: no split, nothing to drop
    mmu.write8(0x400002, 3);
    expect(mmu.stats.tlbHits).toBe(2);
  });
});

describe('restoreFrames with a dirty list', () => {
  it('restoring the last snapshot visits only the frames allocated or copied since, exactly', () => {
    const phys = new PhysicalMemory(16 * 1024 * 1024);
    phys.write8(0x1000, 0x11);
    phys.write8(0x2000, 0x22);
    const snap = phys.snapshotFrames();
    expect(phys.dirtyFrameCount).toBe(0);
    phys.write8(0x1000, 0x33); // copy of frame 1
    phys.write8(0x1001, 0x34); // same frame: counted once
    phys.write8(0x5000, 0x55); // new frame 5
    expect(phys.dirtyFrameCount).toBe(2);
    phys.restoreFrames(snap);
    expect(phys.dirtyFrameCount).toBe(0);
    expect([phys.read8(0x1000), phys.read8(0x1001), phys.read8(0x2000), phys.read8(0x5000)]).toEqual([0x11, 0, 0x22, 0]);
    expect(phys.isAllocated(5)).toBe(false);
    // Again: the restored frames are shared with the snapshot, so writes copy them again.
    phys.write8(0x2000, 0x66);
    phys.restoreFrames(snap);
    expect(phys.read8(0x2000)).toBe(0x22);
    expect(snap[2]![0]).toBe(0x22); // the snapshot itself never changed
  });

  it('restoring another snapshot than the last one is exact too (a full pass)', () => {
    const phys = new PhysicalMemory(16 * 1024 * 1024);
    phys.write8(0x1000, 1);
    const s1 = phys.snapshotFrames();
    phys.write8(0x1000, 2);
    phys.write8(0x3000, 3);
    const s2 = phys.snapshotFrames();
    phys.write8(0x4000, 4);
    phys.restoreFrames(s1);
    expect([phys.read8(0x1000), phys.read8(0x3000), phys.read8(0x4000)]).toEqual([1, 0, 0]);
    phys.write8(0x1000, 9);
    phys.restoreFrames(s2);
    expect([phys.read8(0x1000), phys.read8(0x3000), phys.read8(0x4000)]).toEqual([2, 3, 0]);
    phys.restoreFrames(s1); // s1 again after s2: the baseline follows the last restore
    expect([phys.read8(0x1000), phys.read8(0x3000)]).toEqual([1, 0]);
  });

  it('a restore tells the code-mark hook about each frame it changes, and only those', () => {
    const phys = new PhysicalMemory(16 * 1024 * 1024);
    phys.write8(0x1000, 1);
    phys.write8(0x2000, 1);
    phys.codeMarks[1] = 1;
    phys.codeMarks[2] = 1;
    const snap = phys.snapshotFrames();
    const told: number[] = [];
    phys.onCodeWrite = (pfn) => void told.push(pfn);
    phys.write8(0x1000, 2);
    told.length = 0;
    phys.restoreFrames(snap);
    expect(told).toEqual([1]);
  });
});
