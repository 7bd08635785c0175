// `snpemu demo` (npm start): the story of the v7 SNP host patch in a few scenarios, each under v7
// and mainline, as a compact table of outcomes with their why, then the files to edit.

import { readdirSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, parseArgs } from './args.ts';
import { out } from './common.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { formatReport, type ScenarioResult } from '../scenario/result.ts';
import { runScenario } from '../scenario/run.ts';

export const DEMO_DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));

/** The demo's scenario files: the top-level *.json of scenarios/, in name order. */
export function demoFiles(): string[] {
  return readdirSync(DEMO_DIR).filter((f) => f.endsWith('.json')).sort().map((f) => `${DEMO_DIR}${f}`);
}

function outcomeCell(r: ScenarioResult): string {
  const o = r.outcome;
  if (o.kind === 'exit') return `exit ${o.exitCode}`;
  if (o.kind === 'signal') return `${o.signal}`;
  return o.kind;
}

function decisionsCell(r: ScenarioResult): string {
  if (r.kernel.length === 0) return r.faults.length === 0 ? 'no fault' : `${r.faults.length} fault(s)`;
  const names = r.kernel.map((k) => k.action);
  // Collapse repeats: split x8.
  const parts: string[] = [];
  for (let i = 0; i < names.length;) {
    let j = i;
    while (j < names.length && names[j] === names[i]) j++;
    parts.push(j - i > 1 ? `${names[i]} x${j - i}` : names[i]!);
    i = j;
  }
  return parts.join(', ');
}

/** The sentences that explain the outcome: the first decision, and the last when it differs. */
function whyOf(r: ScenarioResult): string[] {
  const first = r.kernel[0];
  const last = r.kernel[r.kernel.length - 1];
  if (first === undefined) return [r.faults[0]?.why || r.outcome.message];
  return last !== undefined && last.action !== first.action ? [first.why, `then ${last.why}`] : [first.why];
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

export async function commandDemo(argv: string[]): Promise<number> {
  const p = parseArgs(argv, { json: { value: false }, verbose: { value: false } }, 'demo');
  const json = flag(p, 'json');
  const files = demoFiles();
  const results: ScenarioResult[] = [];
  const started = performance.now();
  for (const file of files) results.push(runScenario(loadScenarioFile(file)).result);
  const ms = performance.now() - started;
  if (json) {
    for (const r of results) out(JSON.stringify(r));
    return results.every((r) => r.expect.passed) ? 0 : 1;
  }
  out('snpemu demo: a host write, a huge page, and one guest page in its 2M region.');
  out('');
  out('AMD SEV-SNP checks every host write against the Reverse Map Table (RMP). A write through a 2M');
  out('mapping needs all 512 RMP entries of its region unassigned, so one guest page poisons its');
  out('whole 2M region for huge mappings. The v7 host patch (2022) split the huge page and retried;');
  out('mainline Linux has no RMP code on the user path. Each story runs under both (kernel, outcome,');
  out('handler decisions, and why):');
  out('');
  // One block per story (file name without the policy), v7 first.
  const stories = new Map<string, ScenarioResult[]>();
  results.forEach((r, i) => {
    const key = basename(files[i]!).replace(/-(v7|mainline)\.json$/, '');
    stories.set(key, [...(stories.get(key) ?? []), r]);
  });
  let n = 0;
  for (const group of stories.values()) {
    group.sort((a, b) => (a.policy === b.policy ? 0 : a.policy === 'v7' ? -1 : 1));
    out(`${++n}. ${storyTitle(group[0]!.name)}`);
    for (const r of group) {
      out(`   ${pad(r.policy, 9)} ${pad(outcomeCell(r), 10)} ${pad(decisionsCell(r), 16)} ${r.expect.passed ? '' : '(NOT as expected: see --verbose)'}`.trimEnd());
      for (const why of whyOf(r)) for (const line of wrap(why, '        ')) out(line);
    }
    out('');
  }
  out('');
  const passed = results.filter((r) => r.expect.passed).length;
  out(`${passed} of ${results.length} outcomes as expected, in ${(ms / 1000).toFixed(2)} s.`);
  out('');
  out('Scenario files (edit one and run it with `npx snpemu scenario FILE`, add --trace fault,kernel,rmp):');
  for (const f of files) out(`  ${relative(process.cwd(), f) || f}`);
  out('');
  out('Next: `npx snpemu walk scenarios/01-thp-shared-page-v7.json buf+0x80010` shows the walk and the RMP check.');
  if (flag(p, 'verbose')) {
    out('');
    for (const r of results) out(`${formatReport(r)}\n`);
  }
  return passed === results.length ? 0 : 1;
}
