// The kernel's public result and option types (the run API the scenario runner and the CLI use).

import type { KernelAction } from './mm.ts';
import type { Policy } from './fault-handler.ts';
import type { Prot, VmaKind } from './vma.ts';

export type { KernelAction, Policy, Prot, VmaKind };

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

export interface FaultRecord {
  vector: number;
  errorCode: number;
  /** CR2 for #PF, 0 otherwise. */
  address: bigint;
  rip: bigint;
  rmp: boolean;
  /** True when the kernel's own access (uaccess, a page-table write) raised it: U=0. */
  kernelMode: boolean;
  why: string;
}

export interface DecisionRecord {
  action: KernelAction;
  address: bigint;
  why: string;
}

export interface SyscallNote {
  nr: number;
  name: string;
  args: bigint[];
  result: bigint;
  note?: string;
}

export interface RunStats {
  instructions: number;
  walks: number;
  tlbHits: number;
  tlbMisses: number;
  rmpChecks: number;
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
