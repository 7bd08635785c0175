// --trace: what happens, step by step, in the spirit of qemu's -d (docs/cli.md, "Tracing").
// A Tracer is a RunObserver: runners call it at faults and kernel decisions, and on attach it
// installs the MMU observer (mmu, rmp) and the CPU's instruction hook (insn). With no --trace,
// no Tracer exists, so no observer is installed and the fast paths stay untouched.

import { closeSync, openSync, writeSync } from 'node:fs';
import type { Machine } from '../machine.ts';
import type { MmuObserver } from '../mmu/walk-trace.ts';
import type { RunObserver } from '../scenario/machine-setup.ts';
import type { FaultRecord, KernelRecord } from '../scenario/record.ts';
import { UsageError } from './args.ts';
import { InputError } from '../scenario/errors.ts';
import { adLine, rmpLine, walkOneLine } from './format-walk.ts';
import { hex16, InsnTracer } from './trace-insn.ts';

export const TRACE_KINDS = ['insn', 'mmu', 'rmp', 'fault', 'kernel'] as const;
export type TraceKind = (typeof TRACE_KINDS)[number];

export function parseTraceKinds(text: string, command: string): Set<TraceKind> {
  const kinds = new Set<TraceKind>();
  for (const raw of text.split(',')) {
    const k = raw.trim();
    if (k === 'all') TRACE_KINDS.forEach((x) => kinds.add(x));
    else if ((TRACE_KINDS as readonly string[]).includes(k)) kinds.add(k as TraceKind);
    else throw new UsageError(`unknown trace kind "${k}"; kinds are ${TRACE_KINDS.join(', ')}, all`, command);
  }
  return kinds;
}

const h = (v: number | bigint): string => `0x${v.toString(16)}`;

/** Where trace lines go: standard error, or a file. */
export class TraceSink {
  private readonly fd: number;
  private readonly owned: boolean;
  /** Set when a write failed: later lines are dropped. */
  private stopped = false;
  /** The failure to report at close(), or null (none, or a closed pipe). */
  private writeError: string | null = null;

  constructor(readonly json: boolean, private readonly path?: string) {
    if (path === undefined) {
      this.fd = 2;
      this.owned = false;
    } else {
      try {
        this.fd = openSync(path, 'w');
      } catch (e) {
        throw new UsageError(`cannot write trace file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      this.owned = true;
    }
  }

  /** One trace record: JSON Lines with --json, else `kind  text`. */
  emit(kind: TraceKind | 'event', text: string, data: Record<string, unknown>): void {
    const line = this.json
      ? JSON.stringify({ trace: kind, ...data }, (_k, v) => (typeof v === 'bigint' ? h(BigInt.asUintN(64, v)) : v))
      : `${kind.padEnd(6)} ${text}`;
    if (this.stopped) return;
    try {
      writeSync(this.fd, `${line}\n`);
    } catch (e) {
      // The trace cannot go on, but the run can: a closed pipe (`2>&1 | head`) ends the trace
      // quietly and the run keeps its own status; any other failure (ENOSPC, EACCES, EIO) is
      // reported by close() as one line, exit 2, once the run is over.
      this.stopped = true;
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EPIPE') this.writeError = `${code ?? ''}${code !== undefined ? ' ' : ''}(${(e as Error).message.replace(/^\w+: /, '').replace(/, write$/, '')})`;
    }
  }

  close(): void {
    if (this.owned) closeSync(this.fd);
    if (this.writeError !== null) {
      const error = new InputError(this.path ?? '<stderr>', '', this.writeError);
      // One line without a "see --help": this is an I/O failure, not a usage mistake.
      error.message = `cannot write ${this.path === undefined ? 'the trace to standard error' : `trace file ${this.path}`}: ${this.writeError}`;
      throw error;
    }
  }
}

export class Tracer implements RunObserver {
  private insn: InsnTracer | null = null;

  constructor(readonly kinds: ReadonlySet<TraceKind>, readonly sink: TraceSink) {}

  attach(machine: Machine): void {
    const k = this.kinds;
    if (k.has('mmu') || k.has('rmp')) {
      const sink = this.sink;
      const observer: MmuObserver = {};
      if (k.has('mmu')) {
        observer.walk = (t) => sink.emit('mmu', walkOneLine(t), { type: 'walk', ...t, rmpChecks: undefined });
        observer.tlb = (e) => sink.emit('mmu', `tlb ${e.hit ? 'hit ' : 'miss'} ${['read', 'write', 'fetch'][e.access]} ${h(BigInt.asUintN(64, e.linearAddress))}`, { type: 'tlb', ...e });
        observer.adWrite = (a) => sink.emit('mmu', adLine(a), { type: 'ad-write', ...a });
      }
      if (k.has('rmp')) observer.rmpCheck = (c) => sink.emit('rmp', rmpLine(c), { type: 'check', ...c });
      machine.mmu.observer = observer;
    }
    if (k.has('insn')) {
      this.insn = new InsnTracer(machine, this.sink);
      this.insn.attach();
    }
  }

  detach(machine: Machine): void {
    if (this.kinds.has('mmu') || this.kinds.has('rmp')) machine.mmu.observer = null;
    this.insn?.detach();
    this.insn = null;
  }

  /**
   * One line per exception, in the manner of qemu's -d int ("v=0e e=0007 i=0 cpl=3 IP=...
   * CR2=..."): vector and error code in hex, the privilege level, RIP and CR2, then why.
   */
  fault(f: FaultRecord): void {
    if (!this.kinds.has('fault')) return;
    const cpl = f.cpl ?? (f.kernelMode ? 0 : 3);
    const who = f.kernelMode ? ' (kernel access for a syscall)' : '';
    const text = `v=${f.vector.toString(16).padStart(2, '0')} e=${f.errorCode.toString(16).padStart(4, '0')} cpl=${cpl}${who} ` +
      `IP=${hex16(f.rip)} CR2=${hex16(f.address)}${f.rmp ? ' RMP' : ''}: ${f.why}`;
    this.sink.emit('fault', text, { ...f, cpl });
  }

  kernel(k: KernelRecord): void {
    if (!this.kinds.has('kernel')) return;
    this.sink.emit('kernel', `${k.action} at ${h(BigInt.asUintN(64, k.address))}: ${k.why}`, { ...k });
  }

  event(text: string): void {
    if (this.kinds.has('kernel') || this.kinds.has('rmp')) this.sink.emit('event', text, { text });
  }
}
