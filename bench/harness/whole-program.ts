// Whole-program comparisons: the same programs under every engine, timed as whole processes in
// turns, with each engine's speed as a ratio to snpemu's.
//
// Method, per program:
//   1. build the program twice: with N loop iterations and with 0 (programs.ts);
//   2. run the native build first: its checksums are the expected ones;
//   3. in each turn, every engine runs both builds, one after the other (the order of the pair
//      alternates between turns so slow drift of the machine does not favour either);
//   4. per turn, loop time = t(N) - t(0): start-up, loading, BIOS boot and set-up cancel out,
//      and instructions/s = instructions the loop retires / loop time;
//   5. the median and the interquartile range over the turns are the figure and its spread.
// A run whose checksum differs from the native one ends that engine's figure for the program.

import { readFileSync } from 'node:fs';
import { summarize } from './stats.ts';
import { firstMessage, runProcess, runProcessAsync, type ProcessRun } from './process.ts';
import { buildProgram, loopInstructions, PROGRAMS, toolchainProblem, type ProgramBuild, type ProgramSpec } from './programs.ts';
import { ENGINES, type Engine } from './engines.ts';
import type { BenchmarkRecord, DetailValue } from './record.ts';

export interface WholeProgramOptions {
  quick: boolean;
  /** Turns per program. */
  samples: number;
  /** Which programs to run (by name); all when undefined. */
  programs?: readonly string[];
  engines?: readonly Engine[];
  cacheDir?: string;
  log?: (line: string) => void;
}

/**
 * Below MIN_LOOP_MS, or below MIN_LOOP_SHARE of the start-up time, a whole-process difference is
 * mostly timer and scheduler noise (start-up times of Node, Python or Bochs vary by more than
 * that): no figure. Below ROUGH_LOOP_MS or ROUGH_LOOP_SHARE the figure is kept, flagged rough.
 */
const MIN_LOOP_MS = 5;
const MIN_LOOP_SHARE = 0.05;
const ROUGH_LOOP_MS = 50;
const ROUGH_LOOP_SHARE = 0.5;

function lastLine(run: ProcessRun): string {
  const lines = `${run.stdout}\n${run.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const line = lines[lines.length - 1] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

function recordName(program: string, engine: string): string {
  return `program.${program}.${engine}`;
}

/** What "2 MiB pages" turns into under each engine: they cannot all honour the request. */
function hugePageNote(engine: string): string {
  switch (engine) {
    case 'native': {
      const reserved = readTrimmed('/proc/sys/vm/nr_hugepages');
      const thp = readTrimmed('/sys/kernel/mm/transparent_hugepage/enabled');
      return `host kernel: vm.nr_hugepages=${reserved ?? '?'} (MAP_HUGETLB ${reserved === '0' ? 'fails, so the program falls back to madvise' : 'may succeed'}), transparent hugepages "${thp ?? '?'}"`;
    }
    case 'qemu': return 'qemu-user has no guest page tables: the request reaches the host kernel, as for native';
    case 'unicorn': return 'the driver maps MAP_HUGETLB with 2 MiB PDEs (PS=1)';
    case 'bochs': return 'the boot image maps everything with 2 MiB PDEs (PS=1)';
    case 'snpemu':
    case 'snpemu-nosnp': return 'the emulated kernel maps MAP_HUGETLB with a 2 MiB PMD';
    default: return '';
  }
}

function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

interface Timing {
  loopMs: number[];
  fullMs: number[];
  zeroMs: number[];
}

export async function runWholePrograms(options: WholeProgramOptions): Promise<BenchmarkRecord[]> {
  const log = options.log ?? (() => {});
  const specs = PROGRAMS.filter((p) => options.programs === undefined || options.programs.includes(p.name));
  const engines = options.engines ?? ENGINES;
  const records: BenchmarkRecord[] = [];

  const enginesFor = (spec: ProgramSpec): Engine[] => engines.filter((e) => e.programs === undefined || e.programs.includes(spec.name));
  const unavailableAll = (note: string): BenchmarkRecord[] =>
    specs.flatMap((p) => enginesFor(p).map((e) => ({ name: recordName(p.name, e.name), group: 'program', unit: 'instructions/s', status: 'unavailable' as const, note })));
  const toolchain = toolchainProblem();
  if (toolchain !== null) return unavailableAll(`cannot build the programs: ${toolchain}`);

  // The slowest engine runs the longest full-length loop in well under a minute here; three minutes
  // bounds a run that hangs after it started (Bochs, now and then) without stalling the whole bench.
  const timeoutMs = options.quick ? 120_000 : 180_000;
  // A run whose engine never started (see ProcessCommand.startedWhen) is tried again, twice at most;
  // the retries are counted in the record's details.
  const retries = new Map<string, number>();
  const run = async (engine: Engine, build: ProgramBuild): Promise<ProcessRun> => {
    let r = await runProcessAsync(engine.command(build), timeoutMs);
    for (let attempt = 1; r.notStarted === true && attempt <= 2; attempt++) {
      retries.set(engine.name, (retries.get(engine.name) ?? 0) + 1);
      r = await runProcessAsync(engine.command(build), timeoutMs);
    }
    return r;
  };

  // Which engines can run at all, and why not.
  const problems = new Map<string, string>();
  for (const e of engines) {
    const p = e.problem();
    if (p !== null) problems.set(e.name, p);
  }
  // snpemu is under construction: a tiny program tells whether `snpemu run` works yet.
  const snpemuEngine = engines.find((e) => e.name === 'snpemu' || e.name === 'snpemu-nosnp');
  if (snpemuEngine !== undefined && !problems.has(snpemuEngine.name)) {
    const probe = buildProgram(PROGRAMS[0], 1000, options.cacheDir);
    const engine = snpemuEngine;
    const nativeRun = runProcess({ command: probe.elf, args: [] }, 10_000);
    const r = await run(engine, probe);
    if (engine.checksum(r) !== nativeRun.status) {
      const why = r.error ?? (firstMessage(r) || `exit status ${r.status}, expected ${nativeRun.status}`);
      for (const name of ['snpemu', 'snpemu-nosnp']) problems.set(name, `snpemu run not yet available: ${why}`);
    }
  }

  for (const spec of specs) {
    const n = options.quick ? spec.iterations.quick : spec.iterations.full;
    log(`program ${spec.name}: building (${n} iterations and 0)`);
    const full = buildProgram(spec, n, options.cacheDir);
    const zero = buildProgram(spec, 0, options.cacheDir);
    const expectedFull = runProcess({ command: full.elf, args: [] }, timeoutMs).status;
    const expectedZero = runProcess({ command: zero.elf, args: [] }, timeoutMs).status;

    const programEngines = enginesFor(spec);
    const active: Engine[] = [];
    const failures = new Map<string, string>();
    const timings = new Map<string, Timing>();
    for (const e of programEngines) {
      if (problems.has(e.name)) continue;
      active.push(e);
      timings.set(e.name, { loopMs: [], fullMs: [], zeroMs: [] });
    }

    for (let turn = 0; turn < options.samples; turn++) {
      for (const e of active) {
        if (failures.has(e.name)) continue;
        const pair: [ProgramBuild, number | null][] = [[full, expectedFull], [zero, expectedZero]];
        if (turn % 2 === 1) pair.reverse();
        const ms = new Map<ProgramBuild, number>();
        for (const [build, expected] of pair) {
          const r = await run(e, build);
          const sum = e.checksum(r);
          if (sum === null || sum !== expected) {
            // A run ended by a signal (a watchdog, or the engine crashing) says so first: its own first
            // output line is usually start-up chatter that explains nothing.
            const killed = r.signal ? `ended by ${r.signal} after ${(r.ms / 1000).toFixed(1)} s` : undefined;
            const why = r.error !== undefined ? `${r.error}${lastLine(r) ? ` (last output: ${lastLine(r)})` : ''}` : killed ?? firstMessage(r);
            failures.set(e.name, `${build === full ? `${n}` : '0'}-iteration run ${sum === null ? 'did not finish cleanly' : `computed checksum ${sum}, native computed ${expected}`}${why ? `: ${why}` : ''}`);
            break;
          }
          ms.set(build, r.ms);
        }
        if (failures.has(e.name)) continue;
        const t = timings.get(e.name)!;
        t.fullMs.push(ms.get(full)!);
        t.zeroMs.push(ms.get(zero)!);
        t.loopMs.push(ms.get(full)! - ms.get(zero)!);
      }
      log(`program ${spec.name}: turn ${turn + 1}/${options.samples} done`);
    }

    const programRecords = programEngines.map((e) => programRecord(spec, n, e, problems.get(e.name) ?? failures.get(e.name), timings.get(e.name)));
    for (const r of programRecords) {
      const engine = r.details?.engine as string;
      if (retries.has(engine)) r.details!.restartsAfterStartupHang = retries.get(engine)!;
    }
    retries.clear();
    addRatios(programRecords);
    records.push(...programRecords);
  }
  return records;
}

function programRecord(spec: ProgramSpec, iterations: number, engine: Engine, problem: string | undefined, timing: Timing | undefined): BenchmarkRecord {
  const instructions = loopInstructions(spec, iterations);
  const details: Record<string, DetailValue> = {
    program: spec.name,
    engine: engine.name,
    engineLabel: engine.label,
    paging: engine.paging,
    iterations,
    loopInstructions: instructions,
  };
  if (spec.huge) details.hugePages = hugePageNote(engine.name);
  const base = { name: recordName(spec.name, engine.name), group: 'program', unit: 'instructions/s', details };
  if (problem !== undefined) {
    return { ...base, status: engineIsAbsent(problem) ? 'unavailable' : 'failed', note: problem };
  }
  if (timing === undefined || timing.loopMs.length === 0) return { ...base, status: 'failed', note: 'no run completed' };

  const loop = summarize(timing.loopMs);
  const fullWall = summarize(timing.fullMs);
  const zeroWall = summarize(timing.zeroMs);
  details.wallMs = round(fullWall.median);
  details.startupMs = round(zeroWall.median);
  details.loopMs = round(loop.median);
  if (loop.median < Math.max(MIN_LOOP_MS, MIN_LOOP_SHARE * zeroWall.median)) {
    return {
      ...base,
      status: 'unavailable',
      note: `the loop took ${loop.median.toFixed(1)} ms against ${zeroWall.median.toFixed(0)} ms of start-up: too short to time as a whole process (run without --quick for longer loops)`,
    };
  }
  // Per-turn rates; a turn whose difference is not positive is noise, not a rate.
  const rates = timing.loopMs.filter((ms) => ms > 0).map((ms) => instructions / (ms / 1000));
  const rate = summarize(rates);
  if (spec.bytesPerIteration !== undefined) {
    details.bytesPerSecond = Math.round((spec.bytesPerIteration * iterations) / (loop.median / 1000));
  }
  const record: BenchmarkRecord = {
    ...base,
    status: 'ok',
    median: rate.median,
    spread: { kind: 'iqr', low: rate.q1, high: rate.q3 },
    samples: rate.samples,
  };
  if (loop.median < Math.max(ROUGH_LOOP_MS, ROUGH_LOOP_SHARE * zeroWall.median)) {
    record.note = `rough: the loop took only ${loop.median.toFixed(1)} ms, against ${zeroWall.median.toFixed(0)} ms of start-up`;
  }
  return record;
}

/** Engine problems (not installed, not runnable here, not built yet) are 'unavailable'; a wrong answer is 'failed'. */
function engineIsAbsent(note: string): boolean {
  return /^snpemu run not yet available|not installed|is missing|are missing|x86-64 Linux executables|^cannot build the programs/.test(note);
}

/**
 * ratioToSnpemu: this engine's instructions/s divided by snpemu's on the same program.
 * For snpemu with SNP off, also the RMP checks' cost: how much longer the loop takes with them
 * (snpOverheadPercent = time with SNP / time without - 1) and the extra time per page touched.
 */
function addRatios(records: BenchmarkRecord[]): void {
  const subject = records.find((r) => r.details?.engine === 'snpemu');
  const subjectRate = subject?.status === 'ok' ? subject.median! : null;
  for (const r of records) {
    if (r.status !== 'ok' || r.details === undefined) continue;
    r.details.ratioToSnpemu = subjectRate === null ? null : round(r.median! / subjectRate, 3);
    if (r.details.engine === 'snpemu-nosnp' && subjectRate !== null) {
      r.details.snpOverheadPercent = round((r.median! / subjectRate - 1) * 100, 1);
      const touches = (r.details.iterations as number) * PAGES_PER_PASS;
      r.details.extraNsPerPageTouchWithSnp = round((((subject!.details!.loopMs as number) - (r.details.loopMs as number)) * 1e6) / touches, 1);
    }
  }
}

/** bench/programs/mem.s touches 64 MiB / 4 KiB pages per pass. */
const PAGES_PER_PASS = 16384;

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
