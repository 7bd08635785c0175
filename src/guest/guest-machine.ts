// One SNP guest on one emulated host: physical memory, the RMP table, the KVM-shaped hypervisor
// model with its nested table, the guest's VMSA-like record, its LinearMemory (the 2D walk), and
// optionally its page tables. The scenario runner and the tests build guests through this.
//
// Host memory layout (documented in docs/guest.md):
//   [0, RAM/2)                       free for scenario-pinned backings (`pa` of a region)
//   [RAM/2, start of the RMP's 2M)   host pool: nested tables and auto-placed shared backings,
//                                    skipping every frame a region pins
//   the RMP (RmpTable.defaultPlacement: top of RAM, 1 MB-aligned, covering all RAM)

import { Cpu } from '../cpu/cpu.ts';
import { PhysicalMemory } from '../mem/physical.ts';
import { RmpTable } from '../rmp/table.ts';
import type { PageStateName } from '../rmp/states.ts';
import { FrameAllocator } from '../hv/npt.ts';
import { KvmVm, type HvOptions } from '../hv/kvm.ts';
import { SIZE_2M, SIZE_4K } from './constants.ts';
import { newVmsa, type Vmsa } from './context.ts';
import { GuestMemory } from './guest-memory.ts';
import { GuestPageTables, type GuestMapping } from './guest-tables.ts';
import { guestSnpPort } from './instructions.ts';

export interface GuestRegionConfig {
  gpa: number;
  size: number;
  /** SPA of the private backing; auto-placed in the host pool when omitted. */
  pa?: number;
  /** SPA of the shared backing; auto-placed when omitted. */
  sharedPa?: number;
  /** Largest nested mapping the backing allows (4K, 2M, 1G). */
  hostPageSize: number;
  /** Attribute at start: private (default for an SNP guest) or shared. */
  private: boolean;
  /** RMP state of the private backing at launch; 'hypervisor' leaves it to the fault-in (gmem prepare). */
  rmpState: PageStateName;
  /** RMP page size of that state (4K or 2M). */
  rmpSize: number;
  /** VMPL0..3 permission masks to set on the assigned entries (RMPADJUST's work, done at launch). */
  vmplPerms?: [number, number, number, number];
}

export interface GuestMachineConfig {
  memoryBytes: number;
  /** SYSCFG.SNP_EN. */
  snpEnabled: boolean;
  asid: number;
  snpActive: boolean;
  vmpl: number;
  hv: Partial<Omit<HvOptions, 'asid' | 'snp'>>;
  regions: GuestRegionConfig[];
  /** Guest paging: mappings and the GPA where the table pages go (16 pages are reserved there). */
  paging?: { maps: GuestMapping[]; tablesGpa: number };
  /** Pre-fault every region into the nested table before the first access (default true). */
  populate: boolean;
}

export class GuestMachine {
  readonly phys: PhysicalMemory;
  readonly rmp: RmpTable;
  readonly frames: FrameAllocator;
  readonly hv: KvmVm;
  readonly vmsa: Vmsa;
  readonly mem: GuestMemory;
  readonly tables: GuestPageTables | null;

  constructor(cfg: GuestMachineConfig) {
    this.phys = new PhysicalMemory(cfg.memoryBytes);
    this.rmp = new RmpTable(this.phys);
    this.rmp.configure(RmpTable.defaultPlacement(cfg.memoryBytes));
    const reserved = this.rmp.reservedRange();
    if (cfg.snpEnabled) this.rmp.enable();
    const pinned: [number, number][] = [];
    for (const r of cfg.regions) {
      if (r.pa !== undefined) pinned.push([r.pa, r.pa + r.size]);
      if (r.sharedPa !== undefined) pinned.push([r.sharedPa, r.sharedPa + r.size]);
    }
    for (const [a, b] of pinned) {
      if (b > reserved.start) {
        throw new RangeError(`backing [0x${a.toString(16)}, 0x${b.toString(16)}) reaches the RMP's reserved 2M blocks at 0x${reserved.start.toString(16)}: enlarge machine.memory or move it`);
      }
    }
    const isPinned = (pfn: number): boolean => {
      const pa = pfn * SIZE_4K;
      for (const [a, b] of pinned) if (pa >= a && pa < b) return true;
      return false;
    };
    const poolStart = Math.floor(cfg.memoryBytes / 2 / SIZE_2M) * SIZE_2M;
    this.frames = new FrameAllocator(this.phys, poolStart, reserved.start, isPinned);
    this.hv = new KvmVm(this.phys, this.rmp, this.frames, { ...cfg.hv, asid: cfg.asid, snp: cfg.snpActive });
    for (const r of cfg.regions) {
      const align = Math.min(r.hostPageSize, 0x40000000);
      const pa = r.pa ?? this.frames.allocContiguous(r.size, Math.max(align, SIZE_4K));
      const sharedPa = r.sharedPa ?? this.frames.allocContiguous(r.size, Math.max(align, SIZE_4K));
      this.hv.addRegion({ gpa: r.gpa, size: r.size, privatePa: pa, sharedPa, hostPageSize: r.hostPageSize }, cfg.snpActive && r.private);
      if (cfg.snpEnabled && r.rmpState !== 'hypervisor') this.assignRegion(pa, r, cfg.asid);
    }
    this.vmsa = newVmsa({ asid: cfg.asid, nCr3: this.hv.nCr3, snpActive: cfg.snpActive, vmpl: cfg.vmpl });
    this.mem = new GuestMemory(this.phys, this.rmp, this.vmsa);
    // RMP changes flush every guest translation (spec/rmp.md §4: RMPUPDATE/PSMASH flush globally).
    this.rmp.onChange(() => this.mem.tlb.flushAll());
    this.hv.onNestedChange = () => this.mem.tlb.flushAsid(cfg.asid);
    this.tables = null;
    if (cfg.paging !== undefined) {
      let next = cfg.paging.tablesGpa;
      const end = next + 16 * SIZE_4K;
      const gpaToSpa = (gpa: number): number => {
        // Where the hypervisor maps the GPA (kvm.ts maps the backing of the frame's attribute): for a
        // guest that is not SNP-active every frame is shared, so that is the shared backing.
        const spa = this.hv.backing(gpa, this.hv.isPrivate(gpa));
        if (spa < 0) throw new RangeError(`guest page tables at GPA 0x${gpa.toString(16)} are outside every guest region`);
        return spa;
      };
      this.tables = new GuestPageTables(this.phys, gpaToSpa, () => {
        if (next >= end) throw new RangeError('guest page tables need more than the 16 pages reserved at paging.tablesAt');
        const g = next;
        next += SIZE_4K;
        return g;
      });
      for (const m of cfg.paging.maps) this.tables.map(m);
      // The table pages are part of the launch image: SNP_LAUNCH_UPDATE leaves the pages it adds
      // Validated, so a region launched Guest-Invalid still has validated page tables (4K RMP only).
      if (cfg.snpEnabled && cfg.snpActive) {
        for (let gpa = cfg.paging.tablesGpa; gpa < next; gpa += SIZE_4K) {
          const spa = gpaToSpa(gpa);
          const e = this.rmp.isCovered(spa / SIZE_4K) ? this.rmp.entry(spa / SIZE_4K) : null;
          if (e !== null && e.assigned && e.asid === cfg.asid && e.pageSize === 0 && !e.validated) {
            this.rmp.setEntry(spa / SIZE_4K, { validated: true });
          }
        }
      }
      this.vmsa.cr3 = this.tables.cr3;
    } else {
      // No guest paging: guest linear = guest physical.
      this.vmsa.cr0 &= ~0x80000000;
    }
    if (cfg.populate) this.hv.populate();
    this.mem.tlb.flushAll();
  }

  /**
   * A CPU that runs this guest's code: its LinearMemory is the guest's (the 2D walk), it has no host
   * RMP port (RMPUPDATE/PSMASH/RMPREAD are host instructions: #UD in a guest), and for an
   * SNP-active guest its guest port runs PVALIDATE/RMPADJUST (spec/rmp.md §5.1; outside an
   * SNP-active guest the port stays null and both raise #UD). CR0/CR3/CR4/EFER and CPL come from
   * the VMSA, as VMRUN loads them.
   */
  createCpu(): Cpu {
    const v = this.vmsa;
    // Read the VMSA first: the Cpu constructor hands its reset values to the LinearMemory, which
    // stores them in the VMSA.
    const saved = { cr0: v.cr0, cr3: v.cr3, cr4: v.cr4, efer: v.efer, cpl: v.cpl };
    const cpu = new Cpu(this.mem, this.phys, null);
    cpu.efer = BigInt(saved.efer);
    cpu.cr4 = BigInt(saved.cr4);
    cpu.cr3 = BigInt(saved.cr3);
    cpu.cr0 = BigInt(saved.cr0);
    cpu.cpl = saved.cpl;
    cpu.guestSnp = v.snpActive ? guestSnpPort(this.mem) : null;
    return cpu;
  }

  private assignRegion(pa: number, r: GuestRegionConfig, asid: number): void {
    const step = r.rmpSize;
    if (step === SIZE_2M && (pa % SIZE_2M !== 0 || r.gpa % SIZE_2M !== 0 || r.size % SIZE_2M !== 0)) {
      throw new RangeError(`a 2M RMP state needs a 2M-aligned region (gpa 0x${r.gpa.toString(16)}, pa 0x${pa.toString(16)}, size 0x${r.size.toString(16)})`);
    }
    for (let off = 0; off < r.size; off += step) {
      this.rmp.setState(pa + off, { state: r.rmpState, asid, gpa: r.gpa + off, size: step === SIZE_2M ? '2M' : '4K' });
      if (r.vmplPerms !== undefined) this.rmp.setEntry((pa + off) / SIZE_4K, { vmpl: [...r.vmplPerms] });
    }
  }
}
