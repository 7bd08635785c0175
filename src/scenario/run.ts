// Running a loaded scenario: build its machine, run it under its kernel policy, check `expect`, and
// shape the result of spec/scenario.md ("Result"). Input errors found while building or running
// (an `rmp` page that is not mapped, an RMPUPDATE the hardware would reject) throw InputError.

import type { Machine } from '../machine.ts';
import { checkExpectations, type ExpectContext } from './expect.ts';
import { toResult, type ScenarioResult } from './result.ts';
import type { RunRecord } from './record.ts';
import type { Scenario } from './types.ts';
import type { AddressValue } from './numbers.ts';
import { buildNone, runNone } from './run-none.ts';
import { buildProcess, runProcess } from './run-kernel.ts';
import type { RunObserver } from './machine-setup.ts';
import { InputError } from './errors.ts';
import { unsupportedInstruction } from './unsupported.ts';

export interface RunOptions {
  observer?: RunObserver;
}

export interface ScenarioRun {
  result: ScenarioResult;
  record: RunRecord;
}

/** A scenario's machine, built and ready for its first instruction. */
export interface PreparedScenario {
  scenario: Scenario;
  machine: Machine;
  /** A value with symbols resolved (virtual addresses of process regions). */
  resolve(v: AddressValue): bigint;
  /** The privilege the scenario's code runs at (3 for a process). */
  cpl: number;
  run(observer?: RunObserver): RunRecord;
  expectContext(): ExpectContext;
}

export function prepareScenario(s: Scenario): PreparedScenario {
  if (s.kernel === 'none') {
    const built = buildNone(s);
    const phys = built.machine.phys;
    return {
      scenario: s,
      machine: built.machine,
      resolve: (v) => (typeof v === 'bigint' ? v : 0n),
      cpl: s.cpu!.cpl,
      run: (obs) => runNone(s, built, obs),
      // Under kernel none, expect.memory addresses are physical (spec/scenario.md).
      expectContext: () => ({ resolve: (v) => (typeof v === 'bigint' ? v : 0n), readMemory: (a, n) => phys.readBytes(Number(a), n) }),
    };
  }
  const built = buildProcess(s);
  return {
    scenario: s,
    machine: built.machine,
    resolve: built.resolve,
    cpl: 3,
    run: (obs) => runProcess(s, built, obs),
    expectContext: built.expectContext,
  };
}

/** Build, run and check one scenario (the library entry point behind `snpemu scenario`). */
export function runScenario(s: Scenario, options: RunOptions = {}): ScenarioRun {
  const prepared = prepareScenario(s);
  const record = prepared.run(options.observer);
  // An instruction outside the emulated subset is bad input, not hardware #UD (unsupported.ts).
  const unsupported = unsupportedInstruction(prepared.machine, record.faults[record.faults.length - 1]);
  if (unsupported !== null) throw new InputError(s.file, '', unsupported.message);
  const mismatches = checkExpectations(s.expect, record, prepared.expectContext());
  return { result: toResult(s, record, mismatches), record };
}
