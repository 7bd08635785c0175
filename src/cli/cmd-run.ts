// `snpemu run PROGRAM [ARGS]` and `snpemu run --raw FILE --at ADDR`: a static ELF (or assembly
// source, or raw code) as a user process of the emulated Linux host. The exit status is the
// program's, or 128+signal number when a signal ends it, as a shell reports it.

import { readFileSync } from 'node:fs';
import { flag, optionValue, parseArgs, UsageError, type Parsed } from './args.ts';
import { out, tracerFrom, TRACE_OPTIONS } from './common.ts';
import { DEFAULT_MACHINE_FEATURES, Machine } from '../machine.ts';
import { Kernel, KernelSetupError } from '../kernel/kernel.ts';
import { ElfError } from '../kernel/elf.ts';
import type { RunResult } from '../kernel/types.ts';
import { AssemblerError, assembleProgram } from '../scenario/assemble.ts';
import { InputError } from '../scenario/errors.ts';
import { parseInteger } from '../scenario/numbers.ts';
import { errorCodeBits } from '../scenario/result.ts';
import type { Tracer } from './trace.ts';
import { unsupportedInstruction } from '../scenario/unsupported.ts';
import { syscallNoteTrace } from '../scenario/syscall-notes.ts';
import { VECTOR_NAMES } from '../cpu/fault.ts';

const SIGNALS: Record<string, number> = { SIGILL: 4, SIGTRAP: 5, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGSEGV: 11 };

function readInput(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(path, '', code === 'ENOENT' ? `no such file (the ${what})` : code === 'EISDIR' ? 'is a directory' : `cannot read: ${(e as Error).message}`);
  }
}

function sizeOption(p: Parsed, name: string, dflt: number, min: number): number {
  const text = optionValue(p, name);
  if (text === undefined) return dflt;
  const v = parseInteger(text);
  if (v === undefined || v < BigInt(min) || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new UsageError(`--${name} needs a number like 64M or 100000, got "${text}"`, 'run');
  }
  return Number(v);
}

function readStdin(): Uint8Array {
  if (process.stdin.isTTY) return new Uint8Array(0);
  try {
    return new Uint8Array(readFileSync(0));
  } catch {
    return new Uint8Array(0);
  }
}

export async function commandRun(argv: string[]): Promise<number> {
  const p = parseArgs(argv, {
    ...TRACE_OPTIONS,
    raw: { value: true }, at: { value: true }, kernel: { value: true }, memory: { value: true },
    'no-snp': { value: false }, 'max-instructions': { value: true },
  }, 'run', true);
  const policy = optionValue(p, 'kernel') ?? 'v7';
  if (policy !== 'v7' && policy !== 'mainline') throw new UsageError(`--kernel must be v7 or mainline, got "${policy}"`, 'run');
  const memoryBytes = sizeOption(p, 'memory', 64 << 20, 1 << 20);
  if (memoryBytes % 4096 !== 0) throw new UsageError('--memory must be a multiple of 4K', 'run');
  const maxInstructions = sizeOption(p, 'max-instructions', DEFAULT_MAX_INSTRUCTIONS, 1);
  const raw = optionValue(p, 'raw');
  const atText = optionValue(p, 'at');
  if ((raw === undefined) !== (atText === undefined)) throw new UsageError('--raw FILE and --at ADDRESS go together', 'run');
  if (raw === undefined && p.positionals.length === 0) throw new UsageError('no program given', 'run');
  if (raw !== undefined && p.positionals.length > 0) throw new UsageError(`--raw runs raw code; unexpected argument "${p.positionals[0]}"`, 'run');

  const tracer = tracerFrom(p, 'run');
  const machine = new Machine({
    memoryBytes, snp: !flag(p, 'no-snp'), features: DEFAULT_MACHINE_FEATURES, quirks: { hostChecksImmutable: false }, rmpWalkReads: true,
  });
  const kernel = new Kernel(machine, {
    policy,
    trace: tracer === undefined ? undefined : { decision: (d) => tracer.kernel(d), syscall: syscallNoteTrace(machine, (k) => tracer.kernel(k)) },
  });
  const stdin = readStdin();
  try {
    if (raw !== undefined) {
      const at = parseInteger(atText);
      if (at === undefined || at >= 2n ** 47n) throw new UsageError(`--at needs a user address below 0x800000000000, got "${atText}"`, 'run');
      const code = readInput(raw, 'raw code');
      if (code.length === 0) throw new InputError(raw, '', 'the file is empty: no code to run');
      const start = Number(at) - (Number(at) % 4096);
      const size = Math.ceil((Number(at) + code.length - start) / 4096) * 4096;
      const bytes = new Uint8Array(size);
      bytes.set(code, Number(at) - start);
      kernel.createProcess({
        regions: [{ name: 'code', at: start, size, prot: { read: true, write: false, exec: true }, bytes }],
        entry: at,
        stdin,
      });
    } else {
      const [program, ...args] = p.positionals as [string, ...string[]];
      let image: Uint8Array;
      if (/\.(s|asm)$/.test(program)) {
        readInput(program, 'program'); // a clear "no such file" before any assembler runs
        try {
          image = assembleProgram(program);
        } catch (e) {
          if (e instanceof AssemblerError) throw new InputError(program, '', e.message);
          throw e;
        }
      } else {
        image = readInput(program, 'program');
      }
      try {
        kernel.loadElf(image, [program, ...args], [], stdin);
      } catch (e) {
        if (e instanceof ElfError) throw new InputError(program, '', `not a runnable static ELF64 program: ${e.message}`);
        throw e;
      }
    }
  } catch (e) {
    if (e instanceof KernelSetupError) throw new InputError(raw ?? p.positionals[0]!, '', e.message);
    throw e;
  }
  return finish(kernel, machine, maxInstructions, tracer, flag(p, 'json'), raw ?? p.positionals[0]!);
}

/** The default --max-instructions: about ten seconds at ~100 M instructions/s, so a program that loops forever ends soon. */
export const DEFAULT_MAX_INSTRUCTIONS = 1_000_000_000;

const hexAddr = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;

/**
 * The exception behind a signal, named once: "#DE at RIP 0x401002", "#GP(0x10) at RIP ...",
 * "#PF error 0x7 (P|W|U) CR2 0x401000 at RIP ...". The kernel's message repeats the signal and,
 * for non-#PF faults, the exception; both prefixes are dropped so that each is said once.
 */
function signalSentence(o: RunResult['outcome'], last: RunResult['faults'][number] | undefined): string {
  const reason = o.message.replace(/^SIG\w+ \(\w+\) at 0x[0-9a-f]+: /, '').replace(/^#\w+ at RIP 0x[0-9a-f]+: /, '');
  const killed = `the program was killed by ${o.signal}${o.siCode ? ` (${o.siCode})` : ''}`;
  if (last === undefined) return `${killed}: ${reason}`;
  const name = `#${VECTOR_NAMES[last.vector] ?? last.vector}`;
  const exception = last.vector === 14
    ? `${name} error ${errorCodeBits(14, last.errorCode)} CR2 ${hexAddr(last.address)}`
    : last.errorCode !== 0 ? `${name}(${hexAddr(BigInt(last.errorCode))})` : name;
  return `${killed}: ${exception} at RIP ${hexAddr(last.rip)}: ${reason}`;
}

function finish(kernel: Kernel, machine: Machine, maxInstructions: number, tracer: Tracer | undefined, json: boolean, source: string): number {
  tracer?.attach(machine);
  let result: RunResult;
  try {
    result = kernel.run({ maxInstructions, maxFaults: 1_000_000, hooks: tracer === undefined ? {} : { onFault: (_n, f) => tracer.fault(f) } });
  } finally {
    tracer?.detach(machine);
    tracer?.sink.close();
  }
  const o = result.outcome;
  const last = result.faults[result.faults.length - 1];
  // An instruction outside the subset is bad input, not the program's SIGILL (scenario/unsupported.ts).
  const unsupported = unsupportedInstruction(machine, last);
  if (unsupported !== null) {
    if (!json) {
      // What the program wrote before it reached the instruction still reaches the user.
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      throw new InputError(source, '', unsupported.message);
    }
    out(JSON.stringify({ error: { kind: 'unsupported-instruction', rip: unsupported.rip, instruction: unsupported.text, message: unsupported.message } }));
    return 2;
  }
  if (json) {
    out(JSON.stringify({
      outcome: result.outcome, faults: result.faults, kernel: result.kernel, stdout: result.stdout, stderr: result.stderr,
      regs: result.regs, stats: result.stats,
    }, (_k, v) => (typeof v === 'bigint' ? hexAddr(v) : v)));
  } else {
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
  }
  switch (o.kind) {
    case 'exit':
      return o.exitCode ?? 0;
    case 'signal':
      if (!json) process.stderr.write(`snpemu: ${signalSentence(o, last)}\n`);
      return 128 + (o.signo ?? SIGNALS[o.signal ?? ''] ?? 0);
    default:
      if (!json) {
        const outOfBudget = o.kind === 'limit' && result.stats.instructions >= maxInstructions;
        process.stderr.write(outOfBudget
          ? `snpemu: stopped after ${maxInstructions} instructions without the program exiting (a loop that never ends?); raise the limit with --max-instructions N\n`
          // livelock, oops, other limits: the run could not finish; say why.
          : `snpemu: ${o.kind}: ${o.message}\n`);
      }
      return 1;
  }
}
