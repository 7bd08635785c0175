// The kernel's public result and option types (the run API the scenario runner and the CLI use).

import type { MmuStats } from '../mmu/mmu.ts';
import type { KernelAction } from './mm.ts';
import type { Prot, VmaKind } from './vma.ts';

export type { KernelAction, Prot, VmaKind };

/** The RMP fault policy the kernel runs (spec/rmp.md §6.2 v7, §6.4 mainline). */
export type Policy = 'v7' | 'mainline';

export type OutcomeKind = 'exit' | 'signal' | 'livelock' | 'oops' | 'limit';

export interface Outcome {
  kind: OutcomeKind;
  exitCode?: number;
  /** "SIGBUS", "SIGSEGV"... */
  signal?: string;
  signo?: number;
  /** "BUS_ADRERR", "SEGV_MAPERR"... */
  siCode?: string;
  siAddr?: bigint;
  /** One line (oops: the whole oops text) a person can act on. */
  message: string;
}

/**
 * What every record of an exception says, whoever keeps it: the kernel's run result (FaultRecord),
 * the scenario runner's record (src/scenario/record.ts) and the library API's results and hook
 * events (src/api). Each adds its own fields.
 */
export interface FaultFields {
  vector: number;
  errorCode: number;
  /** CR2 for #PF (64-bit), 0 otherwise. */
  address: bigint;
  /** RIP of the faulting instruction. */
  rip: bigint;
  /** Bit 31 of a #PF error code: an RMP violation. */
  rmp: boolean;
  /** One sentence: the check that failed, on which PTE level and bits, or on which pfn and entry. */
  why: string;
}

export interface FaultRecord extends FaultFields {
  /** True when the kernel's own access (uaccess, a page-table write) raised it: U=0. */
  kernelMode: boolean;
}

/**
 * What every record of a fault-handler decision says. Records above the kernel keep `action` a
 * string (the scenario runner adds syscall notes such as "enosys"); the kernel's own is a KernelAction.
 */
export interface DecisionFields {
  action: string;
  /** The faulting address (CR2). */
  address: bigint;
  why: string;
}

export interface DecisionRecord extends DecisionFields {
  action: KernelAction;
}

export interface SyscallNote {
  nr: number;
  name: string;
  args: bigint[];
  result: bigint;
  note?: string;
}

/** What the machine counts over a run: retired instructions and the MMU's counters. */
export interface MachineCounters extends MmuStats {
  instructions: number;
}

export interface RunStats extends MachineCounters {
  faults: number;
  syscalls: number;
}

export interface RunResult {
  outcome: Outcome;
  faults: FaultRecord[];
  kernel: DecisionRecord[];
  stdout: string;
  stderr: string;
  /** Final registers: rax..r15, rip, rflags, fsbase, gsbase. */
  regs: Record<string, bigint>;
  stats: RunStats;
}

/**
 * What a caller (the scenario runner) hooks into a run. Every hook is optional.
 * - `instructionMarks` + `afterInstructions`: the run stops the CPU exactly after each mark (a count
 *   of retired instructions since the process started) and calls `afterInstructions(mark)`.
 * - `onFault(n, fault)`: the n-th fault (1-based) was raised, before any handler runs.
 * - `beforeHandler(fault, n)`: a fault is about to reach the kernel's handler (the v7 handler's race
 *   window); called for every fault, the runner fires its `before-handler` events on the first.
 * Hooks may call the kernel's mm operations (unmapRegion, munmapRegion, remapRegion) and change the
 * RMP through the RmpTable (its onChange flushes the TLB).
 */
export interface RunHooks {
  instructionMarks?: readonly number[];
  afterInstructions?(count: number): void;
  onFault?(n: number, fault: FaultRecord): void;
  beforeHandler?(fault: FaultRecord, n: number): void;
}

export interface RunOptions {
  maxInstructions?: number;
  maxFaults?: number;
  hooks?: RunHooks;
}

/** Traces the CLI shows (`--trace kernel`, syscalls). */
export interface KernelTrace {
  decision?(d: DecisionRecord, fault: FaultRecord): void;
  syscall?(s: SyscallNote): void;
}

export interface KernelOptions {
  policy: Policy;
  /** Physical ranges the frame allocator must not hand out (scenario `physical` and `rmp` pages). */
  reserved?: { pa: number; bytes: number }[];
  /** CPU features the kernel enables (EFER.NXE, CR4.SMEP, CR4.SMAP). Default: all on. */
  features?: { nx?: boolean; smep?: boolean; smap?: boolean };
  trace?: KernelTrace;
}

/** One mapping a process starts with (a scenario region). Same shape as the scenario loader's. */
export interface RegionRequest {
  name: string;
  at: number;
  size: number;
  prot: Prot;
  pageBytes?: number;
  kind?: VmaKind;
  pa?: number;
  bytes?: Uint8Array;
}

export interface ProcessRequest {
  regions: RegionRequest[];
  entry: number | bigint;
  /** Initial registers by name (rax..r15, rflags, fsbase, gsbase). */
  regs?: Record<string, bigint>;
  stdin?: string | Uint8Array;
  argv?: string[];
  envp?: string[];
}

export interface RegionSymbol {
  name: string;
  va: number;
  size: number;
  /** Physical address of the first byte right after setup. */
  pa: number;
}

export interface ProcessInfo {
  symbols: Map<string, RegionSymbol>;
  entry: number;
  rsp: number;
  stackTop: number;
}
