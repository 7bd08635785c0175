// --trace insn: each instruction with its address, bytes, iced-x86 disassembly and the registers it
// changed.
//
// How it watches: a CPU instruction hook (src/cpu/hooks.ts) fires before each instruction with the
// exact pre-instruction state; the record of an instruction is completed when the next hook fires
// (its registers are then the state after it) or when run() returns. run() is wrapped only for
// that last step: the wrapper calls the original run with the caller's own budget, so the CPU runs
// its normal (checked) loop, with the same blocks, the same fetch translations and the same TLB
// lookups as without the tracer. Retiring one instruction per run(1) call, as an earlier version
// did, re-translated RIP at every instruction (the CPU translates once per block) and so changed the
// run's `tlbHits`; tracing must not change what it traces (test/cli/trace-insn-result.test.ts).
// Instruction bytes are read through a side-effect-free lookup (host: the page tables at CR3, no
// TLB fill, no A/D bits; guest: peekGuestBytes), never through the MMU.
//
// An instruction that raises an exception is shown with "(faulted: not retired)" and the registers
// it did not change. A fault taken while fetching the NEXT instruction (a jump into an unmapped
// page) is shown as its own line for the target, with "(bytes not mapped)". With detach, the hooks
// are removed and the original run() is back: with tracing off nothing is installed.

import type { Machine } from '../machine.ts';
import { loadIced, type Iced } from '../scenario/disassemble.ts';
import { readLinear } from '../scenario/lookup.ts';
import { GPR_NAMES } from '../scenario/types.ts';
import type { TraceSink } from './trace.ts';

/** A 64-bit value as 16 hex digits, as qemu's logs print registers. */
export const hex16 = (v: bigint): string => BigInt.asUintN(64, v).toString(16).padStart(16, '0');

type RunFn = Machine['cpu']['run'];
type Regs = bigint[];

/** The instruction whose hook has fired and whose effect is not yet known. */
interface Pending {
  rip: bigint;
  before: Regs;
  /** cpu.instructions when its hook fired: the count rises past this once it has retired. */
  count: number;
}

const ALL_ADDRESSES = (1n << 64n) - 1n;

export class InsnTracer {
  private original: RunFn | null = null;
  private hookId = -1;
  private formatter: InstanceType<Iced['Formatter']> | null = null;
  private pending: Pending | null = null;

  constructor(
    private readonly machine: Pick<Machine, 'cpu' | 'phys'>,
    private readonly sink: TraceSink,
    /** Side-effect-free reader of code bytes; default: the host page tables at CR3. A guest passes its 2D lookup. */
    private readonly readCode?: (rip: bigint, length: number) => Uint8Array | string,
  ) {}

  attach(): void {
    const cpu = this.machine.cpu;
    const { Formatter, FormatterSyntax } = loadIced();
    this.formatter = new Formatter(FormatterSyntax.Intel);
    this.hookId = cpu.addHook({
      kind: 'instruction', begin: 0n, end: ALL_ADDRESSES,
      callback: (c, rip) => {
        const p = this.pending;
        // The same instruction again with nothing retired: its last attempt faulted and an
        // exception hook asked to retry it.
        if (p !== null) this.finish(p, c.instructions === p.count);
        this.pending = { rip, before: this.registers(), count: c.instructions };
      },
    });
    const original = cpu.run;
    this.original = original;
    const run = (max: number): ReturnType<RunFn> => {
      const stop = original.call(cpu, max);
      this.settle(stop);
      return stop;
    };
    cpu.run = run as RunFn;
  }

  detach(): void {
    const cpu = this.machine.cpu;
    if (this.original !== null) {
      // Deleting the own property exposes the prototype's method again.
      delete (cpu as unknown as Record<string, unknown>).run;
      if (cpu.run !== this.original) cpu.run = this.original;
      this.original = null;
    }
    if (this.hookId >= 0) cpu.removeHook(this.hookId);
    this.hookId = -1;
    this.pending = null;
    this.formatter?.free();
    this.formatter = null;
  }

  /** run() returned: complete the last instruction's record. */
  private settle(stop: ReturnType<RunFn>): void {
    const p = this.pending;
    this.pending = null;
    const cpu = this.machine.cpu;
    if (p === null) {
      // Nothing executed: the very first fetch of this run faulted.
      if (stop.kind === 'fault') this.emitFetchFault(cpu.rip);
      return;
    }
    const retired = cpu.instructions > p.count;
    if (!retired) {
      // Its hook fired but it did not complete: it faulted, or another hook stopped the run before
      // it (it will run, and be shown, when the run resumes).
      if (stop.kind === 'fault') this.finish(p, true);
      return;
    }
    const length = this.finish(p, false);
    // It retired and the run then stopped on a fault: a trap it raised itself (INT3, INT n: RIP is
    // after it), or a fault fetching the next instruction.
    if (stop.kind === 'fault' && !(length.isInterrupt && cpu.rip === p.rip + BigInt(length.length))) this.emitFetchFault(cpu.rip);
  }

  private registers(): Regs {
    const cpu = this.machine.cpu;
    const regs: Regs = [];
    for (let i = 0; i < 16; i++) regs.push(cpu.getReg(i));
    regs.push(cpu.rflags);
    return regs;
  }

  private readBytes(rip: bigint): Uint8Array | string {
    const { machine } = this;
    if (this.readCode !== undefined) return this.readCode(rip, 15);
    const cr3 = Number(machine.cpu.cr3 & 0xffffffffff000n);
    return readLinear(machine.phys, cr3, Number(BigInt.asUintN(48, rip)), 15);
  }

  /** Emit the record of `p` with the registers as they are now; returns what the decoder saw. */
  private finish(p: Pending, faulted: boolean): { length: number; isInterrupt: boolean } {
    const bytes = this.readBytes(p.rip);
    let text = '(bytes not mapped)';
    let length = 0;
    let isInterrupt = false;
    if (typeof bytes !== 'string') {
      const { Decoder, DecoderOptions, FlowControl } = loadIced();
      const d = new Decoder(64, bytes, DecoderOptions.None);
      d.ip = BigInt.asUintN(64, p.rip);
      const insn = d.decode();
      length = insn.length;
      text = insn.isInvalid ? '(invalid)' : this.formatter!.format(insn);
      isInterrupt = !insn.isInvalid && insn.flowControl === FlowControl.Interrupt;
      insn.free();
      d.free();
    }
    const shown = typeof bytes === 'string' ? '' : [...bytes.subarray(0, length)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const after = this.registers();
    const changes: string[] = [];
    const data: Record<string, string> = {};
    for (let i = 0; i < after.length; i++) {
      if (after[i] !== p.before[i]) {
        const name = i < 16 ? GPR_NAMES[i]! : 'rflags';
        changes.push(`${name}=${hex16(after[i]!)}`);
        data[name] = `0x${BigInt.asUintN(64, after[i]!).toString(16)}`;
      }
    }
    this.write(p.rip, shown, text, changes, data, faulted);
    return { length, isInterrupt };
  }

  /** The fetch at `rip` faulted: nothing was decoded or executed there. */
  private emitFetchFault(rip: bigint): void {
    const bytes = this.readBytes(rip);
    this.write(rip, '', typeof bytes === 'string' ? '(bytes not mapped)' : '(fetch faulted)', [], {}, true);
  }

  private write(rip: bigint, shown: string, text: string, changes: string[], data: Record<string, string>, faulted: boolean): void {
    const note = faulted ? '  (faulted: not retired)' : '';
    this.sink.emit('insn', `${hex16(rip)}: ${shown.padEnd(30)} ${text.padEnd(32)} ${changes.join(' ')}${note}`, {
      rip: `0x${BigInt.asUintN(64, rip).toString(16)}`, bytes: shown, disassembly: text, changed: data, faulted,
    });
  }
}
