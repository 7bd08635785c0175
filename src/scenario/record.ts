// What a scenario run produced, before it is checked or printed. 64-bit values are bigint here;
// result.ts turns them into the hex strings of the result JSON (spec/scenario.md, "Result").

import type { OutcomeKind, RegName } from './types.ts';

export interface FaultRecord {
  vector: number;
  errorCode: number;
  /** CR2 for #PF, 0 otherwise (sign-extended 64-bit). */
  address: bigint;
  rip: bigint;
  rmp: boolean;
  /** One sentence: the check that failed, on which PTE level and bits, or on which pfn and entry. */
  why: string;
  /** True when the access was made by the kernel for a syscall (U=0 in the error code). */
  kernelMode?: boolean;
  /** Privilege level of the faulting access, when known (kernel none). */
  cpl?: number;
}

export interface KernelRecord {
  action: string;
  address: bigint;
  why: string;
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

export interface OutcomeRecord {
  kind: OutcomeKind;
  exitCode?: number;
  signal?: string;
  siCode?: string;
  siAddr?: bigint;
  message: string;
}

export interface RunStats {
  instructions: number;
  walks: number;
  tlbHits: number;
  tlbMisses: number;
  rmpChecks: number;
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
