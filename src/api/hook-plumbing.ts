// Connects the hook registry to the machine: for each hook kind, what gets installed where, and only
// while at least one hook of that kind is enabled (so the no-hook machine is the plain machine).
//
// | kind            | installed as                                                          |
// |-----------------|-----------------------------------------------------------------------|
// | instruction     | one Cpu instruction hook per enabled hook, with its range             |
// | block           | one Cpu block hook                                                    |
// | fetch           | one Cpu instruction hook (every RIP); length from the decoder         |
// | read, write     | the MMU observer slot's `access` event (every data access the MMU     |
// |                 | completes, with its physical address: no extra translation)           |
// | walk, rmp-check | the MMU observer slot (chained to any observer already there)         |
// | exception       | one Cpu exception hook                                                |
// | kernel-decision, syscall | called by the kernel's trace, or by the bare run loop        |
//
// The Cpu's hooks run in its checked loop, which visits every instruction of cached blocks too
// (src/cpu/cpu.ts runHooked), so hooks fire on pre-decoded code (unicorn #2200).
//
// Exact RIP inside an instruction. The Cpu settles RIP once per block (handlers locate themselves
// with blockRip + Insn.offset), so while an instruction executes, Cpu.rip names its block's first
// instruction. Hooks that fire inside an instruction (read, write, walk, rmp-check) must see the
// instruction's own RIP, so while one of them is enabled the Cpu keeps `currentRip` exact
// (`preciseRip`, its checked loop); events carry it as `rip`, and `machine.regs.rip` reads it during
// their callbacks because registers.ts reads `cpu.currentRip`, which also reads back a RIP written
// inside a hook (Cpu.rip's setter updates it).
//
// Stopping. A hook between instructions that answers 'stop' throws RunStop out of the Cpu's run
// (the Cpu rethrows anything that is not a CpuFault untouched, with RIP at the instruction that did
// not run, or where the hook moved it); the facade catches it, also when a kernel's run loop sits in between. A hook inside an
// instruction or inside the kernel asks for a stop at the next instruction boundary: it sets the
// Cpu's stop request (the current instruction completes) and arms a block hook that throws RunStop
// the next time the Cpu starts, which is where a kernel re-enters it after handling a syscall or fault.

import type { Cpu } from '../cpu/cpu.ts';
import { StopCode } from '../cpu/core.ts';
import { canonicalAddress, type CpuFault } from '../cpu/fault.ts';
import type { BlockHook, ExceptionHook, InstructionHook } from '../cpu/hooks.ts';
import type { AccessKind } from '../mmu/linear-memory.ts';
import type { Mmu } from '../mmu/mmu.ts';
import type { MmuObserver } from '../mmu/walk-trace.ts';
import type { DecisionRecord, FaultRecord, KernelTrace, SyscallNote } from '../kernel/types.ts';
import type { HookRegistry } from './hook-registry.ts';
import { MachineError } from './validate.ts';
import { Sys } from '../kernel/constants.ts';
import type {
  ExceptionEvent, HookKind, MemoryAccessName, MemoryEvent, RmpCheckEvent, RmpTableAccessName, SyscallEvent, WalkEvent,
} from './hooks.ts';
import type { Machine } from './machine.ts';

/** Thrown out of the Cpu (and a kernel's run loop) to end a run because a hook said 'stop'. */
export class RunStop {
  constructor(
    readonly by: HookKind,
    /** For an exception hook: the exception it stopped at. */
    readonly fault?: CpuFault,
    /** The fault budget ran out (exception hooks kept answering 'retry'). */
    readonly budget = false,
  ) {}
}

/** Exceptions raised in the current run, against its maxFaults (run-loop.ts). */
export interface FaultCounter {
  count: number;
  readonly max: number;
}

const SYSCALL_ARG_REGS = [7, 6, 2, 10, 8, 9]; // rdi rsi rdx r10 r8 r9 (Linux x86-64 syscall ABI)
/** Linux x86-64 syscall numbers the emulated kernel knows (src/kernel/constants.ts Sys), by number. */
const SYSCALL_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(Sys).map(([name, nr]) => [nr, name]));
/** SYSCALL is 0F 05 (AMD APM Vol.3 "SYSCALL"): the instruction starts 2 bytes before the RIP it leaves. */
const SYSCALL_LENGTH = 2n;
/** Access (src/mmu/linear-memory.ts) and TableAccess (src/rmp/host-check.ts) values, by number. */
const ACCESS_NAMES: readonly MemoryAccessName[] = ['read', 'write', 'fetch'];
const TABLE_ACCESS_NAMES: readonly RmpTableAccessName[] = ['none', 'entry-read', 'ad-write'];

/** The name the kernel gives a syscall number (src/kernel/syscalls.ts uses the same words). */
export function syscallName(nr: number): string {
  return SYSCALL_NAMES.get(nr) ?? `syscall ${nr}`;
}

/**
 * A non-exception hook's answer: true for 'stop'. 'retry' means "resume instead of delivering the
 * exception", which only an exception hook can mean; elsewhere it would be silently ignored, so it
 * is refused. Anything else (a callback that returns, say, Array.push's count) means carry on.
 */
function isStop(kind: HookKind, reply: unknown): boolean {
  if (reply === 'retry') {
    throw new MachineError(`${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} hook answered 'retry', which only exception hooks may answer (docs/api.md, "Answers"); answer 'stop' or nothing`);
  }
  return reply === 'stop';
}

function inRange(begin: bigint, end: bigint, first: bigint, size: number): boolean {
  return first <= end && first + BigInt(size) - 1n >= begin;
}

export class HookPlumbing {
  /** Registry entry id → the Cpu hook installed for it. */
  private readonly cpuInstructionHooks = new Map<number, number>();
  private cpuBlockHook = 0;
  private cpuFetchHook = 0;
  private cpuExceptionHook = 0;
  private stopperHook = 0;
  private observer: MmuObserver | null = null;
  private chainedObserver: MmuObserver | null = null;
  /** Set by the run loop for the duration of a run. */
  faultBudget: FaultCounter | null = null;
  /** The kind of the mid-instruction hook that asked to stop, until the run ends. */
  pendingStop: HookKind | null = null;
  /** What `machine.regs.rip` reads during a mid-instruction callback; null otherwise. */
  private wantsRead = false;
  private wantsWrite = false;

  /** Hand this to a Kernel (KernelOptions.trace): decisions and syscalls reach the hooks. */
  readonly kernelTrace: KernelTrace;

  constructor(
    private readonly facade: Machine,
    private readonly cpu: Cpu,
    private readonly mmu: Mmu,
    private readonly registry: HookRegistry,
    /** Extra kernel trace (the facade's own records of decisions), called before the hooks. */
    private readonly onDecision: (d: DecisionRecord, f: FaultRecord) => void,
  ) {
    this.kernelTrace = {
      decision: (d, f) => this.decision(d, f),
      syscall: (s) => this.kernelSyscall(s),
    };
  }

  /** Re-install what a kind needs after its set of enabled hooks changed. */
  update(kind: HookKind): void {
    this.updateRipTracker();
    switch (kind) {
      case 'instruction': return this.updateInstruction();
      case 'block': return this.updateBlock();
      case 'fetch': return this.updateFetch();
      case 'read':
      case 'write':
      case 'walk':
      case 'rmp-check': return this.updateObserver();
      case 'exception': return this.updateException();
      default: // kernel-decision, syscall: dispatched on demand, nothing to install
    }
  }

  // ---- stopping --------------------------------------------------------------------------------------

  /** A hook inside an instruction or the kernel asked to stop: end at the next instruction boundary. */
  requestStop(by: HookKind): void {
    if (this.pendingStop === null) this.pendingStop = by;
    this.cpu.stopRequest = StopCode.Hook;
    this.cpu.breakBlock = true;
    if (this.stopperHook === 0) {
      this.stopperHook = this.cpu.addHook({
        kind: 'block',
        callback: () => {
          throw new RunStop(this.pendingStop ?? by);
        },
      } satisfies BlockHook);
    }
  }

  /** The run is over: forget any stop request. */
  endRun(): void {
    this.pendingStop = null;
    if (this.cpu.stopRequest === StopCode.Hook) this.cpu.stopRequest = StopCode.None;
    if (this.stopperHook !== 0) {
      this.cpu.removeHook(this.stopperHook);
      this.stopperHook = 0;
    }
  }

  /** Call the enabled hooks of a kind that cannot retry (block, kernel-decision, syscall). */
  private call<K extends HookKind>(kind: K, event: unknown, immediate: boolean): 'stop' | undefined {
    for (const h of this.registry.enabled(kind)) {
      h.calls++;
      const reply = (h.callback as (e: unknown, m: Machine) => unknown)(event, this.facade);
      if (isStop(kind, reply)) {
        if (immediate) throw new RunStop(kind);
        this.requestStop(kind);
        return 'stop';
      }
    }
    return undefined;
  }

  // ---- CPU hooks ---------------------------------------------------------------------------------------

  /**
   * Install a Cpu hook for each newly enabled instruction hook and remove those of hooks disabled or
   * removed; hooks whose state did not change keep their Cpu hook. Re-installing all of them would
   * append fresh copies to the Cpu's list while it is being walked (a hook that adds or switches
   * another hook from inside its callback), so the Cpu would call them twice for one instruction.
   */
  private updateInstruction(): void {
    const wanted = new Map(this.registry.enabled('instruction').map((h) => [h.id, h]));
    for (const [entryId, cpuId] of this.cpuInstructionHooks) {
      if (wanted.has(entryId)) continue;
      this.cpu.removeHook(cpuId);
      this.cpuInstructionHooks.delete(entryId);
    }
    for (const [entryId, h] of wanted) {
      if (this.cpuInstructionHooks.has(entryId)) continue;
      const hook: InstructionHook = {
        kind: 'instruction',
        begin: h.begin,
        end: h.end,
        callback: (_cpu, rip) => {
          if (!h.enabled) return;
          h.calls++;
          if (isStop('instruction', h.callback({ rip }, this.facade))) throw new RunStop('instruction');
        },
      };
      this.cpuInstructionHooks.set(entryId, this.cpu.addHook(hook));
    }
  }

  private updateBlock(): void {
    const want = this.registry.has('block');
    if (want && this.cpuBlockHook === 0) {
      this.cpuBlockHook = this.cpu.addHook({ kind: 'block', callback: (_cpu, rip) => void this.call('block', { rip }, true) });
    } else if (!want && this.cpuBlockHook !== 0) {
      this.cpu.removeHook(this.cpuBlockHook);
      this.cpuBlockHook = 0;
    }
  }

  private updateFetch(): void {
    const want = this.registry.has('fetch');
    if (want && this.cpuFetchHook === 0) {
      this.cpuFetchHook = this.cpu.addHook({
        kind: 'instruction', begin: 0n, end: (1n << 64n) - 1n,
        callback: (_cpu, rip) => this.fetch(rip),
      });
    } else if (!want && this.cpuFetchHook !== 0) {
      this.cpu.removeHook(this.cpuFetchHook);
      this.cpuFetchHook = 0;
    }
  }

  private fetch(rip: bigint): void {
    // The instruction's block was already fetched and translated, so neither call can fault.
    const la = Number(BigInt.asUintN(48, rip));
    const size = this.cpu.decodeAt(rip).len;
    const pa = this.mmu.translate(la, 2);
    // The instruction has not run yet: a stop here is immediate, like an instruction hook's.
    this.memoryEvent('fetch', rip, la, pa, size, 0n, true);
  }

  private updateException(): void {
    const want = this.registry.has('exception');
    if (want && this.cpuExceptionHook === 0) {
      const hook: ExceptionHook = { kind: 'exception', callback: (cpu, fault) => this.exception(cpu, fault) };
      this.cpuExceptionHook = this.cpu.addHook(hook);
    } else if (!want && this.cpuExceptionHook !== 0) {
      this.cpu.removeHook(this.cpuExceptionHook);
      this.cpuExceptionHook = 0;
    }
  }

  private exception(cpu: Cpu, fault: CpuFault): 'retry' | undefined {
    const budget = this.faultBudget;
    if (budget !== null && ++budget.count > budget.max) throw new RunStop('exception', fault, true);
    const event: ExceptionEvent = {
      vector: fault.vector, name: fault.name, errorCode: fault.errorCode >>> 0,
      address: fault.vector === 14 ? BigInt.asUintN(64, fault.address) : 0n,
      rip: cpu.rip, rmp: fault.rmp, why: fault.why, fault,
    };
    for (const h of this.registry.enabled('exception')) {
      h.calls++;
      const reply = h.callback(event, this.facade);
      if (reply === 'stop') throw new RunStop('exception', fault);
      if (reply === 'retry') return 'retry';
    }
    return undefined;
  }

  // ---- exact RIP for mid-instruction hooks -------------------------------------------------------------

  private updateRipTracker(): void {
    const r = this.registry;
    this.cpu.preciseRip = r.has('read') || r.has('write') || r.has('walk') || r.has('rmp-check');
  }

  /** The RIP a mid-instruction event belongs to. */
  private eventRip(): bigint {
    return this.cpu.currentRip;
  }

  // ---- memory ------------------------------------------------------------------------------------------

  /** One data access, from the MMU observer's `access` event (values as unsigned 32-bit halves). */
  private access(kind: AccessKind, la: number, pa: number, size: number, lo: number, hi: number): void {
    const value = size === 8 ? (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0) : BigInt(lo >>> 0);
    this.memoryEvent(kind === 0 ? 'read' : 'write', this.eventRip(), la, pa, size, value, false);
  }

  private memoryEvent(access: MemoryAccessName, rip: bigint, la: number, pa: number, size: number, value: bigint, immediate: boolean): void {
    const linear = BigInt.asUintN(64, canonicalAddress(la));
    let event: MemoryEvent | null = null;
    for (const h of this.registry.enabled(access)) {
      const physical = (h.options as { space?: string }).space === 'physical';
      if (!inRange(h.begin, h.end, physical ? BigInt(pa) : linear, size)) continue;
      event ??= { access, address: linear, physical: pa, size, value, rip };
      h.calls++;
      const e = event;
      if (!isStop(access, h.callback(e, this.facade))) continue;
      if (immediate) throw new RunStop(access);
      this.requestStop(access);
    }
  }

  // ---- MMU observer ------------------------------------------------------------------------------------

  private updateObserver(): void {
    this.wantsRead = this.registry.has('read');
    this.wantsWrite = this.registry.has('write');
    const wantWalk = this.registry.has('walk');
    const wantRmp = this.registry.has('rmp-check');
    const wantAccess = this.wantsRead || this.wantsWrite;
    // Take ours out (putting back what was there, unless someone replaced ours meanwhile), then
    // install one with only the events the enabled hooks need: each event the MMU can skip is work
    // it does not do (a walk event builds a whole trace).
    if (this.observer !== null) {
      if (this.mmu.observer === this.observer) this.mmu.observer = this.chainedObserver;
      this.observer = null;
      this.chainedObserver = null;
    }
    if (!wantWalk && !wantRmp && !wantAccess) return;
    this.chainedObserver = this.mmu.observer;
    const chained = this.chainedObserver;
    const observer: MmuObserver = {};
    if (wantWalk || chained?.walk !== undefined) {
      observer.walk = (trace) => {
        chained?.walk?.(trace);
        let event: WalkEvent | null = null;
        for (const h of this.registry.enabled('walk')) {
          if (!inRange(h.begin, h.end, BigInt.asUintN(64, trace.linearAddress), 1)) continue;
          event ??= { ...trace, rip: this.eventRip() };
          h.calls++;
          const e = event;
          if (isStop('walk', h.callback(e, this.facade))) this.requestStop('walk');
        }
      };
    }
    if (chained?.tlb !== undefined) observer.tlb = (e) => chained.tlb!(e);
    if (chained?.adWrite !== undefined) observer.adWrite = (e) => chained.adWrite!(e);
    if (wantRmp || chained?.rmpCheck !== undefined) {
      observer.rmpCheck = (trace) => {
        chained?.rmpCheck?.(trace);
        let event: RmpCheckEvent | null = null;
        for (const h of this.registry.enabled('rmp-check')) {
          const failed = trace.failure !== null;
          if ((h.options as { failedOnly?: boolean }).failedOnly === true && !failed) continue;
          if (!inRange(h.begin, h.end, BigInt(trace.spa), 1)) continue;
          event ??= {
            ...trace, access: ACCESS_NAMES[trace.access]!, table: TABLE_ACCESS_NAMES[trace.table]!, failed, rip: this.eventRip(),
          };
          h.calls++;
          const e = event;
          if (isStop('rmp-check', h.callback(e, this.facade))) this.requestStop('rmp-check');
        }
      };
    }
    if (wantAccess || chained?.access !== undefined) {
      observer.access = (kind, la, pa, size, lo, hi) => {
        chained?.access?.(kind, la, pa, size, lo, hi);
        if (kind === 0 ? this.wantsRead : this.wantsWrite) this.access(kind, la, pa, size, lo, hi);
      };
    }
    this.observer = observer;
    this.mmu.observer = observer;
  }

  // ---- kernel and syscalls -----------------------------------------------------------------------------

  private decision(d: DecisionRecord, f: FaultRecord): void {
    this.onDecision(d, f);
    if (!this.registry.has('kernel-decision')) return;
    this.call('kernel-decision', {
      action: d.action, address: d.address, why: d.why,
      fault: { vector: f.vector, errorCode: f.errorCode, address: f.address, rip: f.rip, rmp: f.rmp, why: f.why },
    }, false);
  }

  private kernelSyscall(s: SyscallNote): void {
    if (!this.registry.has('syscall')) return;
    const next = this.cpu.rip;
    const event: SyscallEvent = {
      nr: s.nr, name: s.name, args: s.args, handled: true, result: BigInt.asUintN(64, s.result),
      rip: BigInt.asUintN(64, next - SYSCALL_LENGTH), nextRip: next,
    };
    this.call('syscall', event, false);
  }

  /**
   * exit and exit_group end the process inside the kernel, before its trace sees a result, so the
   * run loop reports them here once the run has ended (handled, no result). A 'stop' is moot.
   */
  exitSyscall(): void {
    if (!this.registry.has('syscall')) return;
    const cpu = this.cpu;
    const nr = Number(BigInt.asUintN(32, cpu.getReg(0)));
    const next = cpu.rip;
    const event: SyscallEvent = {
      nr, name: syscallName(nr), args: SYSCALL_ARG_REGS.map((r) => cpu.getReg(r)), handled: true,
      rip: BigInt.asUintN(64, next - SYSCALL_LENGTH), nextRip: next,
    };
    for (const h of this.registry.enabled('syscall')) {
      h.calls++;
      h.callback(event, this.facade);
    }
  }

  /**
   * A SYSCALL on a bare machine: the syscall hooks emulate it. Returns false when no hook is
   * enabled (the run ends with outcome 'syscall'); throws RunStop when a hook says 'stop'.
   */
  bareSyscall(): boolean {
    if (!this.registry.has('syscall')) return false;
    const cpu = this.cpu;
    const nr = Number(BigInt.asUintN(32, cpu.getReg(0)));
    const next = cpu.rip;
    const event: SyscallEvent = {
      nr, name: syscallName(nr), args: SYSCALL_ARG_REGS.map((r) => cpu.getReg(r)),
      handled: false, rip: BigInt.asUintN(64, next - SYSCALL_LENGTH), nextRip: next,
    };
    // Between instructions (SYSCALL has retired: RCX, R11 and RIP are written): a stop is immediate.
    this.call('syscall', event, true);
    return true;
  }
}

