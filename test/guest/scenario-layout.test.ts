// Guest scenario checks that need the whole region list and the machine (src/guest/scenario.ts
// checkLayout): each used to reach GuestMachine/KvmVm and end as an "internal error" (a RangeError,
// exit 3, no JSON path) or to run silently. Each is now an InputError naming the JSON path.
//
// Layout numbers used below (docs/guest.md "Host memory layout"; RmpTable.defaultPlacement):
// 64 MiB of RAM = 32 x 2M = 16384 pages; the RMP is 16 KiB bookkeeping + 16384 x 16 B = 272 KiB,
// rounded up to 1 MiB and placed at the top of RAM: base 0x3f00000, so its 2M block starts at
// 0x3e00000. The host pool is [RAM/2, 0x3e00000) = [0x2000000, 0x3e00000), 0x1e00000 bytes.

import { describe, expect, it } from 'vitest';
import { parseGuestScenario } from '../../src/guest/scenario.ts';
import { runGuestScenario } from '../../src/guest/scenario-run.ts';
import { InputError } from '../../src/scenario/errors.ts';

type Doc = { format: number; name: string; machine?: Record<string, unknown>; guest: Record<string, unknown> };

const doc = (guest: Record<string, unknown>, machine?: Record<string, unknown>): Doc => ({
  format: 1, name: 'layout', ...(machine === undefined ? {} : { machine }), guest: { steps: [{ read: '0x3000' }], ...guest },
});

function inputError(d: unknown): InputError {
  try {
    parseGuestScenario(d, 'f.json');
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

describe('guest layout checks', () => {
  it('overlapping guest regions name the later region and the one it overlaps', () => {
    // [0, 2M) and [1M, 3M) share [1M, 2M).
    const e = inputError(doc({ memory: [{ gpa: '0x0', size: '2M', pa: '0x400000' }, { gpa: '0x100000', size: '2M', pa: '0x800000' }] }));
    expect(e.jsonPath).toBe('guest.memory[1]');
    expect(e.problem).toContain('[0x100000, 0x300000) overlaps guest.memory[0] (GPA [0x0, 0x200000))');
  });

  it('adjacent regions are fine', () => {
    expect(() => parseGuestScenario(doc({ memory: [{ gpa: '0x0', size: '2M', pa: '0x400000' }, { gpa: '0x200000', size: '2M', pa: '0x800000' }] }))).not.toThrow();
  });

  it('a backing beyond RAM says so (not the RMP blocks)', () => {
    const e = inputError(doc({ memory: [{ gpa: '0x0', size: '2M', pa: '0x80000000' }] }));
    expect(e.jsonPath).toBe('guest.memory[0].pa');
    expect(e.problem).toContain('the backing [0x80000000, 0x80200000) lies beyond RAM (machine.memory is 0x4000000 bytes)');
    expect(e.problem).toContain('at or below 0x3e00000');
  });

  it('a backing inside RAM that reaches the RMP table\'s 2M block names that block', () => {
    // [0x3d00000, 0x3f00000) reaches 0x3e00000.
    const e = inputError(doc({ memory: [{ gpa: '0x0', size: '2M', sharedPa: '0x3d00000' }] }));
    expect(e.jsonPath).toBe('guest.memory[0].sharedPa');
    expect(e.problem).toContain('reaches the 2M blocks reserved for the RMP table at the top of RAM ([0x3e00000, 0x4000000))');
  });

  it('two regions backed by the same frames: both paths named', () => {
    const e = inputError(doc({ memory: [{ gpa: '0x0', size: '2M', pa: '0x400000' }, { gpa: '0x200000', size: '2M', pa: '0x400000' }] }));
    expect(e.jsonPath).toBe('guest.memory[1].pa');
    expect(e.problem).toContain('overlaps the backing of guest.memory[0].pa ([0x400000, 0x600000))');
  });

  it('a partial overlap between one region\'s sharedPa and another\'s pa is caught too', () => {
    // [0x500000, 0x700000) against [0x400000, 0x600000).
    const e = inputError(doc({ memory: [{ gpa: '0x0', size: '2M', pa: '0x400000' }, { gpa: '0x200000', size: '2M', pa: '0x800000', sharedPa: '0x500000' }] }));
    expect(e.jsonPath).toBe('guest.memory[1].sharedPa');
    expect(e.problem).toContain('guest.memory[0].pa');
  });

  it('an SNP-active guest cannot have pa = sharedPa; a guest that is not SNP-active may (it uses only sharedPa)', () => {
    const region = { gpa: '0x0', size: '2M', pa: '0x400000', sharedPa: '0x400000' };
    expect(inputError(doc({ memory: [region] })).jsonPath).toBe('guest.memory[0].sharedPa');
    expect(() => parseGuestScenario(doc({ snp: false, memory: [region] }))).not.toThrow();
  });

  it('auto-placed backings larger than the host pool are an input error on guest.memory', () => {
    // A 16M region without pa/sharedPa needs 2 x 16M = 0x2000000 > the pool's 0x1e00000 bytes.
    const e = inputError(doc({ memory: [{ gpa: '0x0', size: '16M' }] }));
    expect(e.jsonPath).toBe('guest.memory');
    expect(e.problem).toContain('need 0x2000000 bytes, but the host pool [0x2000000, 0x3e00000) holds 0x1e00000');
  });

  it('tablesAt outside every region', () => {
    const e = inputError(doc({ memory: [{ gpa: '0x0', size: '2M', pa: '0x400000' }], paging: { tablesAt: '0x7fffff000', maps: [{ va: '0x3000', gpa: '0x3000' }] } }));
    expect(e.jsonPath).toBe('guest.paging.tablesAt');
    expect(e.problem).toContain('GPA 0x7fffff000 is outside every region');
  });

  it('tablesAt whose 16 pages run past the region end (0x1f8000 + 16 pages = 0x208000 > 2M)', () => {
    const e = inputError(doc({ memory: [{ gpa: '0x0', size: '2M', pa: '0x400000' }], paging: { tablesAt: '0x1f8000', maps: [{ va: '0x3000', gpa: '0x3000' }] } }));
    expect(e.jsonPath).toBe('guest.paging.tablesAt');
    expect(e.problem).toContain('GPA 0x200000 is outside every region');
  });

  it('machine.snp false with an SNP-active guest: SNP_EN is required (spec/rmp.md §1.1)', () => {
    const e = inputError(doc({ memory: [{ gpa: '0x0', size: '2M', pa: '0x400000', rmp: 'guest-invalid' }] }, { snp: false }));
    expect(e.jsonPath).toBe('machine.snp');
    expect(e.problem).toContain('SYSCFG.SNP_EN');
    expect(e.problem).toContain('spec/rmp.md §1.1');
    // A guest that is not SNP-active runs on a machine with SNP off.
    const plain = parseGuestScenario(doc({ snp: false, memory: [{ gpa: '0x0', size: '2M', pa: '0x400000' }] }, { snp: false }));
    expect(runGuestScenario(plain).outcome.kind).toBe('done');
  });

  it('a 2M RMP launch state needs a 2M-aligned GPA, size and backing', () => {
    const r = { size: '2M', rmp: 'guest-valid', rmpSize: '2M' };
    expect(inputError(doc({ memory: [{ ...r, gpa: '0x1000' }] })).jsonPath).toBe('guest.memory[0].gpa');
    expect(inputError(doc({ memory: [{ ...r, gpa: '0x0', pa: '0x401000' }] })).jsonPath).toBe('guest.memory[0].pa');
    expect(inputError(doc({ memory: [{ ...r, gpa: '0x0', size: '3M' }] })).jsonPath).toBe('guest.memory[0].size');
  });

  it('guest code outside every region names guest.code[i].gpa', () => {
    const e = inputError({
      format: 1, name: 'code',
      guest: { memory: [{ gpa: '0x0', size: '2M', pa: '0x400000' }], code: [{ gpa: '0x1ffffe', hex: 'f4 f4 f4' }], cpu: { rip: '0x0' } },
    });
    expect(e.jsonPath).toBe('guest.code[0].gpa');
    expect(e.problem).toContain('[0x1ffffe, 0x200001)');
  });

  it('nested[].flags: an integer or a list of names, which give the same bits', () => {
    const withFlags = (flags: unknown) => ({
      format: 1, name: 'n', guest: { memory: [{ gpa: '0x0', size: '2M', pa: '0x400000' }], steps: [{ read: '0x3000' }] },
      nested: [{ gpa: '0x3000', pa: '0x403000', size: '4K', flags }],
    });
    // P(bit 0) | RW(bit 1) | US(bit 2) | NX(bit 63) = 0x8000000000000007.
    expect(parseGuestScenario(withFlags(['P', 'RW', 'US', 'NX'])).nested[0]!.flags).toBe(0x8000000000000007n);
    expect(parseGuestScenario(withFlags('0x8000000000000007')).nested[0]!.flags).toBe(0x8000000000000007n);
    expect(parseGuestScenario(withFlags(5)).nested[0]!.flags).toBe(5n);
    expect(inputError(withFlags(['Q'])).jsonPath).toBe('nested[0].flags[0]');
    const e = inputError(withFlags('2M'));
    expect(e.jsonPath).toBe('nested[0].flags');
    expect(e.problem).toContain('or a list of names');
  });

  it('what only building finds out is an InputError too: guest tables needing more than 16 pages', () => {
    // Five maps under five different PML4 entries (va i * 2^39): 1 PML4 + 5 x (PDPT + PD + PT) = 16
    // pages is the limit, so six need 19 and the 17th allocation fails.
    const maps = [0, 1, 2, 3, 4, 5].map((i) => ({ va: `0x${(i * 2 ** 39).toString(16)}`, gpa: '0x3000' }));
    const s = parseGuestScenario(doc({ memory: [{ gpa: '0x0', size: '2M', pa: '0x400000' }], paging: { maps } }), 'f.json');
    let err: unknown;
    try {
      runGuestScenario(s);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).jsonPath).toBe('guest.paging');
    expect((err as InputError).problem).toContain('16 pages');
  });
});
