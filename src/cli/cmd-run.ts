// `snpemu run PROGRAM [ARGS]` and `snpemu run --raw FILE --at ADDR`: a static ELF (or assembly
// source, or raw code) as a user process of the emulated Linux host. The exit status is the
// program's, or 128+signal number when a signal ends it, as a shell reports it.

import { readFileSync } from 'node:fs';
import { flag, optionValue, parseArgs, UsageError, type Parsed } from './args.ts';
import { out, tracerFrom, TRACE_OPTIONS } from './common.ts';
import { Machine } from '../machine.ts';
import { Kernel, KernelSetupError } from '../kernel/kernel.ts';
import { ElfError } from '../kernel/elf.ts';
import type { RunResult } from '../kernel/types.ts';
import { AssemblerError, assembleProgram } from '../scenario/assemble.ts';
import { InputError } from '../scenario/errors.ts';
import { parseInteger } from '../scenario/numbers.ts';
import { errorCodeBits } from '../scenario/result.ts';
import { DEFAULT_FEATURES } from '../scenario/load-machine.ts';
import type { Tracer } from './trace.ts';
import { disassembleOne } from './trace-insn.ts';
import { readLinear } from '../scenario/lookup.ts';

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
  const maxInstructions = sizeOption(p, 'max-instructions', 10_000_000_000, 1);
  const raw = optionValue(p, 'raw');
  const atText = optionValue(p, 'at');
  if ((raw === undefined) !== (atText === undefined)) throw new UsageError('--raw FILE and --at ADDRESS go together', 'run');
  if (raw === undefined && p.positionals.length === 0) throw new UsageError('no program given', 'run');
  if (raw !== undefined && p.positionals.length > 0) throw new UsageError(`--raw runs raw code; unexpected argument "${p.positionals[0]}"`, 'run');

  const tracer = tracerFrom(p, 'run');
  const machine = new Machine({
    memoryBytes, snp: !flag(p, 'no-snp'), features: DEFAULT_FEATURES, quirks: { hostChecksImmutable: false }, rmpWalkReads: true,
  });
  const kernel = new Kernel(machine, {
    policy,
    trace: tracer === undefined ? undefined : { decision: (d) => tracer.kernel(d) },
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
  return finish(kernel, machine, maxInstructions, tracer, flag(p, 'json'));
}

/**
 * A #UD that killed the program on an instruction iced-x86 decodes as valid (and that is not one
 * of the UD instructions) is an instruction outside snpemu's subset: bad input for the emulator,
 * not a bug of the program, so it is reported as such (exit 2).
 */
function unsupportedInstruction(result: RunResult, machine: Machine): { where: string; message: string } | null {
  if (result.outcome.kind !== 'signal' || result.outcome.signal !== 'SIGILL') return null;
  const f = result.faults[result.faults.length - 1];
  if (f === undefined || f.vector !== 6) return null;
  const cr3 = Number(machine.cpu.cr3 & 0xffffffffff000n);
  const bytes = readLinear(machine.phys, cr3, Number(BigInt.asUintN(48, f.rip)), 15);
  if (typeof bytes === 'string') return null;
  const text = disassembleOne(bytes, f.rip);
  if (text === null || /^ud[012]\b/.test(text)) return null;
  const rip = `0x${BigInt.asUintN(64, f.rip).toString(16)}`;
  return { where: rip, message: `unsupported instruction "${text}" at ${rip}: valid x86-64, but outside the subset snpemu emulates (docs/cli.md)` };
}

function finish(kernel: Kernel, machine: Machine, maxInstructions: number, tracer: Tracer | undefined, json: boolean): number {
  tracer?.attach(machine);
  let result: RunResult;
  try {
    result = kernel.run({ maxInstructions, maxFaults: 1_000_000, hooks: tracer === undefined ? {} : { onFault: (_n, f) => tracer.fault(f) } });
  } finally {
    tracer?.detach(machine);
    tracer?.sink.close();
  }
  if (json) {
    out(JSON.stringify({
      outcome: result.outcome, faults: result.faults, kernel: result.kernel, stdout: result.stdout, stderr: result.stderr,
      regs: result.regs, stats: result.stats,
    }, (_k, v) => (typeof v === 'bigint' ? `0x${BigInt.asUintN(64, v).toString(16)}` : v)));
  } else {
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
  }
  const o = result.outcome;
  const unsupported = unsupportedInstruction(result, machine);
  if (unsupported !== null) throw new InputError(unsupported.where, '', unsupported.message);
  switch (o.kind) {
    case 'exit':
      return o.exitCode ?? 0;
    case 'signal': {
      const last = result.faults[result.faults.length - 1];
      const fault = last === undefined ? '' : ` after #PF ${errorCodeBits(last.vector, last.errorCode)} at 0x${BigInt.asUintN(64, last.address).toString(16)}`;
      if (!json) process.stderr.write(`snpemu: the program was killed by ${o.signal}${o.siCode ? ` (${o.siCode})` : ''}${fault}: ${o.message}\n`);
      return 128 + (o.signo ?? SIGNALS[o.signal ?? ''] ?? 0);
    }
    default:
      // livelock, oops, limit: the run could not finish; say why.
      if (!json) process.stderr.write(`snpemu: ${o.kind}: ${o.message}\n`);
      return 1;
  }
}
