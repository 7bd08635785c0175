// The native oracle (design.md, "Oracles we trust", 1): build test/cpu/native/oracle.c with the
// system cc once per test run, feed it register-only snippets with exact initial registers and
// flags, and read back what this machine's CPU produced.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeCase {
  code: Uint8Array;
  /** 16 register values (RSP is ignored). */
  regs: bigint[];
  rflags: number;
}

export type NativeResult = { regs: bigint[]; rflags: number } | { signal: number };

const NATIVE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'native');

/** Build a helper from test/cpu/native/NAME.c with the system cc; returns its path and a cleanup function. */
export function buildNativeHelper(name: string): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `snpemu-${name}-`));
  const path = join(dir, name);
  execFileSync('cc', ['-O1', '-o', path, join(NATIVE_DIR, `${name}.c`)]);
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Build the oracle; returns the path of the binary and a cleanup function. */
export function buildOracle(): { path: string; cleanup: () => void } {
  return buildNativeHelper('oracle');
}

export function runNative(oracle: string, cases: readonly NativeCase[]): NativeResult[] {
  const input = cases
    .map((c) => {
      const hex = Buffer.from(c.code).toString('hex');
      const regs = c.regs.map((r) => BigInt.asUintN(64, r).toString(16)).join(' ');
      return `${hex} ${regs} ${c.rflags.toString(16)}`;
    })
    .join('\n') + '\n';
  const out = execFileSync(oracle, { input, maxBuffer: 64 << 20 }).toString().trim().split('\n');
  if (out.length !== cases.length) throw new Error(`oracle returned ${out.length} lines for ${cases.length} cases`);
  return out.map((line) => {
    if (line.startsWith('SIGNAL')) return { signal: Number(line.split(' ')[1]) };
    const parts = line.split(' ');
    return { regs: parts.slice(0, 16).map((h) => BigInt('0x' + h)), rflags: parseInt(parts[16]!, 16) };
  });
}
