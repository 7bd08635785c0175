// The whole-program benchmarks: which programs, how many instructions each retires, and how to
// build them (GNU as + ld) into a cache directory at bench time.
//
// Counting instructions statically: each program's loop is guarded so that a build with ITERS=0
// runs exactly the same instructions as a build with ITERS=N except the loop itself (see the
// comment at the top of each bench/programs/*.s). So
//     retired(N) - retired(0) = instructionsPerIteration * N,
// and the harness divides that by the time difference of the two builds. A REP-prefixed string
// instruction counts once, as the hardware's instructions-retired counter counts it.
// test/bench checks the formula against unicorn's per-instruction hook for small N.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess } from './process.ts';

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
export const PROGRAMS_DIR = join(BENCH_DIR, 'programs');
export const BOCHS_DIR = join(BENCH_DIR, 'peers', 'bochs');
export const DEFAULT_CACHE_DIR = join(BENCH_DIR, '..', '.cache', 'bench');

/** A 1.44 MB floppy: Bochs wants the image to be exactly the size of the drive type. */
const FLOPPY_BYTES = 1_474_560;

export interface ProgramSpec {
  /** Benchmark name: 'alu', 'mem-4k', 'mem-2m', 'call', 'string'. */
  name: string;
  /** Source of bench_main in bench/programs. */
  source: string;
  /** Ask for 2 MiB pages (start-linux.s and boot.s with HUGE=1). */
  huge: boolean;
  instructionsPerIteration: number;
  /** Bytes written per iteration, for programs where bytes/s means more than instructions/s. */
  bytesPerIteration?: number;
  iterations: { quick: number; full: number };
  /** What an iteration is, for the report. */
  iterationMeans: string;
  description: string;
}

/** mem.s, built twice: once on 4 KiB pages, once asking for 2 MiB pages. */
const MEM_LOOP = {
  source: 'mem.s', instructionsPerIteration: 65_540, iterations: { quick: 64, full: 512 }, iterationMeans: 'pass over 64 MiB',
} as const;

export const PROGRAMS: readonly ProgramSpec[] = [
  {
    name: 'alu', source: 'alu.s', huge: false, instructionsPerIteration: 5,
    iterations: { quick: 10_000_000, full: 100_000_000 }, iterationMeans: 'loop iteration',
    description: 'integer ALU loop on registers: add, xor, shl, dec, jnz',
  },
  {
    name: 'mem-4k', ...MEM_LOOP, huge: false,
    description: 'read-modify-write of one qword per 4 KiB over 64 MiB, 4 KiB pages (16384 pages: every access misses any TLB)',
  },
  {
    name: 'mem-2m', ...MEM_LOOP, huge: true,
    description: 'the same loop over 64 MiB asked for with 2 MiB pages (MAP_HUGETLB, else madvise(MADV_HUGEPAGE)): 32 pages',
  },
  {
    name: 'call', source: 'call.s', huge: false, instructionsPerIteration: 8,
    iterations: { quick: 5_000_000, full: 25_000_000 }, iterationMeans: 'loop iteration',
    description: 'call-heavy loop: two nested near CALL/RET pairs per iteration',
  },
  {
    name: 'string', source: 'string.s', huge: false, instructionsPerIteration: 10, bytesPerIteration: 8192,
    iterations: { quick: 2_000, full: 10_000 }, iterationMeans: 'loop iteration',
    description: 'string loop: REP STOSQ fills 4 KiB, REP MOVSB copies it (8 KiB written per iteration)',
  },
];

export interface ProgramBuild {
  spec: ProgramSpec;
  iterations: number;
  /** Static ELF for Linux (native, snpemu, qemu-user, unicorn). */
  elf: string;
  /** 1.44 MB boot floppy for Bochs. */
  floppy: string;
}

function tool(command: string, args: string[]): void {
  const r = runProcess({ command, args }, 60_000);
  if (r.status !== 0) {
    const reason = r.error ?? (r.stderr.trim() || `exit status ${r.status}`);
    throw new Error(`${command} ${args.join(' ')} failed: ${reason}`);
  }
}

/** Is the GNU toolchain (as, ld) there to build the programs? null when it is, else why not. */
export function toolchainProblem(): string | null {
  for (const t of ['as', 'ld']) {
    const r = runProcess({ command: t, args: ['--version'] }, 10_000);
    if (r.status !== 0) return `${t} (GNU binutils) is not installed; apt-get install binutils`;
  }
  return null;
}

/**
 * Build (or find in the cache) one program at one iteration count. The cache key hashes the
 * sources, so an edited .s file is rebuilt.
 */
export function buildProgram(spec: ProgramSpec, iterations: number, cacheDir = DEFAULT_CACHE_DIR): ProgramBuild {
  const sources = [join(PROGRAMS_DIR, spec.source), join(PROGRAMS_DIR, 'start-linux.s'), join(BOCHS_DIR, 'boot.s'), join(BOCHS_DIR, 'link.ld')];
  const hash = createHash('sha256');
  for (const s of sources) hash.update(readFileSync(s));
  hash.update(`${iterations}:${spec.huge}`);
  const dir = join(cacheDir, `${spec.name}-${iterations}-${hash.digest('hex').slice(0, 12)}`);
  const build: ProgramBuild = { spec, iterations, elf: join(dir, spec.name), floppy: join(dir, `${spec.name}.img`) };
  if (existsSync(build.elf) && existsSync(build.floppy)) return build;

  mkdirSync(dir, { recursive: true });
  const huge = `HUGE=${spec.huge ? 1 : 0}`;
  const body = join(dir, 'body.o');
  tool('as', ['--64', '--defsym', `ITERS=${iterations}`, '-o', body, sources[0]]);
  tool('as', ['--64', '--defsym', huge, '-o', join(dir, 'start.o'), sources[1]]);
  tool('as', ['--64', '--defsym', huge, '-o', join(dir, 'boot.o'), sources[2]]);
  // Link to temporary names and rename, so an interrupted build never leaves a half file that
  // the cache check above would take for a finished one.
  tool('ld', ['-static', '-o', `${build.elf}.tmp`, join(dir, 'start.o'), body]);
  tool('ld', ['-T', sources[3], '-o', `${build.floppy}.tmp`, join(dir, 'boot.o'), body]);
  truncateSync(`${build.floppy}.tmp`, FLOPPY_BYTES);
  renameSync(`${build.floppy}.tmp`, build.floppy);
  renameSync(`${build.elf}.tmp`, build.elf);
  return build;
}

/** Instructions the loop retires in a build with `iterations` iterations (see the top comment). */
export function loopInstructions(spec: ProgramSpec, iterations: number): number {
  return spec.instructionsPerIteration * iterations;
}
