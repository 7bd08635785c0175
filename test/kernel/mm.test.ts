// Address-space construction and the mm operations, checked against the entry formats of Intel SDM
// Vol.3A §4.5 (Tables 4-15, 4-17, 4-19, 4-20) and the x86 Linux flag choices documented in mm.ts.

import { describe, expect, it } from 'vitest';
import { Access, expectFault, GiB, makeFixture, MiB, RO, RW, RX } from './fixture.ts';
import { FrameAllocator } from '../../src/kernel/frame-allocator.ts';
import { PTE_BITS } from '../../src/mmu/paging-bits.ts';

// Hand-computed entry flag sets:
//   upper levels: _PAGE_TABLE = P|RW|US|A|D = 0x1|0x2|0x4|0x20|0x40 = 0x67
//   writable 4K leaf: P|RW|US|A|D|NX = 0x67 | 1<<63
//   read-only executable 4K leaf: P|US|A = 0x25
//   2M/1G writable leaf: 0x67 | PS(0x80) = 0xe7, plus NX
const NX = 1n << 63n;

describe('page tables built for populated regions', () => {
  it('a writable 4K anon region: four levels, upper entries 0x67, leaf P|RW|US|A|D|NX', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    const steps = f.mm.tables.walk(0x600000);
    expect(steps.map((s) => s.level)).toEqual([4, 3, 2, 1]);
    for (const s of steps.slice(0, 3)) expect(s.value & 0xfffn).toBe(0x67n);
    const leaf = steps[3]!.value;
    expect(leaf & 0xfffn).toBe(0x67n);
    expect(leaf & NX).toBe(NX);
    // The real MMU agrees: a user write translates to the same frame.
    expect(f.access(0x600000, Access.Write)).toBe(f.mm.translate(0x600000));
  });

  it('a read-only executable region: leaf P|US|A without NX, a user write faults P|W|U = 0x7', () => {
    const f = makeFixture();
    f.map({ name: 'code', start: 0x400000, size: 0x1000, prot: RX, bytes: Uint8Array.from([0x90, 0xc3]) });
    const leaf = f.mm.tables.walk(0x400000)[3]!.value;
    expect(leaf & 0xfffn).toBe(0x25n);
    expect(leaf & NX).toBe(0n);
    expect(f.phys.read8(f.mm.translate(0x400001)!)).toBe(0xc3);
    expect(expectFault(f.access(0x400000, Access.Write)).errorCode).toBe(0x7);
  });

  it('a THP region is one PS=1 PDE over a 2M-aligned frame run', () => {
    const f = makeFixture();
    f.map({ name: 'thp', start: 0x40000000, size: 2 * MiB, kind: 'thp', pageBytes: 2 * MiB });
    const steps = f.mm.tables.walk(0x40000000);
    expect(steps.length).toBe(3);
    expect(steps[2]!.value & 0xfffn).toBe(0xe7n);
    const pa = f.mm.translate(0x40000000)!;
    expect(pa % (2 * MiB)).toBe(0);
    expect(f.mm.translate(0x40123456)).toBe(pa + 0x123456);
  });

  it('a 1G hugetlb region is one PS=1 PDPTE; a 2M hugetlb region one PS=1 PDE', () => {
    const f = makeFixture(3 * GiB);
    f.map({ name: 'g', start: 0x40000000, size: GiB, kind: 'hugetlb', pageBytes: GiB });
    f.map({ name: 'm', start: 0x80000000, size: 2 * MiB, kind: 'hugetlb', pageBytes: 2 * MiB });
    const g = f.mm.tables.walk(0x40000000);
    expect(g.length).toBe(2);
    expect(g[1]!.value & PTE_BITS.PS).toBe(PTE_BITS.PS);
    expect(f.mm.translate(0x40000000)! % GiB).toBe(0);
    expect(f.mm.tables.walk(0x80000000).length).toBe(3);
  });

  it('pinned frames (`pa`) back the region exactly, and unaligned huge pins are refused', () => {
    const f = makeFixture();
    f.frames.reserve(0x800000, 0x2000);
    f.map({ name: 'p', start: 0x700000, size: 0x2000, pa: 0x800000 });
    expect(f.mm.translate(0x701234)).toBe(0x801234);
    expect(() => f.map({ name: 'q', start: 0x40000000, size: 2 * MiB, kind: 'thp', pageBytes: 2 * MiB, pa: 0x801000 })).toThrow(/aligned/);
  });

  it('overlapping regions are refused with a message naming the region', () => {
    const f = makeFixture();
    f.map({ name: 'a', start: 0x600000, size: 0x2000 });
    expect(() => f.map({ name: 'b', start: 0x601000, size: 0x1000 })).toThrow(/"b".*overlaps/);
  });
});

describe('split_huge_pmd', () => {
  it('replaces the PDE by 512 PTEs over the same frames with the same flags, and flushes the 2M range', () => {
    const f = makeFixture();
    f.map({ name: 'thp', start: 0x40000000, size: 2 * MiB, kind: 'thp', pageBytes: 2 * MiB });
    const before = f.mm.translate(0x40000000)!;
    f.flushed.length = 0;
    const vma = f.mm.vmas.find(0x40000000)!;
    const r = f.mm.splitHugePmd(vma, 0x40080010, 'test');
    expect(r.action).toBe('split');
    const steps = f.mm.tables.walk(0x40080010);
    expect(steps.length).toBe(4);
    expect(steps[2]!.value & PTE_BITS.PS).toBe(0n);
    for (let i = 0; i < 512; i += 97) {
      expect(f.mm.translate(0x40000000 + i * 4096)).toBe(before + i * 4096);
      const pte = f.mm.tables.walk(0x40000000 + i * 4096)[3]!.value;
      expect(pte & 0xfffn).toBe(0x67n); // P RW US A D carried over, PS gone
      expect(pte & NX).toBe(NX);
    }
    // The whole 2M range left the TLB (one flushAll, since it is more than 64 pages).
    expect(f.flushed).toContain(-1);
  });
});

describe('zap, munmap, remap, mprotect', () => {
  it('zap clears the entries but keeps the VMA; the next write demand-faults a fresh zero page', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000, bytes: Uint8Array.from([1, 2, 3]) });
    f.mm.zap(0x600000, 0x601000);
    expect(f.mm.translate(0x600000)).toBeNull();
    expect(f.mm.vmas.find(0x600000)).toBeDefined();
    const fault = expectFault(f.access(0x600000, Access.Write));
    expect(fault.errorCode).toBe(0x6); // not present, W, U
    const r = f.handler('v7').handle({ errorCode: fault.errorCode, address: fault.address, rip: 0n }, true);
    expect(r.kind).toBe('resume');
    expect(r.decision.action).toBe('demand');
    expect(f.phys.read8(f.mm.translate(0x600000)!)).toBe(0);
  });

  it('a read of a zapped anon page maps the zero page read-only; the write then copies it (cow)', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    f.mm.zap(0x600000, 0x601000);
    const h = f.handler('mainline');
    const read = expectFault(f.access(0x600000, Access.Read));
    expect(h.handle({ errorCode: read.errorCode, address: read.address, rip: 0n }, true).decision.action).toBe('demand');
    const zero = f.mm.translate(0x600000)!;
    const write = expectFault(f.access(0x600000, Access.Write));
    expect(write.errorCode).toBe(0x7); // present, W, U
    const r = h.handle({ errorCode: write.errorCode, address: write.address, rip: 0n }, true);
    expect(r.decision.action).toBe('cow');
    expect(f.mm.translate(0x600000)).not.toBe(zero);
    expect(typeof f.access(0x600000, Access.Write)).toBe('number');
  });

  it('munmap removes the VMA too: the next touch is SIGSEGV/SEGV_MAPERR', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x2000 });
    f.mm.munmap(0x600000, 0x601000);
    expect(f.mm.vmas.find(0x600000)).toBeUndefined();
    expect(f.mm.vmas.find(0x601000)).toBeDefined();
    const fault = expectFault(f.access(0x600000, Access.Read));
    const r = f.handler('v7').handle({ errorCode: fault.errorCode, address: fault.address, rip: 0n }, true);
    expect(r.kind).toBe('signal');
    if (r.kind === 'signal') expect([r.signo, r.siCode, r.siAddr]).toEqual([11, 'SEGV_MAPERR', 0x600000n]);
  });

  it('munmap of part of a THP splits the PMD first and keeps the rest mapped', () => {
    const f = makeFixture();
    f.map({ name: 'thp', start: 0x40000000, size: 2 * MiB, kind: 'thp', pageBytes: 2 * MiB });
    const pa = f.mm.translate(0x40000000)!;
    f.mm.munmap(0x40001000, 0x40002000);
    expect(f.mm.translate(0x40001000)).toBeNull();
    expect(f.mm.translate(0x40002000)).toBe(pa + 0x2000);
  });

  it('remap points the entries at new frames with the same flags', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x2000 });
    const flags = f.mm.tables.walk(0x600000)[3]!.value & 0xfffn;
    f.mm.remap(0x600000, 0x602000, 0x900000);
    expect(f.mm.translate(0x601008)).toBe(0x901008);
    expect(f.mm.tables.walk(0x600000)[3]!.value & 0xfffn).toBe(flags);
  });

  it('mprotect to read-only clears RW: a user write then faults 0x7 and access_error says SEGV_ACCERR', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    expect(typeof f.access(0x600000, Access.Write)).toBe('number');
    f.mm.mprotect(0x600000, 0x601000, RO);
    const fault = expectFault(f.access(0x600000, Access.Write));
    expect(fault.errorCode).toBe(0x7);
    const r = f.handler('mainline').handle({ errorCode: fault.errorCode, address: fault.address, rip: 0n }, true);
    expect(r.kind === 'signal' && r.siCode).toBe('SEGV_ACCERR');
    f.mm.mprotect(0x600000, 0x601000, RW);
    expect(typeof f.access(0x600000, Access.Write)).toBe('number');
  });
});

describe('frame allocator', () => {
  it('avoids reserved frames and the first MiB, reuses the last freed 4K frame, and gives aligned huge blocks', () => {
    const a = new FrameAllocator(64 * MiB);
    a.reserve(0x100000, 0x1000);
    const first = a.alloc4K();
    expect(first).toBe(0x101); // pfn after the first MiB and the reserved frame
    a.free(first);
    expect(a.alloc4K()).toBe(first);
    const big = a.alloc2M();
    expect(big % 512).toBe(0);
    expect(big).toBe((64 * MiB) / 4096 - 512); // top-down
    expect(() => new FrameAllocator(2 * MiB).alloc1G()).toThrow(/1 GiB/);
  });
});

describe('file-backed kinds and the reserved-bit oops', () => {
  it('private-file: read-only populate maps the page cache; after mprotect(rw) a write copies it (cow), the cache keeps its bytes', () => {
    const f = makeFixture();
    f.map({ name: 'file', start: 0x700000, size: 0x1000, prot: RO, kind: 'private-file', bytes: Uint8Array.from([9, 8, 7]) });
    const cache = f.mm.translate(0x700000)!;
    f.mm.mprotect(0x700000, 0x701000, RW);
    const fault = expectFault(f.access(0x700000, Access.Write));
    expect(fault.errorCode).toBe(0x7);
    const r = f.handler('v7').handle({ errorCode: fault.errorCode, address: fault.address, rip: 0n }, true);
    expect(r.decision.action).toBe('cow');
    expect(r.decision.why).toMatch(/wp_page_copy/);
    const copy = f.mm.translate(0x700000)!;
    expect(copy).not.toBe(cache);
    expect([...f.phys.readBytes(copy, 3)]).toEqual([9, 8, 7]);
  });

  it('shared-file: unmap then touch maps the same page-cache frame again (the data survives)', () => {
    const f = makeFixture();
    f.map({ name: 'shm', start: 0x700000, size: 0x1000, kind: 'shared-file', bytes: Uint8Array.from([5]) });
    const cache = f.mm.translate(0x700000)!;
    f.mm.zap(0x700000, 0x701000);
    const fault = expectFault(f.access(0x700000, Access.Read));
    expect(f.handler('mainline').handle({ errorCode: fault.errorCode, address: fault.address, rip: 0n }, true).decision.action).toBe('demand');
    expect(f.mm.translate(0x700000)).toBe(cache);
    expect(f.phys.read8(cache)).toBe(5);
  });

  it('a reserved bit in the tables (PS in a PML4E) gives RSVD: pgtable_bad → oops', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    const pml4e = f.mm.tables.walk(0x600000)[0]!;
    f.phys.writeU64(pml4e.entryPa, pml4e.value | PTE_BITS.PS);
    f.mmu.flushTlb();
    const fault = expectFault(f.access(0x600000, Access.Read));
    expect(fault.errorCode & 0x8).toBe(0x8);
    const r = f.handler('v7').handle({ errorCode: fault.errorCode, address: fault.address, rip: 0n }, true);
    expect([r.kind, r.decision.action]).toEqual(['oops', 'oops']);
  });
});
