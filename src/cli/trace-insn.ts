// --trace insn: each instruction with its address, bytes, iced-x86 disassembly and the registers it
// changed. While attached, the CPU's run() is wrapped to retire one instruction at a time, so the
// state before and after each is visible; detach restores the original method, so with tracing
// off nothing is wrapped and nothing is paid. Instruction bytes are read through a side-effect-free
// page-table lookup (no TLB fill, no A/D bits), so tracing does not change what it traces.

import type { Machine } from '../machine.ts';
import { loadIced, type Iced } from '../scenario/disassemble.ts';
import { readLinear } from '../scenario/lookup.ts';
import { GPR_NAMES } from '../scenario/types.ts';
import type { TraceSink } from './trace.ts';

/** A 64-bit value as 16 hex digits, as qemu's logs print registers. */
export const hex16 = (v: bigint): string => BigInt.asUintN(64, v).toString(16).padStart(16, '0');

type RunFn = Machine['cpu']['run'];

export class InsnTracer {
  private original: RunFn | null = null;
  private formatter: InstanceType<Iced['Formatter']> | null = null;

  constructor(
    private readonly machine: Pick<Machine, 'cpu' | 'phys'>,
    private readonly sink: TraceSink,
    /** Side-effect-free reader of code bytes; default: the host page tables at CR3. A guest passes its 2D lookup. */
    private readonly readCode?: (rip: bigint, length: number) => Uint8Array | string,
  ) {}

  attach(): void {
    const cpu = this.machine.cpu;
    const original = cpu.run;
    this.original = original;
    const { Formatter, FormatterSyntax } = loadIced();
    this.formatter = new Formatter(FormatterSyntax.Intel);
    const step = (max: number): ReturnType<RunFn> => {
      for (let i = 0; i < max; i++) {
        const before = this.registers();
        const rip = cpu.rip;
        const stop = original.call(cpu, 1);
        const faulted = stop.kind === 'fault';
        this.emit(rip, before, faulted);
        if (stop.kind !== 'limit') return stop;
      }
      return { kind: 'limit' } as ReturnType<RunFn>;
    };
    cpu.run = step as RunFn;
  }

  detach(): void {
    if (this.original !== null) {
      // Deleting the own property exposes the prototype's method again.
      delete (this.machine.cpu as unknown as Record<string, unknown>).run;
      if (this.machine.cpu.run !== this.original) this.machine.cpu.run = this.original;
      this.original = null;
    }
    this.formatter?.free();
    this.formatter = null;
  }

  private registers(): bigint[] {
    const cpu = this.machine.cpu;
    const regs: bigint[] = [];
    for (let i = 0; i < 16; i++) regs.push(cpu.getReg(i));
    regs.push(cpu.rflags);
    return regs;
  }

  private emit(rip: bigint, before: bigint[], faulted: boolean): void {
    const { machine } = this;
    const cr3 = Number(machine.cpu.cr3 & 0xffffffffff000n);
    const bytes = this.readCode !== undefined ? this.readCode(rip, 15) : readLinear(machine.phys, cr3, Number(BigInt.asUintN(48, rip)), 15);
    let text = '(bytes not mapped)';
    let length = 0;
    if (typeof bytes !== 'string') {
      const { Decoder, DecoderOptions } = loadIced();
      const d = new Decoder(64, bytes, DecoderOptions.None);
      d.ip = BigInt.asUintN(64, rip);
      const insn = d.decode();
      length = insn.length;
      text = insn.isInvalid ? '(invalid)' : this.formatter!.format(insn);
      insn.free();
      d.free();
    }
    const shown = typeof bytes === 'string' ? '' : [...bytes.subarray(0, length)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const after = this.registers();
    const changes: string[] = [];
    const data: Record<string, string> = {};
    for (let i = 0; i < after.length; i++) {
      if (after[i] !== before[i]) {
        const name = i < 16 ? GPR_NAMES[i]! : 'rflags';
        changes.push(`${name}=${hex16(after[i]!)}`);
        data[name] = `0x${BigInt.asUintN(64, after[i]!).toString(16)}`;
      }
    }
    const note = faulted ? '  (faulted: not retired)' : '';
    this.sink.emit('insn', `${hex16(rip)}: ${shown.padEnd(30)} ${text.padEnd(32)} ${changes.join(' ')}${note}`, {
      rip: `0x${BigInt.asUintN(64, rip).toString(16)}`, bytes: shown, disassembly: text, changed: data, faulted,
    });
  }
}
