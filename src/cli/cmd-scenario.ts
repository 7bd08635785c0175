// `snpemu scenario FILE...` (spec/scenario.md): load and validate every file first (any input
// error: report it, run nothing, exit 2), then run each, check `expect`, print a readable report or
// JSON Lines. Exit 0 when every expectation held, 1 otherwise.

import { flag, parseArgs, UsageError } from './args.ts';
import { out, reportError, tracerFrom, TRACE_OPTIONS } from './common.ts';
import { InputError } from '../scenario/errors.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { formatReport } from '../scenario/result.ts';
import { runScenario } from '../scenario/run.ts';
import type { Scenario } from '../scenario/types.ts';

export function inputErrorJson(e: InputError): string {
  return JSON.stringify({ file: e.file, error: { path: e.jsonPath, problem: e.problem, message: e.message } });
}

export async function commandScenario(argv: string[]): Promise<number> {
  const p = parseArgs(argv, { ...TRACE_OPTIONS }, 'scenario');
  if (p.positionals.length === 0) throw new UsageError('no scenario files given', 'scenario');
  const json = flag(p, 'json');
  const tracer = tracerFrom(p, 'scenario');

  const scenarios: Scenario[] = [];
  const errors: InputError[] = [];
  for (const file of p.positionals) {
    try {
      scenarios.push(loadScenarioFile(file));
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
    for (const s of scenarios) {
      let result;
      try {
        result = runScenario(s, { observer: tracer }).result;
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        inputErrors++;
        if (json) out(inputErrorJson(e));
        else reportError(e);
        continue;
      }
      if (!result.expect.passed) failed++;
      if (json) out(JSON.stringify(result));
      else out(`${formatReport(result)}\n`);
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
