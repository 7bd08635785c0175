// `snpemu snippet --batch` and the single-case entry point the library API reuses.

import { caseFromRecord, isCaseError, parseCaseLine, type SnippetCase, type SnippetCaseError } from './case.ts';
import { formatResult, type SnippetResult } from './result.ts';
import { DEFAULT_STEP_LIMIT, SnippetMachine, type SnippetOptions } from './runner.ts';

// One machine per step limit, built on first use and reused by every later case.
const machines = new Map<number, SnippetMachine>();

function machineFor(options: SnippetOptions): SnippetMachine {
  const limit = options.stepLimit ?? DEFAULT_STEP_LIMIT;
  let m = machines.get(limit);
  if (m === undefined) {
    m = new SnippetMachine({ stepLimit: limit });
    machines.set(limit, m);
  }
  return m;
}

/**
 * Run one case. `input` is a parsed SnippetCase, or a record in the JSON shape of spec/snippet.md
 * (`{ id, code: "hex", regs: { rax: "0x1" }, rflags, mem }`).
 */
export function runSnippet(input: SnippetCase | Record<string, unknown>, options: SnippetOptions = {}): SnippetResult {
  const c: SnippetCase | SnippetCaseError = input.code instanceof Uint8Array ? (input as SnippetCase) : caseFromRecord(input);
  if (isCaseError(c)) return c;
  return machineFor(options).run(c);
}

/** Run one input line and return its output line (without the newline). */
export function runSnippetLine(line: string, options: SnippetOptions = {}): string {
  const c = parseCaseLine(line);
  return formatResult(isCaseError(c) ? c : machineFor(options).run(c));
}

async function* linesOf(input: AsyncIterable<string> | Iterable<string> | string): AsyncGenerator<string> {
  if (typeof input === 'string') {
    yield* input.split('\n');
    return;
  }
  // Chunks (e.g. from a stream) need not end at line breaks: split and carry the tail over.
  let tail = '';
  for await (const chunk of input) {
    const parts = (tail + chunk).split('\n');
    tail = parts.pop()!;
    yield* parts;
  }
  if (tail !== '') yield tail;
}

/**
 * The batch runner: JSON Lines in, one JSON line out per case, in input order (spec/snippet.md).
 * `input` is the whole text, or an (async) iterable of text chunks such as `process.stdin` with
 * setEncoding('utf8'). Blank lines are skipped. `write` receives each output line without its
 * newline. Returns the number of cases and how many of them were error lines.
 */
export async function runSnippetBatch(
  input: AsyncIterable<string> | Iterable<string> | string,
  write: (line: string) => void,
  options: SnippetOptions = {},
): Promise<{ cases: number; errors: number }> {
  let cases = 0;
  let errors = 0;
  for await (const raw of linesOf(input)) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    const c = parseCaseLine(line);
    const result = isCaseError(c) ? c : machineFor(options).run(c);
    if ('error' in result) errors++;
    cases++;
    write(formatResult(result));
  }
  return { cases, errors };
}
