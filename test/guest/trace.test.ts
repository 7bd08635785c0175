// The guest runner's observer (src/guest/run-trace.ts) and the guest memory's walk observer
// (src/guest/walk-trace.ts): what `--trace` shows for guest scenarios. Every expected value is
// read off the scenario file by hand (the numbers are worked out in the comments), not taken from
// a run.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseGuestScenario } from '../../src/guest/scenario.ts';
import { runGuestScenario } from '../../src/guest/scenario-run.ts';
import type { GuestRunObserver } from '../../src/guest/run-trace.ts';
import type { GuestRmpCheckTrace, GuestTlbTrace, GuestWalkTrace, GuestAdWriteTrace } from '../../src/guest/walk-trace.ts';
import { peekGuestBytes } from '../../src/guest/peek.ts';
import { guest, identity } from './fixture.ts';

const DIR = fileURLToPath(new URL('../../scenarios/guest/', import.meta.url));
const load = (f: string) => parseGuestScenario(readFileSync(join(DIR, f), 'utf8'), f);

/** An observer that records everything, in order, as [kind, record]. */
function recorder(): { obs: GuestRunObserver; log: [string, unknown][] } {
  const log: [string, unknown][] = [];
  const obs: GuestRunObserver = {
    memory: {
      walk: (t) => log.push(['walk', t]),
      nested: (t) => log.push(['nested', t]),
      tlb: (t) => log.push(['tlb', t]),
      adWrite: (t) => log.push(['ad', t]),
      rmpCheck: (t) => log.push(['rmp', t]),
    },
    step: (t) => log.push(['step', t]),
    exit: (t) => log.push(['exit', t]),
    exception: (t) => log.push(['exception', t]),
    decision: (t) => log.push(['decision', t]),
    event: (text) => log.push(['event', text]),
  };
  return { obs, log };
}
const of = <T>(log: [string, unknown][], kind: string): T[] => log.filter(([k]) => k === kind).map(([, v]) => v as T);

describe('guest trace: the 2D walk (case 34)', () => {
  // case34: region GPA 0..2M at SPA 0x400000 (private) / 0x800000 (shared); guest tables at the last
  // 16 pages of the region, GPA 0x1f0000 (docs/guest.md `paging.tablesAt` default); va 0x5000 →
  // GPA 0x5000 with C=0, flags RW → guest PTE = 0x5000 | RW(2) | P(1) = 0x5003.
  const { obs, log } = recorder();
  const r = runGuestScenario(load('case34-shared-write-to-private.json'), { observer: obs });
  const walks = of<GuestWalkTrace>(log, 'walk');

  it('tracing does not change the run', () => {
    const plain = runGuestScenario(load('case34-shared-write-to-private.json'));
    expect(JSON.stringify(r)).toBe(JSON.stringify(plain));
    expect(r.expect.passed).toBe(true);
  });

  it('reports one walk per guest TLB miss: three (RMP NPF, not-present NPF, then success)', () => {
    expect(walks.length).toBe(3);
    expect(r.stats.walks).toBe(3);
  });

  it('the first walk: four guest levels, each with its nested sub-walk, then the final GPA', () => {
    const w = walks[0]!;
    expect(w).toMatchObject({ gva: 0x5000, access: 'write', cpl: 0, asid: 1, vmpl: 0, cr3: 0x1f0000 });
    expect(w.levels.map((l) => l.name)).toEqual(['PML4E', 'PDPTE', 'PDE', 'PTE']);
    // PML4E of va 0x5000 is entry 0 of the table at GPA 0x1f0000, backed at SPA 0x400000 + 0x1f0000.
    expect(w.levels[0]).toMatchObject({ entryGpa: 0x1f0000, entrySpa: 0x5f0000 });
    // PTE: entry (0x5000 >> 12) & 511 = 5 of the 4th table page, GPA 0x1f3000 + 5 * 8 = 0x1f3028.
    expect(w.levels[3]).toMatchObject({ entryGpa: 0x1f3028, entrySpa: 0x5f3028, value: 0x5003n, leaf: true });
    expect(w.nested.map((n) => `${n.kind}:${n.role}`)).toEqual(['PAGE:PML4E', 'PAGE:PDPTE', 'PAGE:PDE', 'PAGE:PTE', 'FINAL:final']);
    const fin = w.nested[4]!;
    expect(fin).toMatchObject({ gpa: 0x5000, spa: 0x405000, size: 0x1000, fault: null });
    expect(fin.levels.map((l) => l.name)).toEqual(['nPML4E', 'nPDPTE', 'nPDE', 'nPTE']);
    // 4 guest levels × (4 nested + 1) + 4 nested for the final GPA (src/guest/walk.ts header).
    expect(w.memRefs).toBe(24);
    // Hypervisor-Owned fails on a C=0 write: RMP(1<<31) | FINAL(1<<32) | P | W | U = 0x180000007.
    expect(w.fault).toMatchObject({ kind: 'npf', code: 0x180000007n, address: 0x5000n });
    expect(w.gpa).toBeNull();
  });

  it('the second walk ends at the not-present nested PTE the conversion zapped (FINAL|W|U = 0x100000006)', () => {
    const w = walks[1]!;
    expect(w.fault).toMatchObject({ kind: 'npf', code: 0x100000006n, address: 0x5000n });
    expect(w.nested[4]!.spa).toBeNull();
    expect(w.nested[4]!.fault).toMatch(/not present/);
  });

  it('the third walk lands on the shared frame 0x805000 with C=0', () => {
    expect(walks[2]).toMatchObject({ gpa: 0x5000, spa: 0x805000, cBit: false, guestPageSize: 0x1000, nestedPageSize: 0x1000, fault: null });
  });

  it('reports TLB misses with the ASID', () => {
    const tlb = of<GuestTlbTrace>(log, 'tlb');
    expect(tlb.length).toBe(3);
    for (const t of tlb) expect(t).toEqual({ asid: 1, gva: 0x5000, access: 'write', user: false, hit: false });
  });

  it('reports A/D writes: guest A on every level and D on the PTE, only after the walk passed', () => {
    const ads = of<GuestAdWriteTrace>(log, 'ad').filter((a) => a.stage === 'guest');
    expect(ads.map((a) => a.name)).toEqual(['PML4E', 'PDPTE', 'PDE', 'PTE']);
    // PTE 0x5003 gets A (0x20) and D (0x40): 0x5063.
    expect(ads[3]).toMatchObject({ entryAddress: 0x5f3028, before: 0x5003n, after: 0x5063n });
    // They come after the last walk's RMP checks: the index of the first guest A/D record is past
    // the second exit.
    const firstGuestAd = log.findIndex(([k, v]) => k === 'ad' && (v as GuestAdWriteTrace).stage === 'guest');
    const exits = log.map(([k], i) => (k === 'exit' ? i : -1)).filter((i) => i >= 0);
    expect(firstGuestAd).toBeGreaterThan(exits[1]!);
  });

  it('reports each RMP check: page-table accesses C=1 needing RW, the final C=0 write Hypervisor-Owned', () => {
    const checks = of<GuestRmpCheckTrace>(log, 'rmp');
    // walk 1: 4 page + 1 final; walk 2: 4 page (the final nested walk faults first); walk 3: 4 + 1.
    expect(checks.length).toBe(14);
    expect(r.stats.rmpChecks).toBe(14);
    expect(checks[0]).toMatchObject({ access: 'page', role: 'PML4E', chain: 'C=1', need: 'RW', cBit: true, failed: null, result: 'pass' });
    expect(checks[4]).toMatchObject({
      access: 'write', role: 'final', gpa: 0x5000, spa: 0x405000, cBit: false, chain: 'Hypervisor-Owned',
      failed: 'Hypervisor-Owned', entryPfn: 0x405, result: 'NPF',
    });
    expect(checks[4]!.entry).toMatch(/Assigned=1.*ASID=1, GPA=0x5000, Validated=1/);
    expect(checks[13]).toMatchObject({ access: 'write', spa: 0x805000, chain: 'Hypervisor-Owned', failed: null });
  });

  it('reports the exits with EXITINFO1 decoded, and the hypervisor decisions in order', () => {
    const exits = of<{ exitInfo1: bigint; exitInfo2: bigint; bits: string; step: number | null; rip: bigint | null }>(log, 'exit');
    expect(exits.map((e) => [e.exitInfo1, e.exitInfo2, e.bits])).toEqual([
      [0x180000007n, 0x5000n, 'RMP|FINAL|P|W|U'],
      [0x100000006n, 0x5000n, 'FINAL|W|U'],
    ]);
    expect(exits[0]).toMatchObject({ step: 0, rip: null });
    const decisions = of<{ action: string; gpa: number | null }>(log, 'decision');
    expect(decisions.map((d) => d.action)).toEqual(['npf_interception', 'memory-fault', 'convert-shared', 'npf_interception', 'map']);
    expect(decisions.every((d) => d.gpa === 0x5000)).toBe(true);
  });

  it('reports the step once it completed', () => {
    expect(of(log, 'step')).toMatchObject([{ index: 0, text: 'write 1 byte(s) 0x42 at 0x5000', result: null }]);
  });
});

describe('guest trace: #VC, PVALIDATE, PSMASH, events', () => {
  it('case 32: the Validated check fails → #VC 0x404 with CR2 = the guest VA, no exit', () => {
    const { obs, log } = recorder();
    runGuestScenario(load('case32-not-validated-vc.json'), { observer: obs });
    const fail = of<GuestRmpCheckTrace>(log, 'rmp').find((c) => c.failed !== null)!;
    // va 0x7fff0010 → GPA 0x3010 in the region at SPA 0x400000 → SPA 0x403010, pfn 0x403.
    expect(fail).toMatchObject({ access: 'read', gpa: 0x3010, spa: 0x403010, cBit: true, chain: 'C=1', need: 'R', failed: 'Validated', result: '#VC 0x404', entryPfn: 0x403 });
    expect(of(log, 'exit')).toEqual([]);
    expect(of(log, 'exception')).toMatchObject([{ vector: 29, errorCode: 0x404, address: 0x7fff0010n, step: 0 }]);
    expect(of<GuestWalkTrace>(log, 'walk')[0]!.fault).toMatchObject({ kind: 'vc', code: 0x404n, address: 0x7fff0010n });
  });

  it('case 38: PVALIDATE 4K on a 2M RMP page → ownership chain FAIL Page-Size → SIZEM NPF; KVM PSMASHes and zaps', () => {
    const { obs, log } = recorder();
    runGuestScenario(load('case38-pvalidate-4k-on-2m.json'), { observer: obs });
    const checks = of<GuestRmpCheckTrace>(log, 'rmp');
    // The 2M page's entry is the 2M-aligned one: SPA 0x400000, pfn 0x400.
    expect(checks[0]).toMatchObject({ access: 'PVALIDATE', gpa: 0x5000, spa: 0x405000, checkedAs: 0x1000, chain: 'ownership', failed: 'Page-Size', result: 'NPF with SIZEM', entryPfn: 0x400 });
    expect(checks[checks.length - 1]).toMatchObject({ access: 'PVALIDATE', failed: null, result: 'pass', entryPfn: 0x405 });
    // EXITINFO1 = RMP|SIZEM|FINAL|ENC|P|U = 0x80000000 + 0x800000000 + 0x100000000 + 0x400000000 + 5.
    expect(of<{ exitInfo1: bigint }>(log, 'exit')[0]!.exitInfo1).toBe(0xd80000005n);
    const actions = of<{ action: string }>(log, 'decision').map((d) => d.action);
    expect(actions.slice(0, 4)).toEqual(['npf_interception', 'spurious', 'psmash', 'zap']);
    expect(of<{ action: string; why: string }>(log, 'decision')[0]!.why).toMatch(/private \(ENC=1\).*sev_handle_rmp_fault/);
  });

  it('case 39: PVALIDATE 2M on 4K entries → FAIL_SIZEMISMATCH, no exit', () => {
    const { obs, log } = recorder();
    runGuestScenario(load('case39-pvalidate-2m-on-4k.json'), { observer: obs });
    expect(of<GuestRmpCheckTrace>(log, 'rmp')[0]).toMatchObject({ access: 'PVALIDATE', gpa: 0, checkedAs: 0x200000, failed: 'Page-Size', result: 'FAIL_SIZEMISMATCH (6)' });
    expect(of(log, 'exit')).toEqual([]);
    expect(of(log, 'step')).toMatchObject([{ index: 0, result: { eax: 6, cf: false } }, { index: 1, result: { eax: 0, cf: false } }]);
  });

  it('an event is announced before its decisions', () => {
    const { obs, log } = recorder();
    runGuestScenario(load('extra-convert-to-shared-event.json'), { observer: obs });
    const i = log.findIndex(([k]) => k === 'event');
    expect(log[i]![1]).toBe('before step 0: the VMM converts GPA 0x0 (+0x1000) to shared');
    // The conversion PSMASHes the 2M entry, then makes the frame shared (the scenario's notes).
    expect(log.slice(i + 1, i + 3).map(([, v]) => (v as { action: string }).action)).toEqual(['psmash', 'convert-shared']);
  });

  it('a TLB hit is reported with the ASID, and makes no walk', () => {
    // Paging off (gva = gpa), ASID 7: the first read misses and walks (4 nested references), the
    // second hits.
    const text = JSON.stringify({
      format: 1, name: 'tlb hit', guest: { asid: 7, memory: [{ gpa: '0x0', size: '2M', pa: '0x400000' }], steps: [{ read: '0x1000', size: 4 }, { read: '0x1008', size: 4 }] },
      expect: { outcome: 'done' },
    });
    const { obs, log } = recorder();
    runGuestScenario(parseGuestScenario(text), { observer: obs });
    expect(of<GuestTlbTrace>(log, 'tlb').map((t) => [t.asid, t.gva, t.hit])).toEqual([[7, 0x1000, false], [7, 0x1008, true]]);
    const walks = of<GuestWalkTrace>(log, 'walk');
    expect(walks.length).toBe(1);
    expect(walks[0]).toMatchObject({ cr3: null, levels: [], gpa: 0x1000, spa: 0x401000, memRefs: 4 });
  });
});

describe('guest trace: off costs nothing and is removed after the run', () => {
  it('without an observer the walk has none; with one, the run removes it at the end', () => {
    const g = guest({ paging: { maps: identity(0x2000), tablesGpa: 0x1f0000 } });
    expect(g.mem.walk.observer).toBeNull();
    const { obs } = recorder();
    g.mem.observe(obs.memory!);
    expect(g.mem.walk.observer).toBe(obs.memory);
    g.mem.observe(null);
    expect(g.mem.walk.observer).toBeNull();
  });
});

describe('peekGuestBytes (instruction bytes for --trace insn)', () => {
  it('reads through the guest tables and the nested table without A/D writes, TLB fills or counts', () => {
    const g = guest({ paging: { maps: identity(0x2000), tablesGpa: 0x1f0000 } });
    g.phys.writeBytes(0x401ffe, new Uint8Array([0x90, 0xf4, 0xcc]));
    const pteSpa = 0x400000 + 0x1f3000 + 1 * 8; // PTE of va 0x1000: table page 4, entry 1
    const before = g.phys.readU64(pteSpa);
    const stats = { ...g.mem.walk.stats };
    // 3 bytes from va 0x1ffe cross into va 0x2000, which identity(0x2000) does not map (it maps
    // 0x0 and 0x1000): the 2 bytes up to the page end come back.
    const bytes = peekGuestBytes(g.phys, g.hv.npt, g.vmsa, 0x1ffe, 3);
    expect(bytes).toEqual(new Uint8Array([0x90, 0xf4]));
    expect(g.phys.readU64(pteSpa)).toBe(before);
    expect(g.mem.walk.stats).toEqual(stats);
    expect(g.mem.tlb.hits + g.mem.tlb.misses).toBe(0);
    expect(peekGuestBytes(g.phys, g.hv.npt, g.vmsa, 0x5000, 1)).toMatch(/^not mapped: the guest PTE is not present/);
  });
});
