// `npm run bench`: run every benchmark, write bench/results.json, regenerate the generated part
// of bench/RESULTS.md and the SVG charts. See docs/benchmarks.md.
//
//   npm run bench                      everything, full length
//   npm run bench -- --quick           short loops, few samples (CI, tests): about two minutes
//   npm run bench -- --only program    one section (repeatable); a program name (alu, mem-4k, ...)
//                                      selects that program of the whole-program section
//   npm run bench -- --samples 7       turns per whole program
//   npm run bench -- --report          no measuring: rewrite RESULTS.md and the charts from results.json
// With --only, the other sections' records are kept from the previous results.json.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineInfo } from './harness/machine-info.ts';
import { runBenchModule } from './harness/modules.ts';
import { BENCH_DIR, PROGRAMS } from './harness/programs.ts';
import { RESULTS_SCHEMA_VERSION, validateResults, type BenchmarkRecord, type Results } from './harness/record.ts';
import { costGrowthChart, programChart, renderGenerated, spliceGenerated, walkChart, type ChartFiles } from './harness/report.ts';
import { runWholePrograms } from './harness/whole-program.ts';

interface Section {
  name: string;
  /** The record groups this section produces (to drop stale ones with --only). */
  groups: string[];
  run(quick: boolean, programs: string[] | undefined, samples: number | undefined): Promise<BenchmarkRecord[]>;
}

const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

function moduleSection(name: string, file: string, whoWritesIt: string, groups = [name]): Section {
  return {
    name,
    groups,
    run: async (quick) => {
      log(`${name}: ${file}`);
      return runBenchModule(join(BENCH_DIR, file), name, { quick }, whoWritesIt);
    },
  };
}

const SECTIONS: Section[] = [
  {
    name: 'program',
    groups: ['program'],
    run: async (quick, programs, samples) => runWholePrograms({ quick, samples: samples ?? (quick ? 3 : 5), programs, log }),
  },
  moduleSection('cpu', 'cpu.bench.ts', 'the CPU issue writes it'),
  moduleSection('mmu', 'mmu.bench.ts', 'the MMU issue writes it'),
  moduleSection('rmp', 'rmp-overhead.bench.ts', 'the RMP issue writes it'),
  moduleSection('guest-walk', 'guest-walk.bench.ts', 'the guest-mode issue writes it'),
  moduleSection('api', 'api.bench.ts', 'the library API issue writes it'),
  moduleSection('decode', 'micro/decode.bench.ts', 'bench/micro'),
  moduleSection('rmp-fault', 'micro/rmp-fault.bench.ts', 'bench/micro'),
  moduleSection('cost-growth', 'micro/cost-growth.bench.ts', 'bench/micro'),
];

const USAGE = `usage: npm run bench -- [--quick] [--only NAME]... [--samples N]
  --quick        short loops and few samples (about two minutes)
  --only NAME    run one section (${SECTIONS.map((s) => s.name).join(', ')}) or one program (${PROGRAMS.map((p) => p.name).join(', ')}); repeatable
  --samples N    turns per whole program (default 5, quick 3)
  --report       measure nothing: regenerate RESULTS.md and the charts from bench/results.json`;

interface Args {
  quick: boolean;
  reportOnly: boolean;
  only: string[];
  samples?: number;
}

function parseArgs(argv: string[]): Args {
  // `npm run bench --quick` (without `--`) reaches us only as npm's config variable.
  const args: Args = { quick: process.env.npm_config_quick === 'true', reportOnly: false, only: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--report') args.reportOnly = true;
    else if (a === '--only' || a === '--samples') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      if (a === '--only') args.only.push(...v.split(','));
      else {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new Error(`--samples needs a positive integer, got '${v}'`);
        args.samples = n;
      }
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument '${a}'`);
  }
  const known = new Set([...SECTIONS.map((s) => s.name), ...PROGRAMS.map((p) => p.name)]);
  for (const o of args.only) if (!known.has(o)) throw new Error(`--only: no section or program called '${o}' (${[...known].join(', ')})`);
  return args;
}

function previousResults(path: string): Results | null {
  if (!existsSync(path)) return null;
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as Results;
    return validateResults(r).length === 0 ? r : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const resultsPath = join(BENCH_DIR, 'results.json');
  if (args.reportOnly) {
    if (!existsSync(resultsPath)) throw new Error(`--report: ${resultsPath} does not exist; run the benchmarks first`);
    const results = JSON.parse(readFileSync(resultsPath, 'utf8')) as Results;
    const problems = validateResults(results);
    if (problems.length > 0) throw new Error(`--report: ${resultsPath} is malformed: ${problems.join('; ')}`);
    writeReport(results);
    return;
  }
  const programNames = PROGRAMS.map((p) => p.name);
  const onlyPrograms = args.only.filter((o) => programNames.includes(o));
  const onlySections = args.only.filter((o) => !programNames.includes(o));
  if (onlyPrograms.length > 0 && !onlySections.includes('program')) onlySections.push('program');
  const sections = args.only.length === 0 ? SECTIONS : SECTIONS.filter((s) => onlySections.includes(s.name));

  const records: BenchmarkRecord[] = [];
  for (const s of sections) {
    const start = performance.now();
    records.push(...await s.run(args.quick, onlyPrograms.length > 0 ? onlyPrograms : undefined, args.samples));
    log(`${s.name}: done in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }

  if (args.only.length > 0) {
    // Keep what this run did not measure.
    const previous = previousResults(resultsPath);
    const fresh = new Set(records.map((r) => r.name));
    const rerunGroups = new Set(sections.filter((s) => onlyPrograms.length === 0 || s.name !== 'program').flatMap((s) => s.groups));
    for (const old of previous?.benchmarks ?? []) {
      if (!fresh.has(old.name) && !rerunGroups.has(old.group)) records.push(old);
    }
  }
  const results: Results = {
    schema: RESULTS_SCHEMA_VERSION,
    date: new Date().toISOString(),
    quick: args.quick,
    machine: machineInfo(),
    benchmarks: records,
  };
  const problems = validateResults(results);
  if (problems.length > 0) throw new Error(`the results are malformed (a benchmark module broke the convention): ${problems.join('; ')}`);
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${resultsPath}`);
  writeReport(results);
}

/** The charts and the generated part of RESULTS.md, from a results document. */
function writeReport(results: Results): void {
  const charts: ChartFiles = {};
  const svgs: [keyof ChartFiles, string, string | null][] = [
    ['programs', 'programs.svg', programChart(results)],
    ['walks', 'walks.svg', walkChart(results)],
    ['costGrowth', 'cost-growth.svg', costGrowthChart(results)],
  ];
  for (const [key, file, svg] of svgs) {
    if (svg === null) continue;
    writeFileSync(join(BENCH_DIR, file), svg);
    charts[key] = file;
    log(`wrote bench/${file}`);
  }
  const mdPath = join(BENCH_DIR, 'RESULTS.md');
  const existing = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : null;
  writeFileSync(mdPath, spliceGenerated(existing, renderGenerated(results, charts)));
  log(`wrote ${mdPath}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
