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
