// Options shared by several commands: tracing and JSON output.

import { flag, optionValue, UsageError, type OptionSpec, type Parsed } from './args.ts';
import { parseTraceKinds, TraceSink, Tracer } from './trace.ts';

export const TRACE_OPTIONS: Record<string, OptionSpec> = {
  trace: { value: true, repeat: true },
  'trace-file': { value: true },
  json: { value: false },
};

/** The Tracer the options ask for, or undefined (no tracing: nothing is installed). */
export function tracerFrom(p: Parsed, command: string): Tracer | undefined {
  const specs = p.options.get('trace');
  const file = optionValue(p, 'trace-file');
  if (specs === undefined) {
    if (file !== undefined) throw new UsageError('--trace-file needs --trace KINDS', command);
    return undefined;
  }
  const kinds = parseTraceKinds(specs.join(','), command);
  return new Tracer(kinds, new TraceSink(flag(p, 'json'), file));
}

/** Write one line to standard output. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Set by main for --debug: errors that are reported and survived also print their stack. */
export const cliState = { debug: false };

/** Report an input error on standard error (with its stack under --debug). */
export function reportError(e: Error): void {
  process.stderr.write(`snpemu: ${e.message}\n`);
  if (cliState.debug && e.stack) process.stderr.write(`${e.stack}\n`);
}
