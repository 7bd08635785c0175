// Build and drive the native runner (native-runner.c): the same snippet cases, run on this
// machine's own CPU, reported in spec/snippet.md's output format.
//
// The helper is compiled at test time with the system `cc` into node_modules/.cache/snpemu-diff
// (or the OS temp dir when node_modules is not writable), under a name that carries a hash of its
// source, so an edited source is rebuilt and an unchanged one is reused.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { caseFromRecord, isCaseError } from '../../src/snippet/case.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(HERE, 'native-runner.c');
const REPO = join(HERE, '..', '..');

function cacheDir(): string {
  for (const dir of [join(REPO, 'node_modules', '.cache', 'snpemu-diff'), join(tmpdir(), 'snpemu-diff')]) {
    try {
      mkdirSync(dir, { recursive: true });
      return dir;
    } catch {
      // not writable: try the next place
    }
  }
  throw new Error('no writable directory for the native runner (node_modules/.cache or the temp dir)');
}

let built: string | undefined;

/** Compile the helper if needed and return its path. Throws a clear message without a C compiler. */
export function buildNativeRunner(): string {
  if (built !== undefined) return built;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`differential testing needs Linux on x86-64 (this is ${process.platform}/${process.arch})`);
  }
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const exe = join(cacheDir(), `native-runner-${hash}`);
  if (!existsSync(exe)) {
    const temp = `${exe}.${process.pid}.tmp`;
    try {
      execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', temp, SOURCE], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { code?: string; stderr?: Buffer };
      if (err.code === 'ENOENT') {
        throw new Error('no C compiler: differential testing builds test/diff/native-runner.c with `cc` (Debian: apt-get install build-essential)');
      }
      throw new Error(`building the native runner failed:\n${err.stderr?.toString() ?? String(e)}`);
    }
    renameSync(temp, exe); // atomic: parallel test workers never run a half-written file
  }
  built = exe;
  return exe;
}

/** One case in the runner's line format: ID CODE RFLAGS 16×GPR MEM (hex, "-" for empty). */
function toNativeLine(index: number, record: Record<string, unknown>): string {
  const c = caseFromRecord(record);
  if (isCaseError(c)) throw new Error(`case ${String(record.id)}: ${c.error}`);
  const hex = (b: Uint8Array) => (b.length === 0 ? '-' : Buffer.from(b).toString('hex'));
  return [index, hex(c.code), c.rflags.toString(16), ...c.regs.map((r) => r.toString(16)), hex(c.mem)].join(' ');
}

/**
 * Run snippet records (the JSON shape of spec/snippet.md) natively. Returns one output line per
 * case, in order, with the case's own id put back.
 */
export function runNative(records: Record<string, unknown>[]): string[] {
  const exe = buildNativeRunner();
  const input = records.map((r, i) => toNativeLine(i, r)).join('\n') + '\n';
  const run = spawnSync(exe, [], { input, maxBuffer: 1 << 30, encoding: 'utf8' });
  if (run.status !== 0) {
    throw new Error(`native runner failed (status ${run.status}, signal ${run.signal}): ${run.stderr}`);
  }
  const lines = run.stdout.split('\n').filter((l) => l !== '');
  if (lines.length !== records.length) {
    throw new Error(`native runner printed ${lines.length} lines for ${records.length} cases: ${run.stderr}`);
  }
  return lines.map((line, i) => {
    // The runner echoes the index as "id"; put the case's own id back.
    const prefix = `{"id":"${i}",`;
    if (!line.startsWith(prefix)) throw new Error(`native runner output out of order at case ${i}: ${line.slice(0, 80)}`);
    return `{"id":${JSON.stringify(records[i]!.id ?? null)},` + line.slice(prefix.length);
  });
}
