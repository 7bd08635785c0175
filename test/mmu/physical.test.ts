// PhysicalMemory's additions for caches (views and frame-replaced listeners) and its beyond-RAM
// behaviour (docs/memory.md).

import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/mem/physical.ts';

describe('PhysicalMemory views and listeners', () => {
  it('beyond RAM: reads are 0xff, writes are dropped, views are all-ones', () => {
    const phys = new PhysicalMemory(0x10000);
    phys.write8(0x10000, 0x12);
    expect(phys.read8(0x10000)).toBe(0xff);
    expect(phys.viewForRead(0x10).getUint32(0, true)).toBe(0xffffffff);
    expect(phys.viewForWrite(0x10)).toBeUndefined();
    expect(phys.viewForCache(0x10).getUint8(7)).toBe(0xff);
  });

  it('viewForCache allocates a never-written frame, so the cached view sees later writes', () => {
    const phys = new PhysicalMemory(0x10000);
    expect(phys.isAllocated(3)).toBe(false);
    const view = phys.viewForCache(3);
    expect(phys.isAllocated(3)).toBe(true);
    phys.writeU32(0x3004, 0xdeadbeef, 4);
    expect(view.getUint32(4, true)).toBe(0xdeadbeef);
    expect(phys.viewForRead(3)).toBe(view); // one view per frame
  });

  it('a copy-on-write split and snapshot/restore tell the listeners', () => {
    const phys = new PhysicalMemory(0x10000);
    const heard: number[] = [];
    const remove = phys.addFrameReplacedListener((pfn) => heard.push(pfn));
    phys.write8(0x2000, 1);
    const before = phys.viewForRead(2);
    const snap = phys.snapshotFrames();
    expect(heard).toEqual([-1]);
    phys.write8(0x2000, 2); // splits frame 2 from the snapshot
    expect(heard).toEqual([-1, 2]);
    expect(before.getUint8(0)).toBe(1); // the old view still shows the snapshot's bytes
    expect(phys.viewForRead(2).getUint8(0)).toBe(2);
    phys.restoreFrames(snap);
    expect(heard).toEqual([-1, 2, -1]);
    expect(phys.viewForRead(2).getUint8(0)).toBe(1);
    remove();
    phys.snapshotFrames();
    expect(heard).toHaveLength(3);
  });
});

describe('PhysicalMemory sparseness and zero reads (docs/memory.md, "Memory cost model")', () => {
  const countAllocated = (phys: PhysicalMemory) => {
    let n = 0;
    for (let pfn = 0; pfn < phys.frameCount; pfn++) if (phys.isAllocated(pfn)) n++;
    return n;
  };

  it('a 3 GiB machine that touches 3 pages at high addresses allocates those 3 frames only', () => {
    const phys = new PhysicalMemory(3 * 1024 ** 3); // 3 * 2^30 / 2^12 = 786432 frames
    expect(phys.frameCount).toBe(786432);
    phys.write8(0xbffff000, 0xa1); // last frame of RAM: pfn 0xbffff
    phys.writeU32(0x80000ffc, 0xdeadbeef, 4); // last 4 bytes of frame 0x80000
    phys.write8(0x40001000, 0xc3); // pfn 0x40001
    expect(countAllocated(phys)).toBe(3);
    expect([0xbffff, 0x80000, 0x40001].map((pfn) => phys.isAllocated(pfn))).toEqual([true, true, true]);
    expect(phys.read8(0xbffff000)).toBe(0xa1);
    expect(phys.readU32(0x80000ffc, 4)).toBe(0xdeadbeef);
    expect(phys.read8(0x40001000)).toBe(0xc3);
    // The neighbours were never written: zero, and still not allocated after being read.
    expect([phys.read8(0xbfffe000), phys.readU32(0x80001000, 4), phys.read8(0x40000fff)]).toEqual([0, 0, 0]);
    expect(countAllocated(phys)).toBe(3);
    // One byte past RAM (3 GiB = 0xc0000000): all-ones, and nothing is allocated for it.
    expect(phys.read8(0xc0000000)).toBe(0xff);
    phys.write8(0xc0000000, 0);
    expect(countAllocated(phys)).toBe(3);
  });

  it('never-written frames read as zero through every read path, allocating nothing', () => {
    const phys = new PhysicalMemory(0x100000);
    expect(phys.read8(0x5123)).toBe(0);
    expect(phys.readU32(0x5ffe, 4)).toBe(0); // crosses frames 5 and 6
    expect(phys.readU64(0x7ff8)).toBe(0n);
    expect(Array.from(phys.readBytes(0x8ff0, 32))).toEqual(new Array(32).fill(0));
    expect(phys.frameForRead(9)[4095]).toBe(0);
    expect(phys.viewForRead(10).getUint32(0, true)).toBe(0);
    expect(countAllocated(phys)).toBe(0);
  });

  it('a frame allocated after a snapshot, dropped by a restore and written again, leaves the later snapshot intact', () => {
    // The hazard of any backing store that reuses a frame's place: S2 holds frame 4's first
    // backing array, so the write after restoring S1 (where frame 4 does not exist) must not land in it.
    const phys = new PhysicalMemory(0x100000);
    const s1 = phys.snapshotFrames(); // frame 4 never written
    phys.write8(0x4000, 0x22);
    const s2 = phys.snapshotFrames();
    phys.restoreFrames(s1);
    expect(phys.isAllocated(4)).toBe(false);
    expect(phys.read8(0x4000)).toBe(0);
    phys.write8(0x4000, 0x33); // a fresh, zeroed frame: byte 1 must read 0
    expect([phys.read8(0x4000), phys.read8(0x4001)]).toEqual([0x33, 0]);
    phys.restoreFrames(s2);
    expect(phys.read8(0x4000)).toBe(0x22);
    phys.restoreFrames(s1);
    expect(phys.read8(0x4000)).toBe(0);
  });
});
