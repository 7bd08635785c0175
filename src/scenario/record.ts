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
  regs: Partial<Record<RegName, bigint>>;
  stdout: string;
  stderr: string;
  stats: RunStats;
  /** Where setup put things (page tables of kernel none, region frames), for the report. */
  setup: { pageTables?: number[]; cr3?: number; regions?: { name: string; va: number; pa: number | null }[] };
}
