// The whole-program benchmarks build, compute what the hand calculations say on this machine's
// CPU (the strongest oracle), and retire the instructions the harness counts for them. The
// checksum each program leaves in its exit status is how the harness checks every engine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BENCH_DIR, buildProgram, PROGRAMS, type ProgramSpec } from '../../bench/harness/programs.ts';

const cache = mkdtempSync(join(tmpdir(), 'snpemu-bench-test-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

const spec = (name: string): ProgramSpec => PROGRAMS.find((p) => p.name === name)!;
const status = (elf: string): number | null => spawnSync(elf, [], { timeout: 20_000 }).status;

const unicornPresent = spawnSync('/usr/bin/python3', ['-c', 'import unicorn'], { timeout: 20_000 }).status === 0;
const bochsPresent = spawnSync('bochs', ['--help'], { timeout: 20_000 }).error === undefined;

// Hand calculations of each program's checksum (bench_main's rax; the exit status is its low byte).
//   alu, 3 iterations: rax=1, rdx=0x9e3779b9, rcx=3..1; per iteration rax+=rcx, rdx^=rax, rdx<<=3:
//     rcx=3: rax=4, rdx=(0x9e3779b9^4)<<3 = 0x4f1bbcde8
//     rcx=2: rax=6, rdx=(0x4f1bbcde8^6)<<3 = 0x278dde6f70
//     rcx=1: rax=7, rdx=(0x278dde6f70^7)<<3 = 0x13c6ef37bb8
//     rax^rdx = 0x13c6ef37bbf -> 0xbf = 191
//   alu, 0 iterations: 1 ^ 0x9e3779b9 = 0x9e3779b8 -> 0xb8 = 184
//   mem, 2 passes: first and last page each hold 2 after the two `add qword [rsi], 1` -> 2 + 2 = 4
//   mem, 0 passes: both 0 -> 0
//   call, 3 iterations: rax=0, rdx=7; per iteration rax+=rcx, rdx^=rax:
//     rcx=3: rax=3, rdx=4; rcx=2: rax=5, rdx=1; rcx=1: rax=6, rdx=7 -> rax+rdx = 13
//   call, 0 iterations: 0 + 7 = 7
//   string, 3 iterations: the last fill is rax = 0x5a + 2 = 0x5c, copied to buffer B -> 92
//   string, 0 iterations: buffer B never written -> 0
const CASES: [string, number, number][] = [
  ['alu', 3, 191], ['alu', 0, 184],
  ['mem-4k', 2, 4], ['mem-4k', 0, 0], ['mem-2m', 2, 4],
  ['call', 3, 13], ['call', 0, 7],
  ['string', 3, 92], ['string', 0, 0],
];

describe('benchmark programs', () => {
  it.each(CASES)('%s with %i iterations exits with the hand-computed checksum %i natively', (name, iterations, expected) => {
    const build = buildProgram(spec(name), iterations, cache);
    expect(status(build.elf)).toBe(expected);
  });

  it('makes 1.44 MB boot floppies with the boot signature', () => {
    const build = buildProgram(spec('alu'), 3, cache);
    const image = readFileSync(build.floppy);
    expect(statSync(build.floppy).size).toBe(1_474_560);
    expect([image[510], image[511]]).toEqual([0x55, 0xaa]);
  });

  it('rebuilds when the iteration count changes and reuses the cache otherwise', () => {
    const a = buildProgram(spec('call'), 5, cache);
    const again = buildProgram(spec('call'), 5, cache);
    const b = buildProgram(spec('call'), 6, cache);
    expect(again.elf).toBe(a.elf);
    expect(b.elf).not.toBe(a.elf);
  });

  it('names a source that exists for every program', () => {
    for (const p of PROGRAMS) expect(statSync(join(BENCH_DIR, 'programs', p.source)).isFile()).toBe(true);
  });
});

describe.skipIf(!unicornPresent)('static instruction counts (unicorn retired-instruction hook)', () => {
  // retired(N) - retired(0) must be instructionsPerIteration * N. REP string instructions are
  // excluded: unicorn's hook fires once per REP iteration, the hardware counter once per instruction.
  const counted = (elf: string): number => {
    const r = spawnSync('/usr/bin/python3', [join(BENCH_DIR, 'peers', 'unicorn_run.py'), elf, '--count'], { encoding: 'utf8', timeout: 60_000 });
    const m = /instructions=(\d+)/.exec(r.stderr);
    if (m === null) throw new Error(`unicorn_run.py --count printed no count: ${r.stderr}`);
    return Number(m[1]);
  };
  it.each([['alu', 7], ['call', 7], ['mem-4k', 2], ['mem-2m', 2]] as const)('%s: %i iterations', (name, n) => {
    const s = spec(name);
    const delta = counted(buildProgram(s, n, cache).elf) - counted(buildProgram(s, 0, cache).elf);
    expect(delta).toBe(s.instructionsPerIteration * n);
  });

  it('runs the program at CPL 3 under paging and returns its exit status', () => {
    const r = spawnSync('/usr/bin/python3', [join(BENCH_DIR, 'peers', 'unicorn_run.py'), buildProgram(spec('call'), 3, cache).elf], { timeout: 60_000 });
    expect(r.status).toBe(13);
  });
});

describe.skipIf(!bochsPresent)('Bochs boot image', () => {
  it('computes the same checksum as the native run (alu, 3 iterations: 0xbf)', async () => {
    const { bochs } = await import('../../bench/harness/engines.ts');
    const { runProcessAsync } = await import('../../bench/harness/process.ts');
    const run = await runProcessAsync(bochs.command(buildProgram(spec('alu'), 3, cache)), 60_000);
    expect(run.error).toBeUndefined();
    expect(bochs.checksum(run)).toBe(0xbf);
  });
});
