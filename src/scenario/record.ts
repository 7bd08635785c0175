// What a scenario run produced, before it is checked or printed. 64-bit values are bigint here;
// result.ts turns them into the hex strings of the result JSON (spec/scenario.md, "Result").

import type { DecisionFields, FaultFields, MachineCounters, Outcome } from '../kernel/types.ts';
import type { OutcomeKind, RegName } from './types.ts';

/** The counters of a scenario run (the kernel's, without its fault and syscall counts). */
export type RunStats = MachineCounters;

export interface FaultRecord extends FaultFields {
  /** True when the access was made by the kernel for a syscall (U=0 in the error code). */
  kernelMode?: boolean;
  /** Privilege level of the faulting access, when known (kernel none). */
  cpl?: number;
}

export interface KernelRecord extends DecisionFields {
  /** The 1-based number of the fault this decision handled (the latest fault raised before it). */
  fault?: number;
}

/** A scenario event that fired (spec/scenario.md `events`), and where in the run it fired. */
export interface EventRecord {
  /** Its index in the scenario's `events` list. */
  index: number;
  /** The scenario's `when`, in its JSON shape. */
  when: { kernel: 'before-handler' } | { fault: number } | { instructions: number };
  /** What it did, in a few words: "munmap buf", "rmpupdate buf+0x7000". */
  action: string;
  /** One sentence on its effect. */
  why: string;
  /** How many faults had been raised, and how many handler decisions made, when it fired. */
  afterFaults: number;
  afterDecisions: number;
}

/** The kernel's outcome (a process run), with kernel none's kinds added. */
export interface OutcomeRecord extends Omit<Outcome, 'kind'> {
  kind: OutcomeKind;
}

export interface RunRecord {
  outcome: OutcomeRecord;
  faults: FaultRecord[];
  kernel: KernelRecord[];
  /** The events that fired, in firing order (absent when the scenario has none). */
  events?: EventRecord[];
  regs: Partial<Record<RegName, bigint>>;
  stdout: string;
  stderr: string;
  stats: RunStats;
  /** Where setup put things (page tables of kernel none, region frames), for the report. */
  setup: { pageTables?: number[]; cr3?: number; regions?: { name: string; va: number; pa: number | null }[] };
}
