// Whole-machine snapshots (docs/api.md, "Snapshots"): CPU, physical memory, RMP, kernel, and the
// facade's own bookkeeping. Restoring and re-running gives the identical result (test/api/snapshot.test.ts).
//
// | part            | how                                                                           |
// |-----------------|-------------------------------------------------------------------------------|
// | physical memory | copy-on-write frames (PhysicalMemory.snapshotFrames/restoreFrames): a snapshot shares every frame; the first write after it copies that 4 KiB frame. This includes the RMP entries and the page tables, which live in physical memory |
// | CPU             | the architectural fields of Cpu/CpuCore listed in CPU_STATE_FIELDS, copied    |
// | RMP side state  | MSRs, SNP_EN, options, in-use marks, injected busy entries, counters: state-capture.ts over the RmpTable (its listeners are wiring, not state) |
// | kernel          | state-capture.ts over the Kernel object graph: VMAs, frame allocator, page-table bookkeeping, stdin/stdout, brk |
// | TLB             | flushed at snapshot and at restore (snapshotFrames already makes the MMU drop every cached frame, so the TLB is flushed by taking the memory snapshot anyway). A flush is architecturally invisible (the TLB holds nothing the page tables do not say, and the next access walks again), but it shows in the MMU statistics: walks and TLB misses after a snapshot or restore count as if the TLB were cold. Flushing at both points makes the runs after them count alike |
// | decoded blocks  | kept: they are keyed by physical address and dropped for every frame restoreFrames changes |
//
// Also saved: the MMU's cumulative counters (walks, TLB hits/misses, RMP checks), the CPU's retired
// count and the RMP's counters, so a scenario result (which reports cumulative counters) is identical
// after a restore too. Not saved: hooks (they belong to the user, not to the machine), and the
// decoded-block cache statistics.

import type { Cpu } from '../cpu/cpu.ts';
import type { PhysicalMemory } from '../mem/physical.ts';
import type { Mmu, MmuStats } from '../mmu/mmu.ts';
import type { RmpTable } from '../rmp/table.ts';
import { captureGraph, restoreGraph, captureSize, type GraphCapture } from './state-capture.ts';

/**
 * Every field of a Cpu that is machine state. Each other field is listed in CPU_WIRING_FIELDS; a
 * test fails when the Cpu grows a field that is in neither list, so new state cannot be missed.
 */
export const CPU_STATE_FIELDS = [
  'lo', 'hi', 'curRip', 'nextRip', 'fOp', 'fSize', 'fRLo', 'fRHi', 'fALo', 'fAHi', 'fBLo', 'fBHi', 'fBits',
  'flagsOther', 'cplValue', 'cr0Value', 'cr2Value', 'cr3Value', 'cr4Value', 'eferValue',
  'fsBaseLo', 'fsBaseHi', 'gsBaseLo', 'gsBaseHi', 'kernelGsBase', 'plainMsrs', 'features', 'instructions',
  'stopRequest', 'breakBlock', 'vHi', 'blockRip', 'target', 'trap',
  'gdtrBase', 'gdtrLimit', 'idtrBase', 'idtrLimit', 'ldtr', 'tr', 'dr', 'userGates',
] as const;

/** Cpu fields that are wiring (the MMU, physical memory, RMP and guest-SNP ports), caches or per-run settings, not state. */
export const CPU_WIRING_FIELDS = [
  'mmu', 'phys', 'rmp', 'blocks', 'pageBlocks', 'currentBlock', 'pageBytes', 'instructionHooks', 'blockHooks',
  'exceptionHooks', 'nextHookId', 'hooksActive', 'cacheStats', 'stopAtValue', 'retriesThisRun', 'guestSnp',
  'preciseRipWanted', 'exactRip', 'fetchStop',
] as const;

export interface SnapshotParts {
  phys: PhysicalMemory;
  rmp: RmpTable;
  mmu: Mmu;
  cpu: Cpu;
  /** The kernel, when a process runs. */
  kernel: object | null;
  /** The facade's own bookkeeping (a plain object). */
  facade: object;
  /** Objects the captures must not follow (the machine parts, the facade itself). */
  external: Set<object>;
}

/** An opaque saved machine. Restore it with `machine.restore(snapshot)`, as many times as you like. */
export class Snapshot {
  /** @internal */
  constructor(
    /** @internal */ readonly owner: object,
    /** @internal */ readonly frames: (Uint8Array | undefined)[],
    /** @internal */ readonly cpuFields: readonly string[],
    /** @internal */ readonly cpuValues: unknown[],
    /** @internal */ readonly cpuObjects: GraphCapture,
    /** @internal */ readonly rmpState: GraphCapture,
    /** @internal */ readonly kernel: object | null,
    /** @internal */ readonly kernelState: GraphCapture | null,
    /** @internal */ readonly facadeState: GraphCapture,
    /** @internal */ readonly mmuCounters: MmuStats,
  ) {}

  /** Objects saved outside physical memory (a measure of the snapshot's fixed cost). */
  get objectCount(): number {
    return captureSize(this.cpuObjects) + captureSize(this.rmpState) + (this.kernelState === null ? 0 : captureSize(this.kernelState)) +
      captureSize(this.facadeState);
  }
}

function rmpExternal(rmp: RmpTable, external: Set<object>): Set<object> {
  const set = new Set(external);
  // The change listeners are wiring (the TLB and decode-cache flushes, the kernel's counter).
  const listeners = (rmp as unknown as { listeners?: unknown }).listeners;
  if (typeof listeners === 'object' && listeners !== null) set.add(listeners);
  return set;
}

export function takeSnapshot(p: SnapshotParts): Snapshot {
  // Flush first so the run after the snapshot and the run after each restore start alike (header).
  p.mmu.flushTlb();
  const cpuRecord = p.cpu as unknown as Record<string, unknown>;
  // Only fields the Cpu has: restoring a field it lost would add a property and change its shape.
  const cpuFields = CPU_STATE_FIELDS.filter((f) => Object.hasOwn(cpuRecord, f));
  const cpuValues = cpuFields.map((f) => cpuRecord[f]);
  const cpuObjects = captureGraph(cpuValues.filter((v): v is object => typeof v === 'object' && v !== null), p.external);
  return new Snapshot(
    p.facade,
    p.phys.snapshotFrames(),
    cpuFields,
    cpuValues,
    cpuObjects,
    captureGraph([p.rmp], rmpExternal(p.rmp, p.external)),
    p.kernel,
    p.kernel === null ? null : captureGraph([p.kernel], p.external),
    // The kernel is captured from its own root above; the facade's reference to it is not followed.
    captureGraph([p.facade], p.kernel === null ? p.external : new Set([...p.external, p.kernel])),
    p.mmu.stats,
  );
}

export class SnapshotMismatchError extends Error {
  override name = 'SnapshotMismatchError';
}

export function restoreSnapshot(s: Snapshot, p: SnapshotParts): void {
  if (s.owner !== p.facade) throw new SnapshotMismatchError('this snapshot was taken on another machine; a snapshot restores only the machine that took it');
  p.phys.restoreFrames(s.frames);
  const cpu = p.cpu;
  // The MMU holds the control registers the CPU last gave it, i.e. the current ones. Recomputing its
  // rights tables is the dearest part of a restore, so it is told only when they change.
  const controlBefore = [cpu.cr0Value, cpu.cr3Value, cpu.cr4Value, cpu.eferValue];
  const cpuRecord = p.cpu as unknown as Record<string, unknown>;
  s.cpuFields.forEach((f, i) => {
    cpuRecord[f] = s.cpuValues[i];
  });
  restoreGraph(s.cpuObjects);
  restoreGraph(s.rmpState);
  if (s.kernelState !== null) restoreGraph(s.kernelState);
  // The facade's state holds its kernel reference: a snapshot taken before createProcess brings
  // back the machine without a process.
  restoreGraph(s.facadeState);
  // Tell the MMU the restored control state, privilege and RFLAGS.AC, then drop every translation.
  p.mmu.setCpl(cpu.cplValue);
  p.mmu.setAlignmentCheck((cpu.flagsOther & (1 << 18)) !== 0);
  const controlAfter = [cpu.cr0Value, cpu.cr3Value, cpu.cr4Value, cpu.eferValue];
  if (controlAfter.some((v, i) => v !== controlBefore[i])) {
    p.mmu.setControlRegisters(cpu.cr0Value, cpu.cr3Value, cpu.cr4Value, cpu.eferValue);
  }
  p.mmu.flushTlb();
  p.mmu.restoreStats(s.mmuCounters);
  // The restored RMP may differ from the one whose checks the decoded blocks and TLB saw.
  cpu.breakBlock = false;
}
