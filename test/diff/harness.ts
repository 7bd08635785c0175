// The differential harness shared by the test suite and the long campaigns: generate cases, check
// their encodings against iced-x86, run them natively and in snpemu, compare.

import { checkLengths, compareOutputs, disassemble, formatMismatch, type FieldDiff } from './compare.ts';
import { generateCase, type GeneratedCase } from './generator.ts';
import { runNative } from './native.ts';
import { formatResult, runSnippet } from '../../src/snippet/index.ts';

export interface Failure {
  case: GeneratedCase;
  /** Field differences, or a single pseudo-field for encoder problems and crashes. */
  diffs: FieldDiff[];
  native?: string;
  snpemu?: string;
  report: string;
}

export interface CampaignSummary {
  seed: number;
  cases: number;
  failures: Failure[];
  /** Outcome counts, e.g. "ok", "#PF 7", "error". */
  outcomes: Record<string, number>;
  /** How many cases used each instruction family. */
  families: Record<string, number>;
  nativeMs: number;
  snpemuMs: number;
  generateMs: number;
}

/** The snpemu side of one case, as its output line. Internal errors become an error line. */
export function runInSnpemu(c: GeneratedCase): string {
  try {
    return formatResult(runSnippet(c as unknown as Record<string, unknown>));
  } catch (e) {
    return JSON.stringify({ id: c.id, error: `snpemu threw: ${(e as Error).message ?? String(e)}` });
  }
}

function outcomeOf(line: string): string {
  const o = JSON.parse(line) as { error?: string; exception?: { name: string; error_code: number } | null };
  if (o.error !== undefined) return 'error';
  if (o.exception) return `#${o.exception.name} ${o.exception.error_code}`;
  return 'ok';
}

/**
 * Run `count` cases of campaign `seed`, starting at case index `first`, in batches.
 * `progress(done)` is called after each batch.
 */
export function runCampaign(
  seed: number,
  count: number,
  options: { first?: number; batch?: number; progress?: (done: number, failures: number) => void; maxFailures?: number } = {},
): CampaignSummary {
  const first = options.first ?? 0;
  const batch = options.batch ?? 500;
  const summary: CampaignSummary = {
    seed, cases: 0, failures: [], outcomes: {}, families: {}, nativeMs: 0, snpemuMs: 0, generateMs: 0,
  };
  const note = `seed ${seed}; replay with: npm run fuzz:diff -- --seed ${seed} --cases ${first + count}`;
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    let t = performance.now();
    const cases: GeneratedCase[] = [];
    for (let i = 0; i < n; i++) {
      const c = generateCase(seed, first + start + i);
      const problems = checkLengths(c);
      if (problems.length > 0) {
        const diffs = problems.map((p) => ({ field: 'encoding', native: p, snpemu: '' }));
        summary.failures.push({ case: c, diffs, report: formatMismatch(c, diffs, note) });
        continue;
      }
      cases.push(c);
      for (const f of new Set(c.families)) summary.families[f] = (summary.families[f] ?? 0) + 1;
    }
    summary.generateMs += performance.now() - t;
    t = performance.now();
    const native = runNative(cases as unknown as Record<string, unknown>[]);
    summary.nativeMs += performance.now() - t;
    t = performance.now();
    const emulated = cases.map(runInSnpemu);
    summary.snpemuMs += performance.now() - t;
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      const outcome = outcomeOf(native[i]!);
      summary.outcomes[outcome] = (summary.outcomes[outcome] ?? 0) + 1;
      const diffs = compareOutputs(c, native[i]!, emulated[i]!);
      if (diffs.length > 0) {
        summary.failures.push({ case: c, diffs, native: native[i], snpemu: emulated[i], report: formatMismatch(c, diffs, note) });
      }
    }
    summary.cases += n;
    options.progress?.(summary.cases, summary.failures.length);
    if (options.maxFailures !== undefined && summary.failures.length >= options.maxFailures) break;
  }
  return summary;
}

/** The case cut just before the instruction at `end` (a byte offset that starts an instruction). */
export function prefixCase(c: GeneratedCase, end: number): GeneratedCase {
  return {
    ...c,
    id: `${c.id}/${end}`,
    code: c.code.slice(0, end * 2),
    flagsUndefinedAtEnd: c.flagsUndefinedAt[String(end)] ?? 0,
    starts: c.starts.filter((s) => s < end),
    invalidAt: c.invalidAt.filter((s) => s < end),
  };
}

/**
 * Shrink a failing case to its shortest failing prefix: the last instruction of that prefix is
 * where snpemu and the CPU first part ways (for straight-line code; control flow can blur it).
 * Returns the prefix case and the offset of its last instruction, or null if no prefix fails.
 */
export function shortestFailingPrefix(c: GeneratedCase): { prefix: GeneratedCase; culprit: number } | null {
  const noCut = new Set(c.noCutAt ?? []);
  const ends = [...c.starts.slice(1), c.code.length / 2].filter((e) => !noCut.has(e));
  const prefixes = ends.map((e) => prefixCase(c, e));
  const native = runNative(prefixes as unknown as Record<string, unknown>[]);
  for (let i = 0; i < prefixes.length; i++) {
    if (compareOutputs(prefixes[i]!, native[i]!, runInSnpemu(prefixes[i]!)).length > 0) {
      const end = ends[i]!;
      return { prefix: prefixes[i]!, culprit: [...c.starts].reverse().find((s) => s < end)! };
    }
  }
  return null;
}

/** The iced-x86 disassembly of the instruction at byte offset `at` of a case. */
export function instructionAt(c: GeneratedCase, at: number): string {
  const end = c.starts.find((s) => s > at) ?? c.code.length / 2;
  return disassemble(c.code.slice(at * 2, end * 2))[0]?.replace(/^100000\s+/, '') ?? '?';
}

export interface CulpritGroup {
  /** The mnemonic of the first instruction where the two sides part ways. */
  mnemonic: string;
  count: number;
  /** A few shrunk examples: case id, offset, disassembly and differing fields. */
  examples: string[];
}

/**
 * Shrink each failing case to its shortest failing prefix and group the failures by the last
 * instruction of that prefix: a list of suspect instructions, most frequent first.
 */
export function groupByCulprit(cases: GeneratedCase[], examplesPerGroup = 3): CulpritGroup[] {
  const groups = new Map<string, CulpritGroup>();
  for (const c of cases) {
    const shrunk = shortestFailingPrefix(c);
    let mnemonic = '(no failing prefix: depends on what follows)';
    let example = c.id;
    if (shrunk) {
      const text = instructionAt(shrunk.prefix, shrunk.culprit);
      mnemonic = text.replace(/^\S+\s+/, '').split(/\s/)[0] ?? '?';
      const native = runNative([shrunk.prefix as unknown as Record<string, unknown>])[0]!;
      const diffs = compareOutputs(shrunk.prefix, native, runInSnpemu(shrunk.prefix));
      example = `${c.id} +0x${shrunk.culprit.toString(16)}: ${text.replace(/\s+/g, ' ')} :: ` +
        diffs.map((d) => `${d.field}: ${d.native} | ${d.snpemu}`.slice(0, 160)).join('; ');
    }
    const g = groups.get(mnemonic) ?? { mnemonic, count: 0, examples: [] };
    g.count++;
    if (g.examples.length < examplesPerGroup) g.examples.push(example);
    groups.set(mnemonic, g);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}
