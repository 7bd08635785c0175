// What the kernel needs from the machine (docs/architecture.md contracts: Machine, Cpu, Mmu,
// RmpTable). Kept as narrow structural interfaces so the kernel's own tests can run on the real
// classes and nothing else.

import type { StopReason } from '../cpu/cpu.ts';
import type { PhysicalMemory } from '../mem/physical.ts';
import type { AccessKind } from '../mmu/linear-memory.ts';
import type { MmuStats } from '../mmu/mmu.ts';
import type { RmpTable } from '../rmp/index.ts';

export interface KernelCpu {
  getReg(i: number): bigint;
  setReg(i: number, v: bigint): void;
  rip: bigint;
  rflags: bigint;
  cpl: number;
  fsBase: bigint;
  gsBase: bigint;
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  readonly instructions: number;
  /** Why it returned: architecture.md, `Cpu`. */
  run(maxInstructions: number): StopReason;
}

export interface KernelMmu {
  setCpl(cpl: number): void;
  setAlignmentCheck(ac: boolean): void;
  translate(la: number, access: AccessKind): number;
  invlpg(la: number): void;
  flushTlb(): void;
  readonly stats: MmuStats;
}

export interface KernelMachine {
  phys: PhysicalMemory;
  rmp: RmpTable;
  mmu: KernelMmu;
  cpu: KernelCpu;
}
