// Loading benchmark modules. Two conventions are understood:
//
//  1. (preferred) the module exports
//         export async function benchmarks(options: { quick: boolean }): Promise<BenchmarkRecord[]>
//     and is imported and called in this process;
//  2. a stand-alone mitata script (bench/cpu.bench.ts, bench/mmu.bench.ts as their authors wrote
//     them) that, given --json, prints as its last line either a JSON array of rows or an object
//     { results: { NAME: row-without-name } }, each row one of
//         { name, perOp }                         perOp: mean nanoseconds per operation
//         { name, instructionsPerSecond }         from mitata's median (p50)
//         { name, median, unit, spread?, samples? }
//     It is run in a child process (its benchmarks start when it is loaded) and its line parsed.
//
// A missing module is 'waiting' (its author has not written it yet); a module that throws or
// breaks both conventions is 'failed', with the reason. Nothing here invents a figure.

import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_DIR } from './engines.ts';
import { runProcess } from './process.ts';
import type { BenchmarkRecord, Spread } from './record.ts';

export interface BenchOptions {
  quick: boolean;
}

type BenchmarksFunction = (options: BenchOptions) => BenchmarkRecord[] | Promise<BenchmarkRecord[]>;

const EXPORTS_BENCHMARKS = /export\s+(async\s+)?function\s+benchmarks\b|export\s+const\s+benchmarks\b/;

export async function runBenchModule(path: string, group: string, options: BenchOptions, whoWritesIt: string): Promise<BenchmarkRecord[]> {
  const shown = relative(PROJECT_DIR, path);
  const failed = (note: string): BenchmarkRecord[] => [{ name: group, group, unit: 'n/a', status: 'failed', note: `${shown}: ${note}` }];
  if (!existsSync(path)) {
    return [{ name: group, group, unit: 'n/a', status: 'waiting', note: `${shown} does not exist yet (${whoWritesIt})` }];
  }
  const source = readFileSync(path, 'utf8');
  if (!EXPORTS_BENCHMARKS.test(source)) {
    if (!source.includes('--json')) {
      // Running it would cost its full time for figures nobody could read back.
      return [{ name: group, group, unit: 'n/a', status: 'waiting', note: `${shown} prints no machine-readable summary yet (--json; see bench/harness/modules.ts); its figures are in its own section of RESULTS.md` }];
    }
    return runScript(path, group, shown);
  }
  try {
    const mod = (await import(pathToFileURL(path).href)) as { benchmarks?: BenchmarksFunction };
    if (typeof mod.benchmarks !== 'function') return failed('benchmarks is not a function');
    const records = await mod.benchmarks(options);
    return Array.isArray(records) ? records : failed('benchmarks() did not return an array');
  } catch (error) {
    return failed(`failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
}

interface ScriptRow {
  name?: unknown;
  perOp?: unknown;
  instructionsPerSecond?: unknown;
  median?: unknown;
  unit?: unknown;
  spread?: unknown;
  samples?: unknown;
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function runScript(path: string, group: string, shown: string): BenchmarkRecord[] {
  const r = runProcess({ command: process.execPath, args: ['--import', 'tsx', path, '--json'], cwd: PROJECT_DIR }, 600_000);
  const failed = (note: string): BenchmarkRecord[] => [{ name: group, group, unit: 'n/a', status: 'failed', note: `${shown}: ${note}` }];
  if (r.error !== undefined || r.status !== 0) {
    const line = r.stderr.split('\n').map((l) => l.trim()).find((l) => /error/i.test(l)) ?? `exit status ${r.status}`;
    return failed(`${r.error ?? line}`);
  }
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let rows: ScriptRow[];
  try {
    const parsed = JSON.parse(last) as unknown;
    if (Array.isArray(parsed)) rows = parsed as ScriptRow[];
    else {
      const results = (parsed as { results?: unknown }).results;
      if (typeof results !== 'object' || results === null) throw new Error('no results');
      rows = Object.entries(results as Record<string, object>).map(([name, row]) => ({ ...row, name }));
    }
  } catch {
    return failed('neither exports benchmarks(options) nor prints JSON rows as its last line with --json (bench/harness/modules.ts)');
  }
  const records: BenchmarkRecord[] = [];
  for (const row of rows) {
    if (typeof row.name !== 'string') continue;
    const name = `${group}.${slug(row.name)}`;
    const unit = /instructions/i.test(row.name) ? 'instructions/s' : /walk/i.test(row.name) ? 'walks/s' : 'operations/s';
    if (typeof row.perOp === 'number' && row.perOp > 0) {
      // A mean per operation: the script reports no spread, and the note says so.
      records.push({
        name, group, unit, status: 'ok', median: 1e9 / row.perOp, samples: 1,
        note: 'mean over mitata\'s samples, converted from ns per operation; the script reports no spread',
        details: { label: row.name, nsPerOperation: Math.round(row.perOp * 100) / 100 },
      });
    } else if (typeof row.instructionsPerSecond === 'number') {
      records.push({
        name, group, unit: 'instructions/s', status: 'ok', median: row.instructionsPerSecond, samples: 1,
        note: 'from mitata\'s median time per run; the script reports no spread',
        details: { label: row.name },
      });
    } else if (typeof row.median === 'number' && typeof row.unit === 'string') {
      const s = row.spread as Spread | undefined;
      const hasSpread = typeof s === 'object' && s !== null && typeof s.low === 'number' && typeof s.high === 'number';
      records.push({
        name, group, unit: row.unit, status: 'ok', median: row.median,
        ...(hasSpread ? { spread: { kind: s.kind === 'min-max' ? 'min-max' : 'iqr', low: s.low, high: s.high } } : { note: 'the script reports no spread' }),
        samples: typeof row.samples === 'number' ? row.samples : 1,
        details: { label: row.name },
      });
    }
  }
  return records.length > 0 ? records : failed('its JSON line held no {name, perOp} or {name, median, unit} rows');
}
