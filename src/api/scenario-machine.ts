// `Machine.fromScenario`: the scenario's own builder (src/scenario run-none.ts / run-kernel.ts)
// makes the machine, so the facade gets exactly the machine `snpemu scenario` runs; this file only
// keeps what the builder returned and replays the scenario's run (events, expectations) on demand.

import type { Machine as CoreMachine } from '../machine.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { KernelTrace } from '../kernel/types.ts';
import { loadScenario, parseJsonText, readJsonFile } from '../scenario/load.ts';
import { InputError } from '../scenario/errors.ts';
import { isGuestScenarioJson } from '../guest/report.ts';
import { buildNone, runNone, type NoneMachine } from '../scenario/run-none.ts';
import { buildProcess, runProcess, type ProcessMachine } from '../scenario/run-kernel.ts';
import { checkExpectations, type ExpectContext } from '../scenario/expect.ts';
import { toResult, type ScenarioResult } from '../scenario/result.ts';
import type { Scenario } from '../scenario/types.ts';

export type { ScenarioResult };

export interface ScenarioBuild {
  scenario: Scenario;
  core: CoreMachine;
  kernel: Kernel | null;
  /** Region name → virtual and physical address of its first byte (processes only). */
  symbols: Map<string, { va: number; pa: number; size: number }>;
  /** Run the scenario as `snpemu scenario` does: its events, its budgets, its expectations. */
  run(): ScenarioResult;
  /** Connect the facade's kernel trace (decisions and syscalls reach the hooks). */
  attachKernelTrace(trace: KernelTrace): void;
}

/**
 * Read the input as loadScenario does (JSON object, JSON text, or a file path) and refuse a guest
 * scenario (a `guest` section, docs/guest.md): it runs on its own machine (a GuestMachine under the
 * hypervisor model), which the facade does not drive; the guest runner is exported instead.
 */
function readHostScenario(input: unknown, file?: string): Scenario {
  let json: unknown = input;
  let name = file;
  if (typeof input === 'string') {
    if (input.trimStart().startsWith('{')) json = parseJsonText(input, file);
    else {
      name = input;
      json = readJsonFile(input);
    }
  }
  if (isGuestScenarioJson(json)) {
    throw new InputError(name ?? '<inline>', 'guest', 'a guest scenario: Machine.fromScenario builds host machines; run it with runGuestScenario(loadGuestScenario(input)), exported by snpemu (docs/guest.md, "Library")');
  }
  return loadScenario(json, name);
}

/** Parse, validate and build a scenario (JSON object, JSON text, or a file path). Throws InputError. */
export function buildScenario(input: unknown, file?: string): ScenarioBuild {
  const s = readHostScenario(input, file);
  if (s.kernel === 'none') {
    const built: NoneMachine = buildNone(s);
    const phys = built.machine.phys;
    const ctx: ExpectContext = {
      resolve: (v) => (typeof v === 'bigint' ? v : 0n),
      readMemory: (a, n) => phys.readBytes(Number(a), n),
    };
    return {
      scenario: s, core: built.machine, kernel: null, symbols: new Map(),
      run: () => {
        const record = runNone(s, built);
        return toResult(s, record, checkExpectations(s.expect, record, ctx));
      },
      attachKernelTrace: () => {},
    };
  }
  const built: ProcessMachine = buildProcess(s);
  const symbols = new Map<string, { va: number; pa: number; size: number }>();
  for (const r of built.info.symbols.values()) symbols.set(r.name, { va: r.va, pa: r.pa, size: r.size });
  return {
    scenario: s, core: built.machine, kernel: built.kernel, symbols,
    run: () => {
      const record = runProcess(s, built);
      return toResult(s, record, checkExpectations(s.expect, record, built.expectContext()));
    },
    attachKernelTrace: (trace) => built.setKernelTrace(trace),
  };
}
