// Input errors that only show while a scenario's machine is built or run (spec/scenario.md: an
// rmp page that is not mapped, an RMPUPDATE the hardware would reject); each names the file and
// the JSON path. And the result shape of spec/scenario.md's "Result" section.

import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/scenario/errors.ts';
import { scenarioFromJson } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/scenario/run.ts';

const CODE = 'c7 07 44 33 22 11 b8 3c 00 00 00 31 ff 0f 05'; // mov dword [rdi], 0x11223344; exit(0)

function base(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    format: 1,
    name: 'run errors',
    kernel: 'v7',
    process: {
      regions: [
        { name: 'code', at: '0x400000', size: '4K', prot: 'r-x', hex: CODE },
        { name: 'buf', at: '0x600000', size: '4K', prot: 'rw-' },
      ],
      entry: 'code',
      regs: { rdi: 'buf' },
    },
    ...extra,
  };
}

function runError(json: Record<string, unknown>): InputError {
  try {
    runScenario(scenarioFromJson(json, 'run.json'));
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an input error, but the scenario ran');
}

describe('input errors found while building or running', () => {
  it('an rmp page that is not mapped', () => {
    const e = runError(base({ rmp: [{ page: 'buf+0x1000', state: 'hypervisor' }] }));
    expect(e.jsonPath).toBe('rmp[0].page');
    expect(e.problem).toMatch(/buf\+0x1000 is not mapped/);
  });
  it('a 2M rmp entry on a 4K-aligned page', () => {
    const e = runError(base({ rmp: [{ page: 'buf', state: 'guest-valid', asid: 1, gpa: 0, size: '2M' }] }));
    expect(e.jsonPath).toBe('rmp[0].page');
    expect(e.problem).toMatch(/2M-aligned/);
  });
  it('an rmpupdate event that RMPUPDATE rejects (FAIL_PERMISSION on an Immutable entry)', () => {
    const e = runError(base({
      rmp: [{ page: 'buf', state: 'firmware' }],
      events: [{ when: { instructions: 0 }, do: { rmpupdate: { page: 'buf', state: 'hypervisor' } } }],
    }));
    expect(e.jsonPath).toBe('events[0].do.rmpupdate');
    expect(e.problem).toMatch(/fails with 2 FAIL_PERMISSION/);
  });
  it('a psmash event on a page that is not a 2M guest page', () => {
    const e = runError(base({ events: [{ when: { instructions: 0 }, do: { psmash: '0x200000' } }] }));
    expect(e.jsonPath).toBe('events[0].do.psmash');
    expect(e.problem).toMatch(/PSMASH of 0x200000 fails with 7/);
  });
  it('a feature snpemu does not model', () => {
    const e = runError(base({ machine: { features: { la57: true } } }));
    expect(e.jsonPath).toBe('machine.features');
    expect(e.problem).toMatch(/la57 is not modelled/);
  });
  it('an RMP placed beyond RAM', () => {
    const e = runError(base({ machine: { rmp: { base: '0x8000000', end: '0x80fffff' } } }));
    expect(e.jsonPath).toBe('machine.rmp');
    expect(e.problem).toMatch(/must lie in RAM/);
  });
});

describe('result shape (spec/scenario.md, "Result")', () => {
  it('has the spec keys, hex strings for 64-bit values, numbers for vector and error code', () => {
    const { result } = runScenario(scenarioFromJson(base({
      rmp: [{ page: 'buf', state: 'guest-valid', asid: 1, gpa: '0x6000' }],
      expect: { outcome: 'signal', signal: 'SIGBUS' },
    }), 'shape.json'));
    expect(Object.keys(result)).toEqual(expect.arrayContaining(['name', 'outcome', 'faults', 'kernel', 'regs', 'stdout', 'stats', 'expect']));
    expect(result.outcome).toMatchObject({ kind: 'signal', signal: 'SIGBUS', siCode: 'BUS_ADRERR', siAddr: '0x600000' });
    expect(typeof result.outcome.message).toBe('string');
    // #PF RMP|U|W|P = 0x80000007 = 2147483655 (spec/rmp.md §3.4), CR2 = buf, RIP at the store.
    expect(result.faults).toEqual([
      { vector: 14, errorCode: 2147483655, address: '0x600000', rip: '0x400000', rmp: true, why: expect.stringMatching(/Hypervisor-Owned/) },
    ]);
    // `fault` (an addition, docs/scenarios.md "Results"): the decision handled fault 1, the only one.
    expect(result.kernel).toEqual([{ action: 'sigbus', address: '0x600000', why: expect.stringMatching(/assigned/), fault: 1 }]);
    // No `events` key when the scenario has no events.
    expect('events' in result).toBe(false);
    expect(result.regs.rip).toBe('0x400000');
    expect(result.regs.rdi).toBe('0x600000');
    expect(Object.keys(result.stats)).toEqual(['instructions', 'walks', 'tlbHits', 'tlbMisses', 'rmpChecks']);
    expect(result.expect).toEqual({ passed: true, mismatches: [] });
  });
});
