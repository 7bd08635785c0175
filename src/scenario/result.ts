// The result object of spec/scenario.md, "Result (--json)", and its readable form.
// Numbers that can exceed 2^53 (addresses, RIP, registers) are hex strings; vectors, error codes
// (32-bit) and counts are JSON numbers. Additions to the spec's shape: `file`, `policy` (the
// kernel policy that ran), `stderr` and `setup` (where page tables and regions went).

import { VECTOR_NAMES } from '../cpu/fault.ts';
import { hex } from './numbers.ts';
import type { RunRecord } from './record.ts';
import type { Scenario } from './types.ts';

const u64hex = (v: bigint): string => hex(BigInt.asUintN(64, v));

export interface ScenarioResult {
  name: string;
  file: string;
  policy: string;
  outcome: { kind: string; exitCode?: number; signal?: string; siCode?: string; siAddr?: string; message: string };
  faults: { vector: number; errorCode: number; address: string; rip: string; rmp: boolean; why: string }[];
  kernel: { action: string; address: string; why: string }[];
  regs: Record<string, string>;
  stdout: string;
  stderr: string;
  stats: RunRecord['stats'];
  setup: { cr3?: string; pageTables?: string[]; regions?: { name: string; va: string; pa: string | null }[] };
  expect: { passed: boolean; mismatches: string[] };
}

export function toResult(scenario: Scenario, run: RunRecord, mismatches: string[]): ScenarioResult {
  const o = run.outcome;
  const outcome: ScenarioResult['outcome'] = { kind: o.kind, message: '' };
  if (o.exitCode !== undefined) outcome.exitCode = o.exitCode;
  if (o.signal !== undefined) outcome.signal = o.signal;
  if (o.siCode !== undefined) outcome.siCode = o.siCode;
  if (o.siAddr !== undefined) outcome.siAddr = u64hex(o.siAddr);
  outcome.message = o.message;
  const regs: Record<string, string> = {};
  for (const [name, v] of Object.entries(run.regs)) if (v !== undefined) regs[name] = u64hex(v);
  const setup: ScenarioResult['setup'] = {};
  if (run.setup.cr3 !== undefined) setup.cr3 = hex(run.setup.cr3);
  if (run.setup.pageTables !== undefined) setup.pageTables = run.setup.pageTables.map((p) => hex(p));
  if (run.setup.regions !== undefined) {
    setup.regions = run.setup.regions.map((r) => ({ name: r.name, va: hex(r.va), pa: r.pa === null ? null : hex(r.pa) }));
  }
  return {
    name: scenario.name,
    file: scenario.file,
    policy: scenario.kernel,
    outcome,
    faults: run.faults.map((f) => ({
      vector: f.vector, errorCode: f.errorCode, address: u64hex(f.address), rip: u64hex(f.rip), rmp: f.rmp, why: f.why,
    })),
    kernel: run.kernel.map((k) => ({ action: k.action, address: u64hex(k.address), why: k.why })),
    regs,
    stdout: run.stdout,
    stderr: run.stderr,
    stats: run.stats,
    setup,
    expect: { passed: mismatches.length === 0, mismatches },
  };
}

/** #PF error-code bits by name (AMD APM Vol.2 §8.4.2), for the readable report. */
export function errorCodeBits(vector: number, code: number): string {
  if (vector !== 14) return hex(code);
  const names: string[] = [];
  names.push(code & 1 ? 'P' : 'not-present');
  if (code & 2) names.push('W');
  if (code & 4) names.push('U');
  if (code & 8) names.push('RSVD');
  if (code & 16) names.push('I/D');
  if (code & 32) names.push('PK');
  if (code & 0x80000000) names.push('RMP');
  return `${hex(code)} (${names.join('|')})`;
}

function outcomeText(o: ScenarioResult['outcome']): string {
  switch (o.kind) {
    case 'exit': return `exit ${o.exitCode}`;
    case 'signal': return `${o.signal}${o.siCode ? ` (${o.siCode}` : ''}${o.siAddr ? ` at ${o.siAddr})` : o.siCode ? ')' : ''}`;
    default: return o.kind;
  }
}

/** The readable report of one result (what `snpemu scenario` prints without --json). */
export function formatReport(r: ScenarioResult): string {
  const lines: string[] = [];
  lines.push(`${r.expect.passed ? 'PASS' : 'FAIL'}  ${r.name}`);
  lines.push(`      ${r.file}`);
  const s = r.stats;
  // An oops message is the kernel's multi-line log: indent it under the outcome.
  lines.push(`  kernel ${r.policy}: ${outcomeText(r.outcome)} — ${r.outcome.message.replace(/\n/g, '\n      | ')}`);
  lines.push(`  ${s.instructions} instructions, ${s.walks} walks, ${s.tlbHits} TLB hits, ${s.tlbMisses} misses, ${s.rmpChecks} RMP checks`);
  r.faults.forEach((f, i) => {
    lines.push(`  fault ${i + 1}: #${VECTOR_NAMES[f.vector] ?? f.vector} error ${errorCodeBits(f.vector, f.errorCode)}${f.vector === 14 ? ` CR2=${f.address}` : ''} RIP=${f.rip}`);
    if (f.why) lines.push(`           ${f.why}`);
  });
  r.kernel.forEach((k, i) => {
    lines.push(`  kernel ${i + 1}: ${k.action} at ${k.address}`);
    if (k.why) lines.push(`           ${k.why}`);
  });
  if (r.stdout !== '') lines.push(`  stdout: ${JSON.stringify(r.stdout)}`);
  if (r.stderr !== '') lines.push(`  stderr: ${JSON.stringify(r.stderr)}`);
  for (const m of r.expect.mismatches) lines.push(`  MISMATCH ${m}`);
  return lines.join('\n');
}
