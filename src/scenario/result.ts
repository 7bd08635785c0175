// The result object of spec/scenario.md, "Result (--json)", and its readable form.
// Numbers that can exceed 2^53 (addresses, RIP, registers) are hex strings; vectors, error codes
// (32-bit) and counts are JSON numbers. Additions to the spec's shape: `file`, `policy` (the
// kernel policy that ran), `stderr`, `setup` (where page tables and regions went), `events` (the
// scenario events that fired) and `kernel[i].fault` (the fault each decision handled); docs/scenarios.md.
// The readable report is in report.ts.

import { hex } from './numbers.ts';
import type { EventRecord, RunRecord } from './record.ts';
import type { Scenario } from './types.ts';

const u64hex = (v: bigint): string => hex(BigInt.asUintN(64, v));

export interface ScenarioResult {
  name: string;
  file: string;
  policy: string;
  outcome: { kind: string; exitCode?: number; signal?: string; siCode?: string; siAddr?: string; message: string };
  faults: { vector: number; errorCode: number; address: string; rip: string; rmp: boolean; why: string }[];
  kernel: { action: string; address: string; why: string; fault?: number }[];
  /** Present when the scenario has `events`: those that fired, in order. */
  events?: EventRecord[];
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
    kernel: run.kernel.map((k) => ({
      action: k.action, address: u64hex(k.address), why: k.why, ...(k.fault !== undefined ? { fault: k.fault } : {}),
    })),
    ...(run.events !== undefined ? { events: run.events.map((e) => ({ ...e, when: { ...e.when } })) } : {}),
    regs,
    stdout: run.stdout,
    stderr: run.stderr,
    stats: run.stats,
    setup,
    expect: { passed: mismatches.length === 0, mismatches },
  };
}

export { errorCodeBits, formatReport } from './report.ts';
