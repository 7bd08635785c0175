// `snpemu scenario FILE...` (spec/scenario.md): load and validate every file first (any input
// error: report it, run nothing, exit 2), then run each, check `expect`, print a readable report or
// JSON Lines. Exit 0 when every expectation held, 1 otherwise.

import { flag, parseArgs, UsageError } from './args.ts';
import { out, reportError, tracerFrom, TRACE_OPTIONS } from './common.ts';
import { InputError } from '../scenario/errors.ts';
import { readJsonFile, scenarioFromJson } from '../scenario/load.ts';
import { formatReport } from '../scenario/result.ts';
import { runScenario } from '../scenario/run.ts';
import type { Scenario } from '../scenario/types.ts';
import { parseGuestScenario, runGuestScenario } from '../guest/scenario-run.ts';
import type { GuestScenario } from '../guest/scenario.ts';
import { formatGuestReport, isGuestScenarioJson } from '../guest/report.ts';
import { guestTraceObserver } from './trace-guest.ts';

/** A host scenario (process or bare CPU), or a guest scenario (a `guest` section, docs/guest.md). */
type Loaded = { kind: 'host'; scenario: Scenario } | { kind: 'guest'; scenario: GuestScenario };

function loadAny(file: string): Loaded {
  const json = readJsonFile(file);
  return isGuestScenarioJson(json)
    ? { kind: 'guest', scenario: parseGuestScenario(json, file) }
    : { kind: 'host', scenario: scenarioFromJson(json, file) };
}

export function inputErrorJson(e: InputError): string {
  return JSON.stringify({ file: e.file, error: { path: e.jsonPath, problem: e.problem, message: e.message } });
}

export async function commandScenario(argv: string[]): Promise<number> {
  const p = parseArgs(argv, { ...TRACE_OPTIONS }, 'scenario');
  if (p.positionals.length === 0) throw new UsageError('no scenario files given', 'scenario');
  const json = flag(p, 'json');
  const tracer = tracerFrom(p, 'scenario');

  const scenarios: Loaded[] = [];
  const errors: InputError[] = [];
  for (const file of p.positionals) {
    try {
      scenarios.push(loadAny(file));
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      errors.push(e);
    }
  }
  if (errors.length > 0) {
    for (const e of errors) {
      if (json) out(inputErrorJson(e));
      else reportError(e);
    }
    if (!json && scenarios.length + errors.length > 1) process.stderr.write(`snpemu: ${errors.length} input error(s); no scenario was run\n`);
    return 2;
  }

  let failed = 0;
  let inputErrors = 0;
  try {
    for (const loaded of scenarios) {
      let passed: boolean;
      let line: string;
      let report: string;
      try {
        if (loaded.kind === 'host') {
          const result = runScenario(loaded.scenario, { observer: tracer }).result;
          [passed, line, report] = [result.expect.passed, JSON.stringify(result), formatReport(result)];
        } else {
          // Guest runs have their own machine and runner; --trace reaches them through the guest
          // runner's observer (src/cli/trace-guest.ts).
          const observer = tracer === undefined ? undefined : guestTraceObserver(tracer.kinds, tracer.sink, loaded.scenario);
          const result = runGuestScenario(loaded.scenario, { observer });
          [passed, line, report] = [result.expect.passed, JSON.stringify(result), formatGuestReport(result)];
        }
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        inputErrors++;
        if (json) out(inputErrorJson(e));
        else reportError(e);
        continue;
      }
      if (!passed) failed++;
      out(json ? line : `${report}\n`);
    }
  } finally {
    tracer?.sink.close();
  }
  if (!json) {
    const ran = scenarios.length - inputErrors;
    out(`${ran - failed} of ${scenarios.length} scenario(s) passed${failed > 0 ? `, ${failed} failed` : ''}${inputErrors > 0 ? `, ${inputErrors} had input errors` : ''}`);
  }
  return inputErrors > 0 ? 2 : failed > 0 ? 1 : 0;
}
