// One emulated machine: physical memory, the RMP table, the MMU and the CPU, wired for one
// configuration (docs/architecture.md, "Machine").
//
// Wiring that matters:
// - RMP changes (RMPUPDATE, PSMASH, SNP_EN) drop every cached translation of the affected range
//   (design.md, pattern 7) and the decoded blocks of those frames.
// - The CPU reaches the RMP through CpuRmpPort (src/cpu/rmp-port.ts); the adapter below turns the
//   table's "reason" strings and RMP_RAISE_UD status into the architectural exceptions.

import { CpuFault, Vector } from './cpu/fault.ts';
import { Cpu } from './cpu/cpu.ts';
import type { CpuRmpPort, RmpReadResult } from './cpu/rmp-port.ts';
import { PhysicalMemory } from './mem/physical.ts';
import { Mmu } from './mmu/mmu.ts';
import { RMP_RAISE_UD } from './rmp/codes.ts';
import { RmpTable } from './rmp/table.ts';

/** Optional CPU features a machine may have (scenario `machine.features`). */
export interface MachineFeatures {
  nx: boolean;
  smep: boolean;
  smap: boolean;
  /** Not modelled: must be false. */
  pcid: boolean;
  /** Not modelled (4-level paging only): must be false. */
  la57: boolean;
}

export interface MachineQuirks {
  /** Host writes to an entry with Immutable=1 fault as well (spec/rmp.md §6.3). */
  hostChecksImmutable: boolean;
}

export interface MachineOptions {
  /** RAM in bytes, a positive multiple of 4 KiB. */
  memoryBytes: number;
  /** SEV-SNP on: the RMP is placed and SYSCFG.SNP_EN set, so host checks run. */
  snp: boolean;
  /** RMP_BASE / RMP_END (inclusive); both or neither. Default: RmpTable.defaultPlacement (top of RAM). */
  rmpBase?: number;
  rmpEnd?: number;
  features?: Partial<MachineFeatures>;
  quirks?: Partial<MachineQuirks>;
  /** Check the walk's page-table reads against the RMP (spec/rmp.md §9 item 3). Default true. */
  rmpWalkReads?: boolean;
}

export const DEFAULT_MACHINE_FEATURES: Readonly<MachineFeatures> = { nx: true, smep: true, smap: true, pcid: false, la57: false };

/** Adapts the RmpTable to what the CPU calls. */
class TableRmpPort implements CpuRmpPort {
  constructor(private readonly table: RmpTable) {}

  get enabled(): boolean {
    return this.table.enabled;
  }

  ownsMsr(msr: number): boolean {
    return this.table.handlesMsr(msr);
  }

  readMsr(msr: number): bigint {
    return this.table.readMsr(msr);
  }

  writeMsr(msr: number, value: bigint): void {
    const why = this.table.writeMsr(msr, value);
    if (why !== null) throw new CpuFault(Vector.GP, 0, 0n, `WRMSR 0x${msr.toString(16)}: ${why}`);
  }

  rmpupdate(spa: number, state: Uint8Array): number {
    return raiseUd(this.table.rmpupdate(spa, state), 'RMPUPDATE');
  }

  psmash(spa: number): number {
    return raiseUd(this.table.psmash(spa), 'PSMASH');
  }

  rmpread(spa: number): RmpReadResult {
    const r = this.table.rmpread(spa);
    return { code: raiseUd(r.status, 'RMPREAD'), bytes: r.bytes };
  }
}

function raiseUd(code: number, what: string): number {
  if (code === RMP_RAISE_UD) throw new CpuFault(Vector.UD, 0, 0n, `${what} raises #UD: SEV-SNP is not enabled (SYSCFG.SNP_EN = 0)`);
  return code;
}

export class Machine {
  readonly phys: PhysicalMemory;
  readonly rmp: RmpTable;
  readonly mmu: Mmu;
  readonly cpu: Cpu;
  readonly features: Readonly<MachineFeatures>;

  constructor(options: MachineOptions) {
    const features: MachineFeatures = { ...DEFAULT_MACHINE_FEATURES, ...(options.features ?? {}) };
    if (features.pcid) throw new Error('machine feature "pcid" is not modelled; set it to false');
    if (features.la57) throw new Error('machine feature "la57" (5-level paging) is not modelled; set it to false');
    if ((options.rmpBase === undefined) !== (options.rmpEnd === undefined)) {
      throw new Error('rmpBase and rmpEnd go together: give both or neither');
    }
    this.features = features;
    this.phys = new PhysicalMemory(options.memoryBytes);
    this.rmp = new RmpTable(this.phys, {
      hostChecksImmutable: options.quirks?.hostChecksImmutable ?? false,
      checkWalkReads: options.rmpWalkReads ?? true,
    });
    this.mmu = new Mmu(this.phys, this.rmp);
    this.cpu = new Cpu(this.mmu, this.phys, new TableRmpPort(this.rmp));
    this.cpu.features = { ...this.cpu.features, snp: options.snp, nx: features.nx, smep: features.smep, smap: features.smap };

    // RMP changes: drop cached translations and decoded blocks of the range (design.md, pattern 7).
    this.rmp.onChange((spa, bytes) => {
      this.mmu.flushPhysicalRange(spa, bytes);
      this.cpu.invalidateCodeRange(spa, bytes);
    });

    if (options.snp) {
      const placement = options.rmpBase !== undefined && options.rmpEnd !== undefined
        ? { base: options.rmpBase, end: options.rmpEnd }
        : RmpTable.defaultPlacement(options.memoryBytes);
      this.rmp.configure(placement);
      this.rmp.enable();
    }
  }
}
