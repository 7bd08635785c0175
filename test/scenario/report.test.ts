// The readable report (src/scenario/report.ts) and the result additions it reads: events in run
// order among the faults and decisions, repeats collapsed to one line, a why for runs with no fault,
// one level of parentheses. Synthetic results check the ordering and collapsing rules; the demo's and
// the project's scenario files check them on real runs.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadScenarioFile, scenarioFromJson } from '../../src/scenario/load.ts';
import { collapseRepeats, flattenNestedParens, formatReport, timeline } from '../../src/scenario/report.ts';
import type { ScenarioResult } from '../../src/scenario/result.ts';
import type { EventRecord } from '../../src/scenario/record.ts';
import { runScenario } from '../../src/scenario/run.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const run = (path: string): ScenarioResult => runScenario(loadScenarioFile(join(repo, path))).result;

const fault = (address: string, why = 'w'): ScenarioResult['faults'][number] =>
  ({ vector: 14, errorCode: 0x80000007, address, rip: '0x400000', rmp: true, why });
const decision = (action: string, faultNo: number): ScenarioResult['kernel'][number] =>
  ({ action, address: '0x600000', why: `${action} why`, fault: faultNo });
const event = (action: string, afterFaults: number, afterDecisions: number): EventRecord =>
  ({ index: 0, when: { kernel: 'before-handler' }, action, why: `${action} done`, afterFaults, afterDecisions });

function synthetic(faults: ScenarioResult['faults'], kernel: ScenarioResult['kernel'], events?: EventRecord[]): ScenarioResult {
  return {
    name: 'synthetic', file: 'synthetic.json', policy: 'v7',
    outcome: { kind: 'livelock', message: 'm' }, faults, kernel, ...(events ? { events } : {}),
    regs: {}, stdout: '', stderr: '',
    stats: { instructions: 0, walks: 0, tlbHits: 0, tlbMisses: 0, rmpChecks: 0 }, setup: {},
    expect: { passed: true, mismatches: [] },
  };
}

/** The timeline as short tags: F1 (fault 1), D1 (decision 1), E:name (event). */
const tags = (r: ScenarioResult): string[] =>
  timeline(r).map((it) => (it.kind === 'fault' ? `F${it.n}` : it.kind === 'decision' ? `D${it.n}` : `E:${it.e.action}`));

describe('timeline: faults, decisions and events in run order', () => {
  it('puts an event fired between a fault and its handler after the fault, before the decision', () => {
    const r = synthetic([fault('0x1'), fault('0x2')], [decision('unmap', 1), decision('sigsegv', 2)], [event('munmap buf', 1, 0)]);
    expect(tags(r)).toEqual(['F1', 'E:munmap buf', 'D1', 'F2', 'D2']);
  });
  it('puts an event fired after a decision (an instruction count) before the next fault', () => {
    const r = synthetic([fault('0x1'), fault('0x2')], [decision('split', 1), decision('sigbus', 2)], [event('rmpupdate', 1, 1)]);
    expect(tags(r)).toEqual(['F1', 'D1', 'E:rmpupdate', 'F2', 'D2']);
  });
  it('puts an event fired before any fault first, and keeps events of one moment in firing order', () => {
    const r = synthetic([fault('0x1')], [decision('oops', 1)], [event('a', 0, 0), event('b', 0, 0)]);
    expect(tags(r)).toEqual(['E:a', 'E:b', 'F1', 'D1']);
  });
  it('keeps a decision with the fault it handled, even when a fault has no decision (a budget end)', () => {
    // Fault 2 ends the run before any handler: its fault has no decision; fault 3 has one.
    const r = synthetic([fault('0x1'), fault('0x2'), fault('0x3')], [decision('demand', 1), decision('sigsegv', 3)]);
    expect(tags(r)).toEqual(['F1', 'D1', 'F2', 'F3', 'D2']);
  });
});

describe('collapseRepeats', () => {
  it('collapses the livelock pattern (8 faults, 7 decisions) to one fault and one decision', () => {
    const faults = Array.from({ length: 8 }, () => fault('0x40080010'));
    const kernel = Array.from({ length: 7 }, (_, i) => decision('spurious', i + 1));
    const shown = collapseRepeats(timeline(synthetic(faults, kernel)));
    expect(shown.map((s) => [s.item.kind, s.count, s.last])).toEqual([['fault', 8, 8], ['decision', 7, 7]]);
  });
  it('does not collapse faults that differ, or across an event', () => {
    const r = synthetic([fault('0x1'), fault('0x1'), fault('0x1', 'other')], [], [event('e', 1, 0)]);
    // F1, E, F2, F3: F2 and F3 differ in why, and the event separates F1 from F2.
    expect(collapseRepeats(timeline(r)).map((s) => s.count)).toEqual([1, 1, 1, 1]);
  });
  it('collapses a run of identical faults with no decisions between them', () => {
    const shown = collapseRepeats(timeline(synthetic([fault('0x1'), fault('0x1'), fault('0x1')], [])));
    expect(shown.map((s) => [s.count, s.last])).toEqual([[3, 3]]);
  });
});

describe('flattenNestedParens', () => {
  it('turns an entry description inside parentheses into one level', () => {
    expect(flattenNestedParens('pfn 0x3c80 is unassigned (hypervisor (Assigned=0, Page_Size=4K)) but'))
      .toBe('pfn 0x3c80 is unassigned (hypervisor: Assigned=0, Page_Size=4K) but');
    expect(flattenNestedParens('a (b) c (d)')).toBe('a (b) c (d)');
  });
});

describe('the readable report on real runs', () => {
  it('collapses a livelock to one fault line ×8 and one decision line ×7; the JSON keeps all', () => {
    const r = run('scenarios/01-thp-shared-page-mainline.json');
    // spec/scenario.md `expect`: a livelock is the same fault raised 8 times in a row; the 8th is not handled.
    expect(r.faults.length).toBe(8);
    expect(r.kernel.length).toBe(7);
    const text = formatReport(r);
    const faultLines = text.split('\n').filter((l) => /^ {2}fault /.test(l));
    const kernelLines = text.split('\n').filter((l) => /^ {2}kernel \d/.test(l));
    expect(faultLines).toEqual(['  fault 1-8: #PF error 0x80000007 (P|W|U|RMP) CR2=0x40080010 RIP=0x400000 ×8 (identical)']);
    expect(kernelLines).toEqual(['  kernel 1-7: spurious at 0x40080010 ×7 (identical)']);
    expect(text.split('\n').length).toBeLessThan(10);
  });
  it('says where a race event fired, between the fault and the decision, and records it in the JSON', () => {
    const r = run('scenarios/04-race-munmap-v7.json');
    expect(r.events).toEqual([{
      index: 0, when: { kernel: 'before-handler' }, action: 'munmap buf',
      why: 'munmap(buf): the VMA and its mappings are gone', afterFaults: 1, afterDecisions: 0,
    }]);
    expect(r.kernel.map((k) => [k.action, k.fault])).toEqual([['unmap', 1], ['sigsegv', 2]]);
    const heads = formatReport(r).split('\n').filter((l) => /^ {2}(fault|kernel \d|event)/.test(l));
    expect(heads).toEqual([
      '  fault 1: #PF error 0x80000007 (P|W|U|RMP) CR2=0x600000 RIP=0x400000',
      '  event: munmap buf (before the handler)',
      '  kernel 1: unmap at 0x600000',
      '  fault 2: #PF error 0x6 (not-present|W|U) CR2=0x600000 RIP=0x400000',
      '  kernel 2: sigsegv at 0x600000',
    ]);
  });
  it('places an event at fault N after that fault and before its decision', () => {
    const r = run('test/scenario/cases/hugetlb-1g-guest-page-released-at-fault-2-v7.json');
    const heads = formatReport(r).split('\n').filter((l) => /^ {2}(fault|kernel \d|event)/.test(l)).map((l) => l.split(':')[0]!.trim());
    expect(heads).toEqual(['fault 1', 'kernel 1', 'fault 2', 'event', 'kernel 2']);
    expect(r.events?.[0]).toMatchObject({ when: { fault: 2 }, afterFaults: 2, afterDecisions: 1 });
  });
  it('places an event before the fault it causes (a kernel PTE write that oopses)', () => {
    const r = run('test/scenario/cases/kernel-pte-write-to-guest-owned-pt-page-oops-v7.json');
    expect(r.events?.[0]).toMatchObject({ when: { instructions: 1 }, action: 'unmap buf', afterFaults: 0, afterDecisions: 0 });
    const heads = formatReport(r).split('\n').filter((l) => /^ {2}(fault|kernel \d|event)/.test(l)).map((l) => l.split(':')[0]!.trim());
    expect(heads).toEqual(['event', 'fault 1', 'kernel 1']);
  });
  it('gives a run with no fault a why on its outcome line', () => {
    const r = run('scenarios/05-hv-fixed-hardware-v7.json');
    expect(r.faults).toEqual([]);
    expect(r.stats.walks).toBeGreaterThan(0);
    expect(r.stats.rmpChecks).toBeGreaterThan(0);
    const outcome = formatReport(r).split('\n')[2]!;
    expect(outcome).toBe(`  kernel v7: exit 0 — exit(0); no fault: every page walk and RMP check passed (${r.stats.walks} walks, ${r.stats.rmpChecks} RMP checks)`);
  });
  it('shows no nested parentheses in the decision sentences', () => {
    const text = formatReport(run('scenarios/01-thp-shared-page-v7.json'));
    expect(text).toMatch(/pfn 0x3c80 is unassigned, hypervisor \(Assigned=0, /);
    expect(text).not.toMatch(/\(hypervisor \(/);
  });
  it('records events under kernel none, where there are no decisions', () => {
    // none-rmpupdate-to-hypervisor-then-write.json with its code cut to the store and HLT
    // (c7 03 01 00 00 00 = mov dword [rbx], 1; f4 = hlt) and the RMPUPDATE done by an event instead:
    // the guest-valid page at 0x12000 becomes hypervisor-owned before the first instruction, so the
    // CPL0 write passes the RMP check (spec/rmp.md §3.2) and the run halts with no fault.
    const json = JSON.parse(readFileSync(join(repo, 'test/scenario/cases/none-rmpupdate-to-hypervisor-then-write.json'), 'utf8'));
    json.physical[0].hex = 'c7 03 01 00 00 00 f4';
    json.events = [{ when: { instructions: 0 }, do: { rmpupdate: { pa: '0x12000', state: 'hypervisor' } } }];
    json.expect = { outcome: 'halt', faults: [], memory: [{ at: '0x12000', hex: '01 00 00 00' }] };
    const r = runScenario(scenarioFromJson(json, 'none-event.json')).result;
    expect(r.expect.mismatches).toEqual([]);
    expect(r.events).toEqual([{
      index: 0, when: { instructions: 0 }, action: 'rmpupdate pa 0x12000 to hypervisor',
      why: expect.stringMatching(/pfn 0x12 hypervisor/), afterFaults: 0, afterDecisions: 0,
    }]);
    expect(formatReport(r)).toMatch(/^ {2}event: rmpupdate pa 0x12000 to hypervisor \(after 0 instructions\)$/m);
  });
});
