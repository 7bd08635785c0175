// `snpemu demo` (npm start): the story of the v7 SNP host patch in a few scenarios, each under v7
// and mainline, as one compact table (a line per story and kernel, outcome, a short why), then the
// files to edit and the commands to try next. `--verbose` adds the full sentences of every row.

import { readdirSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, parseArgs } from './args.ts';
import { out } from './common.ts';
import { genericWhy, STORIES } from './demo-stories.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { flattenNestedParens, noFaultWhy } from '../scenario/report.ts';
import type { ScenarioResult } from '../scenario/result.ts';
import { runScenario } from '../scenario/run.ts';

export const DEMO_DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));

/** The demo's scenario files: the top-level *.json of scenarios/, in name order. */
export function demoFiles(): string[] {
  return readdirSync(DEMO_DIR).filter((f) => f.endsWith('.json')).sort().map((f) => `${DEMO_DIR}${f}`);
}

/** The number of identical faults that ends a run as a livelock (spec/scenario.md, `expect`). */
const LIVELOCK_FAULTS = 8;

function outcomeCell(r: ScenarioResult): string {
  const o = r.outcome;
  if (o.kind === 'exit') return `exit ${o.exitCode}`;
  if (o.kind === 'signal') return `${o.signal}`;
  return o.kind;
}

/** Word-wrap `text` to `width` columns, every line indented by `indent`. */
function wrap(text: string, indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(indent + line);
  return lines;
}

/** "v7: write to ...: split, then success" → "write to ..." (the story, without policy and outcome). */
function storyTitle(name: string): string {
  const body = name.replace(/^(v7|mainline|none): /, '');
  const cut = body.lastIndexOf(': ');
  return cut > 0 ? body.slice(0, cut) : body;
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s.padEnd(n));
const POLICY_ORDER = ['v7', 'mainline'];

interface Group { key: string; files: string[]; results: ScenarioResult[] }

/** The full sentences of one row, for --verbose: the fault, the decisions, the events, the end. */
function fullSentences(r: ScenarioResult): string[] {
  const sentences: string[] = [];
  const f = r.faults[0];
  if (f === undefined) sentences.push(`${noFaultWhy(r)}.`);
  else sentences.push(`Fault: ${f.why}.`);
  for (const e of r.events ?? []) sentences.push(`Event ${'kernel' in e.when ? 'before the handler' : 'fault' in e.when ? `at fault ${e.when.fault}` : `after ${e.when.instructions} instructions`}: ${e.why}.`);
  const seen = new Set<string>();
  for (const k of r.kernel) {
    if (seen.has(k.why)) continue;
    seen.add(k.why);
    sentences.push(`Kernel ${k.action}: ${k.why}.`);
  }
  if (r.outcome.kind === 'livelock') {
    sentences.push(`The same fault came back ${r.faults.length} times with nothing changed; the run is a livelock.`);
  } else {
    sentences.push(`End: ${outcomeCell(r)}.`);
  }
  return sentences.map((s) => flattenNestedParens(s).replace(/\.\.$/, '.'));
}

export async function commandDemo(argv: string[]): Promise<number> {
  const p = parseArgs(argv, { json: { value: false }, verbose: { value: false } }, 'demo');
  const json = flag(p, 'json');
  const verbose = flag(p, 'verbose');
  const files = demoFiles();
  const results: ScenarioResult[] = [];
  const started = performance.now();
  for (const file of files) results.push(runScenario(loadScenarioFile(file)).result);
  const ms = performance.now() - started;
  if (json) {
    for (const r of results) out(JSON.stringify(r));
    return results.every((r) => r.expect.passed) ? 0 : 1;
  }
  // One group per story: the file name without its policy; v7 first.
  const groups = new Map<string, Group>();
  results.forEach((r, i) => {
    const file = files[i]!;
    const key = basename(file).replace(/-(v7|mainline|none)\.json$/, '').replace(/\.json$/, '');
    const g = groups.get(key) ?? { key, files: [], results: [] };
    g.files.push(file);
    g.results.push(r);
    groups.set(key, g);
  });
  const rank = (r: ScenarioResult): number => (POLICY_ORDER.indexOf(r.policy) + 3) % 3;

  out('snpemu demo: a host write, a huge page, and one guest page in its 2M region.');
  out('');
  out('SEV-SNP checks every host write against the Reverse Map Table (RMP). Through a 2M mapping the');
  out('write needs all 512 RMP entries of its 2M region unassigned, so one guest page makes a write');
  out('anywhere in that region fault: an RMP #PF. Linux\'s v7 SNP host patch (2022) handles it by');
  out('splitting the huge page and retrying; mainline Linux has no RMP code for user faults.');
  out('Each story runs under both kernels:');
  out('');
  out(`   ${pad('kernel', 9)} ${pad('outcome', 9)} why`);
  let n = 0;
  for (const g of groups.values()) {
    const story = STORIES[g.key];
    out(`${++n}. ${story?.label ?? storyTitle(g.results[0]!.name)}`);
    const rows = g.results.map((r, i) => ({ r, file: g.files[i]! })).sort((a, b) => rank(a.r) - rank(b.r));
    for (const { r, file } of rows) {
      const why = story?.shortWhy(r) ?? genericWhy(r);
      const flagged = r.expect.passed ? '' : `  [NOT as expected: npx snpemu scenario ${relative(process.cwd(), file) || file}]`;
      out(`   ${pad(r.policy, 9)} ${pad(outcomeCell(r), 9)} ${why}${flagged}`);
      if (verbose) {
        for (const s of fullSentences(r)) for (const line of wrap(s, '        ')) out(line);
      }
    }
    if (verbose && story !== undefined) for (const line of wrap(`Point: ${story.point}`, '        ')) out(line);
  }
  out('');
  if (results.some((r) => r.outcome.kind === 'livelock')) {
    out('livelock: the same fault at the same instruction with nothing changed in between; the write');
    out(`repeats until the livelock detector stops it (${LIVELOCK_FAULTS} identical faults).`);
    out('');
  }
  const passed = results.filter((r) => r.expect.passed).length;
  out(`${passed} of ${results.length} outcomes as expected, in ${(ms / 1000).toFixed(2)} s.`);
  out('');
  out('Scenario files (edit one, then run it with `npx snpemu scenario FILE`):');
  for (const g of groups.values()) {
    const dir = relative(process.cwd(), DEMO_DIR) || '.';
    const policies = g.files.map((f) => basename(f).slice(g.key.length + 1).replace(/\.json$/, ''));
    const name = policies.length > 1 && policies.every((x) => x !== '') ? `${g.key}-{${policies.join(',')}}.json` : basename(g.files[0]!);
    out(`  ${dir}/${name}`);
  }
  out('');
  out('Next:');
  if (!verbose) out('  npx snpemu demo --verbose                              # every row in full sentences');
  out('  npx snpemu scenario scenarios/04-race-munmap-v7.json   # faults, events, decisions in order');
  out('  npx snpemu walk scenarios/01-thp-shared-page-v7.json buf+0x80010   # the walk, its RMP check');
  out('  npx snpemu scenario --trace fault,kernel,rmp scenarios/01-thp-shared-page-v7.json');
  return passed === results.length ? 0 : 1;
}
