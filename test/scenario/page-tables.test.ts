// The paging.maps builder of kernel none: entries checked against hand-computed values (Intel SDM
// Vol.3A §4.5: index bits 47:39, 38:30, 29:21, 20:12; P=bit0, RW=1, US=2, A=5, D=6, PS=7, NX=63).

import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/mem/physical.ts';
import { buildPageTables } from '../../src/scenario/page-tables.ts';
import { InputError } from '../../src/scenario/errors.ts';
import { lookupLinear } from '../../src/scenario/lookup.ts';
import type { PagingSpec } from '../../src/scenario/types.ts';

const MB = 1 << 20;

describe('paging.maps builder', () => {
  it('builds 4-level tables from 1 MiB up, upper levels P|RW|US', () => {
    const phys = new PhysicalMemory(64 * MB);
    const paging: PagingSpec = {
      maps: [
        { va: 0x10000, pa: 0x10000, sizeBytes: 4096, flags: ['P', 'US'], levels: {} },
        { va: 0x11000, pa: 0x11000, sizeBytes: 4096, flags: ['P', 'RW'], levels: {} },
      ],
      entries: [],
    };
    const built = buildPageTables(phys, paging, [], 'f.json');
    // Allocation order: PML4 0x100000, PDPT 0x101000, PD 0x102000, PT 0x103000.
    expect(built.cr3).toBe(0x100000);
    expect(built.tablePages).toEqual([0x100000, 0x101000, 0x102000, 0x103000]);
    expect(phys.readU64(0x100000)).toBe(0x101007n); // PML4E[0] = PDPT | P|RW|US
    expect(phys.readU64(0x101000)).toBe(0x102007n);
    expect(phys.readU64(0x102000)).toBe(0x103007n);
    // PT index of 0x10000 is 0x10: entry at 0x103000 + 0x80; 0x10000 | P|US = 0x10005.
    expect(phys.readU64(0x103080)).toBe(0x10005n);
    expect(phys.readU64(0x103088)).toBe(0x11003n); // 0x11000 | P|RW
  });

  it('maps 2M and 1G pages with PS and NX, and skips reserved pages', () => {
    const phys = new PhysicalMemory(64 * MB);
    const paging: PagingSpec = {
      maps: [
        { va: 0x40000000, pa: 0x200000, sizeBytes: 2 * MB, flags: ['P', 'RW', 'US', 'NX'], levels: { pdpte: ['P', 'RW'] } },
        { va: 0x8000000000, pa: 0, sizeBytes: 1 << 30, flags: ['P'], levels: {} },
      ],
      entries: [],
    };
    const built = buildPageTables(phys, paging, [{ start: 0x100000, end: 0x102000 }], 'f.json');
    expect(built.tablePages[0]).toBe(0x102000); // the first two pages are reserved
    // 0x40000000: PML4 index 0, PDPT index 1, PD index 0.
    const pdpt = built.tablePages[1]!;
    const pd = built.tablePages[2]!;
    expect(phys.readU64(pdpt + 8)).toBe(BigInt(pd) | 3n); // P|RW from levels.pdpte
    expect(phys.readU64(pd)).toBe(0x200000n | 0x87n | (1n << 63n)); // P|RW|US|PS, NX
    // 0x8000000000: PML4 index 1; its PDPT index 0 maps 1G at 0 with P|PS = 0x81.
    const pdpt2 = Number(phys.readU64(built.cr3 + 8) & 0xffffffffff000n);
    expect(phys.readU64(pdpt2)).toBe(0x81n);
    expect(lookupLinear(phys, built.cr3, 0x8000000000 + 0x12345)).toMatchObject({ pa: 0x12345, pageBytes: 1 << 30 });
    expect(lookupLinear(phys, built.cr3, 0x40001234)).toMatchObject({ pa: 0x201234, pageBytes: 2 * MB });
    expect(lookupLinear(phys, built.cr3, 0x50000000).pa).toBeNull();
  });

  it('rejects two maps of the same page and conflicting shared entries', () => {
    const phys = new PhysicalMemory(64 * MB);
    const same: PagingSpec = {
      maps: [
        { va: 0x10000, pa: 0x10000, sizeBytes: 4096, flags: ['P'], levels: {} },
        { va: 0x10000, pa: 0x20000, sizeBytes: 4096, flags: ['P'], levels: {} },
      ],
      entries: [],
    };
    expect(() => buildPageTables(phys, same, [], 'f.json')).toThrow(InputError);
    const conflict: PagingSpec = {
      maps: [
        { va: 0x10000, pa: 0x10000, sizeBytes: 4096, flags: ['P'], levels: { pde: ['P', 'RW', 'US'] } },
        { va: 0x11000, pa: 0x11000, sizeBytes: 4096, flags: ['P'], levels: { pde: ['P'] } },
      ],
      entries: [],
    };
    try {
      buildPageTables(new PhysicalMemory(64 * MB), conflict, [], 'f.json');
      expect.unreachable();
    } catch (e) {
      expect((e as InputError).jsonPath).toBe('paging.maps[1].levels.pde');
    }
  });

  it('builds under a given CR3 root and writes raw entries last', () => {
    const phys = new PhysicalMemory(64 * MB);
    const paging: PagingSpec = {
      maps: [{ va: 0x10000, pa: 0x10000, sizeBytes: 4096, flags: ['P'], levels: {} }],
      entries: [{ pa: 0x5000, value: 0xdeadn }],
    };
    const built = buildPageTables(phys, paging, [], 'f.json', 0x1000);
    expect(built.cr3).toBe(0x1000);
    expect(phys.readU64(0x1000) & 0xfffn).toBe(7n);
    expect(phys.readU64(0x5000)).toBe(0xdeadn);
  });

  it('says so when RAM has no room left', () => {
    const phys = new PhysicalMemory(1 * MB);
    const paging: PagingSpec = { maps: [{ va: 0, pa: 0, sizeBytes: 4096, flags: ['P'], levels: {} }], entries: [] };
    expect(() => buildPageTables(phys, paging, [{ start: 0, end: MB }], 'f.json')).toThrow(/no free 4K page/);
  });
});
