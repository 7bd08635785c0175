// `snpemu demo` (npm start) as a new user meets it: one compact table (a line per story and kernel,
// with the outcome and a short why), a short intro, the files to edit and the next commands; the full
// sentences only under --verbose. The table is checked against the JSON results of the same runs.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { genericWhy, STORIES } from '../../src/cli/demo-stories.ts';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/scenario/run.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(repo, 'bin', 'snpemu.js');

function snpemu(args: string[]): { status: number | null; stdout: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, ms: performance.now() - t0 };
}

/** The table's rows: story number → policy → { outcome, why }. */
function tableRows(stdout: string): Map<number, Map<string, { outcome: string; why: string }>> {
  const rows = new Map<number, Map<string, { outcome: string; why: string }>>();
  let story = 0;
  for (const line of stdout.split('\n')) {
    const head = /^(\d+)\. /.exec(line);
    if (head) {
      story = Number(head[1]);
      rows.set(story, new Map());
      continue;
    }
    const row = /^ {3}(v7|mainline) +(exit \d+|SIG[A-Z]+|livelock|oops|limit) +(.*)$/.exec(line);
    if (row && story > 0) rows.get(story)!.set(row[1]!, { outcome: row[2]!, why: row[3]! });
  }
  return rows;
}

const plain = snpemu(['demo']);
const rows = tableRows(plain.stdout);
const why = (story: number, policy: string): string => rows.get(story)?.get(policy)?.why ?? '';

describe('snpemu demo: the default table', () => {
  it('exits 0 within seconds, every outcome as expected', () => {
    expect(plain.status).toBe(0);
    expect(plain.ms).toBeLessThan(15_000);
    expect(plain.stdout).toMatch(/^12 of 12 outcomes as expected, in \d+\.\d\d s\.$/m);
  });

  it('is compact: under 50 lines and 450 words, with a 4-6 line intro before the table', () => {
    const lines = plain.stdout.trimEnd().split('\n');
    expect(lines.length).toBeLessThan(50);
    expect(plain.stdout.split(/\s+/).filter(Boolean).length).toBeLessThan(450);
    const tableHeader = lines.findIndex((l) => /^ {3}kernel +outcome +why$/.test(l));
    // Title, blank line, the intro, blank line, then the table header.
    const intro = lines.slice(2, tableHeader - 1);
    expect(intro.length).toBeGreaterThanOrEqual(4);
    expect(intro.length).toBeLessThanOrEqual(6);
    expect(intro.join(' ')).toMatch(/all 512 RMP entries of its 2M region/);
  });

  it('has one row per story and kernel, matching the JSON results of the same runs', () => {
    const json = snpemu(['demo', '--json']);
    expect(json.status).toBe(0);
    const results = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(results.length).toBe(12);
    expect([...rows.keys()]).toEqual([1, 2, 3, 4, 5, 6]);
    for (const r of rows.values()) expect([...r.keys()]).toEqual(['v7', 'mainline']);
    // Stories in file order (01 … 05-quirk), each file's policy in its name.
    const files = results.map((r: { file: string }) => r.file.replace(/^.*scenarios\//, ''));
    const storyOf = (f: string): number => ['01', '02', '03', '04', '05-hv-fixed-hardware', '05-hv-fixed-quirk'].findIndex((p) => f.startsWith(p)) + 1;
    for (const r of results) {
      const f = r.file.replace(/^.*scenarios\//, '');
      const o = r.outcome;
      const cell = o.kind === 'exit' ? `exit ${o.exitCode}` : o.kind === 'signal' ? o.signal : o.kind;
      expect(rows.get(storyOf(f))?.get(r.policy)?.outcome, f).toBe(cell);
    }
    expect(files.length).toBe(12);
  });

  it('gives each row its short why (the points the QA report asked for)', () => {
    // Story 1 v7: the guest page is buf+0x7000 (the scenario's rmp list), so its pfn is buf's
    // physical frame + 7; buf's frame comes from the run's setup.regions.
    const seed = runScenario(loadScenarioFile(join(repo, 'scenarios', '01-thp-shared-page-v7.json'))).result;
    const bufPa = Number(seed.setup.regions!.find((x) => x.name === 'buf')!.pa);
    const guestPfn = `0x${((bufPa + 0x7000) / 4096).toString(16)}`;
    expect(why(1, 'v7')).toBe(`2M region holds guest pfn ${guestPfn} → split PMD, retry OK`);
    expect(why(1, 'mainline')).toMatch(/"spurious", re-executes/);
    expect(why(2, 'v7')).toBe(`target pfn ${guestPfn} is assigned to the guest → SIGBUS`);
    expect(why(3, 'v7')).toBe('SPLIT requested, ignored by the hugetlb/PUD path');
    expect(why(4, 'v7')).toMatch(/4K guest-valid page, munmapped in the race window → UNMAP/);
    expect(why(5, 'v7')).toMatch(/^no fault: HV-Fixed has Assigned=0, and the host write check reads only Assigned/);
    expect(plain.stdout).toMatch(/^5\. HV-Fixed page .*spec\/rmp\.md §3\.1 and §6\.3$/m);
    expect(why(6, 'v7')).toMatch(/only via the quirk \(the v7 commit's condition 3\); RETRY forever/);
    expect(plain.stdout).toMatch(/^6\. .*hostChecksImmutable quirk$/m);
  });

  it('explains livelock once, with the detector and its 8 faults, and shows no repeat counts like "x7"', () => {
    expect(plain.stdout.match(/repeats until the livelock detector stops it \(8 identical faults\)/g)?.length).toBe(1);
    expect(plain.stdout.match(/^livelock: /gm)?.length).toBe(1);
    expect(plain.stdout).not.toMatch(/\bx\d+\b|×\d/);
  });

  it('has no nested parentheses and no long sentences from the handler', () => {
    expect(plain.stdout).not.toMatch(/\([^()\n]*\(/);
    expect(plain.stdout).not.toMatch(/handle_user_rmp_page_fault|huge_pmd_set_accessed/);
    for (const line of plain.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(110);
  });

  it('lists the scenario files (each pattern names files that exist) and the next commands', () => {
    const listed = [...plain.stdout.matchAll(/^ {2}(scenarios\/[\w-]+)-\{(\w+),(\w+)\}\.json$/gm)];
    expect(listed.length).toBe(6);
    for (const m of listed) for (const policy of [m[2], m[3]]) expect(existsSync(join(repo, `${m[1]}-${policy}.json`)), `${m[1]}-${policy}`).toBe(true);
    expect(plain.stdout).toMatch(/^ {2}npx snpemu demo --verbose /m);
    expect(plain.stdout).toMatch(/^ {2}npx snpemu walk scenarios\/01-thp-shared-page-v7\.json buf\+0x80010/m);
  });
});

describe('snpemu demo --verbose', () => {
  const verbose = snpemu(['demo', '--verbose']);
  it('adds the full sentences under each row, with one level of parentheses', () => {
    expect(verbose.status).toBe(0);
    expect(verbose.stdout).toMatch(/^ {8}Kernel split: handle_user_rmp_page_fault: pfn 0x[0-9a-f]+ is unassigned, hypervisor \(Assigned=0,/m);
    expect(verbose.stdout).toMatch(/^ {8}Event before the handler: munmap\(buf\): the VMA and its mappings are gone\.$/m);
    expect(verbose.stdout).toMatch(/^ {8}Point: An HV-Fixed page has Assigned=0, and the host write check reads only Assigned$/m);
    expect(verbose.stdout.replace(/\n +/g, ' ')).not.toMatch(/\((hypervisor|guest-valid|hv-fixed) \(/);
    expect(verbose.stdout.split('\n').length).toBeGreaterThan(plain.stdout.split('\n').length + 50);
  });
});

describe('demo stories', () => {
  it('use a story\'s short why only when the run went as the story tells it', () => {
    const r = runScenario(loadScenarioFile(join(repo, 'scenarios', '01-thp-shared-page-v7.json'))).result;
    expect(STORIES['01-thp-shared-page']!.shortWhy(r)).toMatch(/split PMD, retry OK/);
    // An edited run (say the handler had retried instead): the story's text no longer applies.
    const edited = { ...r, kernel: r.kernel.map((k) => ({ ...k, action: 'retry' })) };
    expect(STORIES['01-thp-shared-page']!.shortWhy(edited)).toBeUndefined();
    expect(genericWhy(edited)).toBe('RMP #PF Hypervisor-Owned → retry');
  });
  it('build a why from the run for a run with no fault', () => {
    const r = runScenario(loadScenarioFile(join(repo, 'scenarios', '05-hv-fixed-hardware-mainline.json'))).result;
    expect(genericWhy(r)).toBe(`no fault: every page walk and RMP check passed (${r.stats.walks} walks, ${r.stats.rmpChecks} RMP checks)`);
  });
});
