// What `machine.run()` returns: a typed result whose `outcome.kind` says why the run ended
// (docs/api.md, "Running"). 64-bit values are bigint.

import type { DecisionFields, FaultFields, MachineCounters } from '../kernel/types.ts';
import type { HookKind } from './hooks.ts';

/** An exception, as the run (or the kernel) saw it. */
export interface FaultInfo extends FaultFields {
  /** 'PF', 'GP', 'UD'... */
  name: string;
  /** Under a kernel: the kernel's own access (uaccess, a page-table write) raised it. */
  kernelMode?: boolean;
}

/** A decision of the kernel's fault handler; `action` is one of the kernel's KernelAction names. */
export type KernelDecision = DecisionFields;

export type Outcome =
  /** HLT at CPL 0 (bare machine). */
  | { kind: 'halt'; message: string }
  /** The instruction budget (maxInstructions) or the fault budget (maxFaults) ran out. */
  | { kind: 'limit'; budget: 'instructions' | 'faults'; message: string }
  /** RIP reached `until` (checked before each instruction, the first included). */
  | { kind: 'until'; message: string }
  /** Bare machine: an exception nobody handled (RIP at the faulting instruction). */
  | { kind: 'exception'; fault: FaultInfo; message: string }
  /** Bare machine: SYSCALL with no syscall hook (RIP after the SYSCALL). */
  | { kind: 'syscall'; message: string }
  /** A hook answered 'stop'. For an exception hook, `fault` is the exception it stopped at. */
  | { kind: 'stopped'; by: HookKind; fault?: FaultInfo; message: string }
  /** Process: exit or exit_group. */
  | { kind: 'exit'; exitCode: number; message: string }
  /** Process: killed by a signal (SIGBUS from the v7 RMP handler, SIGSEGV...). */
  | { kind: 'signal'; signal: string; siCode?: string; siAddr?: bigint; message: string }
  /** Process: the same fault 8 times in a row with nothing changed (spec/scenario.md `expect`). */
  | { kind: 'livelock'; message: string }
  /** Process: a kernel-mode fault the kernel cannot handle. */
  | { kind: 'oops'; message: string };

export type OutcomeKind = Outcome['kind'];

/** Counters for this run only. */
export type RunStats = MachineCounters;

export interface RunResult {
  outcome: Outcome;
  /** RIP when the run ended. */
  rip: bigint;
  /** Exceptions delivered during the run: to the kernel (process), or the one that ended a bare run. Retried ones are not listed. */
  faults: FaultInfo[];
  /** Kernel fault-handler decisions during the run (process only). */
  kernel: KernelDecision[];
  /** Process output so far (fd 1 and 2). */
  stdout: string;
  stderr: string;
  stats: RunStats;
  /**
   * Set when the run differs from what the CLI would do: a scenario machine's `events` do not fire
   * under run() (use runScenario()).
   */
  warning?: string;
}

export interface RunLimits {
  /**
   * Instruction budget for this run: an integer from 0 to 1e10 (MAX_INSTRUCTIONS; default 1,000,000;
   * a scenario machine defaults to its run.maxInstructions). Infinity and non-integers are refused.
   */
  maxInstructions?: number;
  /** Exceptions allowed in this run, retried ones included: an integer from 0 to 1e9 (default 64). Never a hang: a retry loop ends here. */
  maxFaults?: number;
  /** Stop when RIP reaches this address, before executing it. */
  until?: bigint | number;
}
