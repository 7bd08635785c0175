// The machine a scenario describes (spec/scenario.md, "machine"), and what every runner shares:
// statistics, fault explanations, and the observer interface that traces plug into.

import { Machine } from '../machine.ts';
import type { CpuFault } from '../cpu/fault.ts';
import { VECTOR_NAMES } from '../cpu/fault.ts';
import { Msr } from '../rmp/codes.ts';
import type { FaultRecord, KernelRecord, RunStats } from './record.ts';
import type { Scenario } from './types.ts';
import { InputError } from './errors.ts';

/**
 * What a runner reports while it runs; the CLI's traces implement it. Every method is optional,
 * and a runner with no observer does no extra work.
 */
export interface RunObserver {
  /** Called once the machine is built and before the first instruction (attach MMU/CPU hooks). */
  attach?(machine: Machine): void;
  /** Called when the run ends. */
  detach?(machine: Machine): void;
  fault?(f: FaultRecord): void;
  kernel?(k: KernelRecord): void;
  /** A scenario event fired (rmpupdate, psmash, unmap...). */
  event?(text: string): void;
}

/** The machine of `s.machine`. A configuration the machine refuses is an input error. */
export function createMachine(s: Scenario): Machine {
  const m = s.machine;
  if (m.features.pcid || m.features.la57) {
    throw new InputError(s.file, 'machine.features', `${m.features.pcid ? 'pcid' : 'la57'} is not modelled by snpemu (4-level paging, no PCIDs); leave it off`);
  }
  try {
    return new Machine({
      memoryBytes: m.memoryBytes,
      snp: m.snp,
      rmpBase: m.rmp?.base,
      rmpEnd: m.rmp?.end,
      features: m.features,
      quirks: m.quirks,
      rmpWalkReads: m.rmpWalkReads,
    });
  } catch (e) {
    // RmpTable.configure refuses a table outside RAM or too small; say where it came from.
    if (e instanceof Error && !(e instanceof InputError)) throw new InputError(s.file, m.rmp ? 'machine.rmp' : 'machine', e.message);
    throw e;
  }
}

/** RMP_BASE..RMP_END (inclusive), or null when the table is not placed. */
export function rmpRange(machine: Machine): { base: number; end: number } | null {
  const base = Number(machine.rmp.readMsr(Msr.RMP_BASE));
  const end = Number(machine.rmp.readMsr(Msr.RMP_END));
  return end > base ? { base, end } : null;
}

export function machineStats(machine: Machine): RunStats {
  const s = machine.mmu.stats;
  return {
    instructions: machine.cpu.instructions,
    walks: s.walks,
    tlbHits: s.tlbHits,
    tlbMisses: s.tlbMisses,
    rmpChecks: s.rmpChecks,
  };
}

/**
 * The fault's sentence. The MMU and RMP give a `why` naming the PTE level and bits or the pfn and
 * its RMP entry; exceptions raised elsewhere (#GP, #UD, #DE...) may carry less, so name the
 * vector and what the manual says causes it.
 */
export function explainFault(f: CpuFault): string {
  if (f.why !== '') return f.why;
  const name = VECTOR_NAMES[f.vector] ?? `vector ${f.vector}`;
  switch (f.vector) {
    case 0: return '#DE: divide by zero, or the quotient does not fit the destination (AMD APM Vol.3 DIV/IDIV).';
    case 3: return '#BP: INT3 breakpoint.';
    case 6: return '#UD: the instruction is invalid here or outside the emulated subset.';
    case 13: return `#GP(${f.errorCode}): a general-protection check failed (non-canonical address, privileged instruction at CPL > 0, or a reserved register bit).`;
    case 12: return '#SS: a stack access used a non-canonical address.';
    case 14: return `#PF with error code 0x${f.errorCode.toString(16)} at 0x${f.address.toString(16)}.`;
    default: return `#${name}.`;
  }
}
