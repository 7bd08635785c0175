// The KVM-shaped hypervisor model (src/hv): nested mapping levels, gmem prepare, PSMASH retries,
// the warn path, and the nested table builder.
import { describe, expect, it } from 'vitest';
import { guest, region, PRIVATE_PA } from './fixture.ts';
import { NpfBits, SIZE_1G, SIZE_2M, SIZE_4K } from '../../src/guest/constants.ts';
import { stateNameOf } from '../../src/rmp/states.ts';

const pfn = (pa: number): number => pa / SIZE_4K;

describe('nested mapping level (sev_gmem_max_mapping_level)', () => {
  it('2M host pages over 4K RMP entries map at 4K; over a 2M RMP page at 2M', () => {
    expect(guest({ regions: [region({ hostPageSize: SIZE_2M })], paging: undefined }).hv.npt.lookup(0x3000)!.size).toBe(SIZE_4K);
    expect(guest({ regions: [region({ hostPageSize: SIZE_2M, rmpSize: SIZE_2M })], paging: undefined }).hv.npt.lookup(0x3000)!.size).toBe(SIZE_2M);
  });

  it('without the cap the host page size wins (the case-37 "what if")', () => {
    const g = guest({ regions: [region({ hostPageSize: SIZE_2M })], paging: undefined, hv: { capAtRmpLevel: false } });
    expect(g.hv.npt.lookup(0x3000)!.size).toBe(SIZE_2M);
  });

  it('a 2M block that mixes private and shared frames maps at 4K', () => {
    const g = guest({ regions: [region({ hostPageSize: SIZE_2M, rmpSize: SIZE_2M })], paging: undefined });
    g.hv.convert(0x5000, SIZE_4K, false);
    g.hv.populate();
    expect(g.hv.npt.lookup(0x3000)!.size).toBe(SIZE_4K);
    expect(g.hv.npt.lookup(0x5000)!.spa).toBe(g.hv.backing(0x5000, false));
  });
});

describe('gmem prepare (rmp_make_private at fault-in)', () => {
  it('a whole private 2M block of hypervisor-owned frames becomes one Guest-Invalid 2M RMP page', () => {
    const g = guest({ regions: [region({ hostPageSize: SIZE_2M, rmpState: 'hypervisor' })], paging: undefined });
    const e = g.rmp.entry(pfn(PRIVATE_PA));
    expect(stateNameOf(e)).toBe('guest-invalid');
    expect(e.pageSize).toBe(1);
    expect(e.gpa).toBe(0);
    expect(g.hv.npt.lookup(0x3000)!.size).toBe(SIZE_2M);
  });

  it('with 4K host pages each frame becomes a 4K Guest-Invalid page at its GPA', () => {
    const g = guest({ regions: [region({ rmpState: 'hypervisor' })], paging: undefined });
    const e = g.rmp.entry(pfn(PRIVATE_PA + 0x7000));
    expect(stateNameOf(e)).toBe('guest-invalid');
    expect(e.pageSize).toBe(0);
    expect(e.gpa).toBe(0x7000);
  });
});

describe('sev_handle_rmp_fault', () => {
  it('PSMASH is retried on FAIL_INUSE, up to psmashRetries, then KVM warns and still zaps', () => {
    const g = guest({ regions: [region({ rmpSize: SIZE_2M })], paging: undefined, hv: { psmashRetries: 4 } });
    g.rmp.injectBusy(pfn(PRIVATE_PA), { instructions: 10 });
    const start = g.hv.log.length;
    g.hv.sevHandleRmpFault(0x3000, NpfBits.RMP);
    expect(g.hv.log.slice(start).map((a) => a.action)).toEqual(['psmash-failed', 'zap']);
    expect(g.rmp.entry(pfn(PRIVATE_PA)).pageSize).toBe(1);
    // 4 attempts consumed 4 of the 10 busy instructions: 6 more fail, the 7th succeeds.
    g.rmp.injectBusy(pfn(PRIVATE_PA), { instructions: 0 });
    const again = g.hv.log.length;
    g.hv.sevHandleRmpFault(0x3000, NpfBits.RMP);
    g.hv.sevHandleRmpFault(0x3000, NpfBits.RMP);
    expect(g.hv.log.slice(again).map((a) => a.action)).toEqual(['psmash-failed', 'zap', 'psmash', 'zap']);
  });

  it('a fault on a shared GFN only warns', () => {
    const g = guest({ paging: undefined });
    g.hv.convert(0x3000, SIZE_4K, false);
    const start = g.hv.log.length;
    g.hv.sevHandleRmpFault(0x3000, NpfBits.RMP);
    expect(g.hv.log.slice(start).map((a) => a.action)).toEqual(['warn']);
    expect(g.hv.log[g.hv.log.length - 1]!.why).toContain('Unexpected RMP fault for non-private GPA 0x3000');
  });
});

describe('nested page table builder', () => {
  it('maps 4K/2M/1G leaves, finds them, and zaps a huge leaf whole', () => {
    const g = guest({ paging: undefined });
    const npt = g.hv.npt;
    npt.map(0x40000000, 0x80000000, SIZE_1G);
    expect(npt.lookup(0x40001234)).toMatchObject({ size: SIZE_1G, spa: 0x80001234 });
    npt.map(0x600000, 0xa00000, SIZE_2M);
    expect(npt.lookup(0x7ff000)).toMatchObject({ size: SIZE_2M, spa: 0xbff000 });
    expect(npt.zap(0x700000, SIZE_4K)).toBe(1);
    expect(npt.lookup(0x600000)).toBeNull();
    expect(() => npt.map(0x1000, 0x2000, SIZE_2M)).toThrow(/aligned/);
  });
});
