// The native oracle (design.md, "Oracles we trust", 1): build test/cpu/native/oracle.c with the
// system cc once per test run, feed it register-only snippets with exact initial registers and
// flags, and read back what this machine's CPU produced.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { CODE, flatMachine } from './harness.ts';

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

/**
 * Build the oracle before the file's tests and remove it after (vitest beforeAll/afterAll); returns
 * a function that gives its path.
 */
export function useOracle(): () => string {
  let oracle: { path: string; cleanup: () => void } | undefined;
  beforeAll(() => {
    oracle = buildOracle();
  });
  afterAll(() => oracle?.cleanup());
  return () => oracle!.path;
}

/** The vector a native signal stands for: SIGFPE is #DE, SIGILL is #UD (Linux traps.c). */
const VECTOR_OF_SIGNAL: Record<number, number> = { 8: 0, 4: 6 };

export interface NativeComparison {
  /** One line per disagreement. */
  mismatches: string[];
  /** Cases that faulted natively (and, if they match, in snpemu). */
  faults: number;
}

/**
 * Run each case natively and in snpemu (a flat machine, the code at CODE, RSP = 0x20000), and
 * compare: every register but RSP, and, with `flags`, CF PF AF ZF SF OF DF. A native SIGFPE/SIGILL
 * must be #DE/#UD in snpemu, with no register changed (precise exceptions); any other signal is a
 * mismatch.
 */
export function compareWithNative(
  oraclePath: string, cases: readonly NativeCase[], labels: readonly string[], options: { flags: boolean; maxInstructions?: number },
): NativeComparison {
  const native = runNative(oraclePath, cases);
  const m = flatMachine();
  const mismatches: string[] = [];
  let faults = 0;
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    const n = native[i]!;
    const label = labels[i]!;
    m.phys.writeBytes(CODE, c.code);
    for (let r = 0; r < 16; r++) m.cpu.setReg(r, c.regs[r]!);
    m.cpu.setReg(4, 0x20000n);
    m.cpu.rflags = BigInt(c.rflags);
    m.cpu.rip = BigInt(CODE);
    m.cpu.stopAt = BigInt(CODE + c.code.length);
    const stop = m.cpu.run(options.maxInstructions ?? 100);
    if ('signal' in n) {
      faults++;
      const vector = stop.kind === 'fault' ? stop.fault.vector : -1;
      if (vector !== (VECTOR_OF_SIGNAL[n.signal] ?? -2)) mismatches.push(`${label}: native signal ${n.signal}, snpemu ${stop.kind}`);
      for (let r = 0; r < 16; r++) if (r !== 4 && m.cpu.getReg(r) !== c.regs[r]) mismatches.push(`${label}: the fault changed r${r}`);
      continue;
    }
    if (stop.kind !== 'stop-address') {
      mismatches.push(`${label}: snpemu stopped with ${stop.kind}${stop.kind === 'fault' ? ' ' + stop.fault.why : ''}`);
      continue;
    }
    for (let r = 0; r < 16; r++) {
      if (r === 4) continue;
      const got = m.cpu.getReg(r);
      if (got !== n.regs[r]) mismatches.push(`${label}: r${r} native ${n.regs[r]!.toString(16)} snpemu ${got.toString(16)}`);
    }
    const fl = Number(m.cpu.rflags) & 0xcd5;
    if (options.flags && fl !== n.rflags) mismatches.push(`${label}: flags native ${n.rflags.toString(16)} snpemu ${fl.toString(16)}`);
  }
  return { mismatches, faults };
}
