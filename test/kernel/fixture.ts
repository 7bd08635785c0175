// A machine without a CPU for the kernel's unit tests: physical memory, the real RMP table (placed
// at the top of RAM and enabled) and the real MMU, plus an AddressSpace and the fault handler over
// them. Faults are produced by the real MMU (translate at CPL3 or CPL0), so their error codes are the
// MMU's, not hand-written.

import { PhysicalMemory } from '../../src/mem/physical.ts';
import { Mmu } from '../../src/mmu/mmu.ts';
import { RmpTable } from '../../src/rmp/index.ts';
import { CpuFault } from '../../src/cpu/fault.ts';
import { Access, type AccessKind } from '../../src/mmu/linear-memory.ts';
import { FrameAllocator } from '../../src/kernel/frame-allocator.ts';
import { KernelMemory } from '../../src/kernel/kernel-memory.ts';
import { AddressSpace, type MapRequest } from '../../src/kernel/mm.ts';
import { FaultHandler } from '../../src/kernel/fault-handler.ts';
import type { Policy } from '../../src/kernel/types.ts';
import { rmpPortFor } from '../../src/kernel/rmp-port.ts';
import type { PageStateSpec } from '../../src/rmp/index.ts';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const RW = { read: true, write: true, exec: false };
export const RX = { read: true, write: false, exec: true };
export const RO = { read: true, write: false, exec: false };

export interface Fixture {
  phys: PhysicalMemory;
  rmp: RmpTable;
  mmu: Mmu;
  frames: FrameAllocator;
  kmem: KernelMemory;
  mm: AddressSpace;
  flushed: number[];
  handler(policy: Policy): FaultHandler;
  map(req: Partial<MapRequest> & { name: string; start: number; size: number }): void;
  /** Translate as the CPU would (CPL3 user, or CPL0 with AC=1 for uaccess); the CpuFault or the PA. */
  access(va: number, kind: AccessKind, cpl?: 0 | 3): CpuFault | number;
  state(va: number, spec: PageStateSpec): void;
}

export function makeFixture(memoryBytes = 64 * MiB): Fixture {
  const phys = new PhysicalMemory(memoryBytes);
  const rmp = new RmpTable(phys);
  rmp.configure(RmpTable.defaultPlacement(memoryBytes));
  rmp.enable();
  const mmu = new Mmu(phys, rmp);
  rmp.onChange((spa, bytes) => mmu.flushPhysicalRange(spa, bytes));
  const frames = new FrameAllocator(memoryBytes);
  const r = rmp.reservedRange();
  frames.reserve(r.start, r.end - r.start);
  const kmem = new KernelMemory(phys, rmp);
  const flushed: number[] = [];
  const mm = new AddressSpace(kmem, frames, {
    invlpg: (la) => {
      flushed.push(la);
      mmu.invlpg(la);
    },
    flushAll: () => {
      flushed.push(-1);
      mmu.flushTlb();
    },
  }, true);
  // CR0 PG|WP|NE|ET|MP|PE, CR4 PAE|SMEP|SMAP, EFER LME|LMA|NXE|SCE (scenario.md defaults).
  mmu.setControlRegisters(0x80010033, mm.tables.root, 0x300020, 0xd01);
  const port = rmpPortFor(rmp);
  return {
    phys, rmp, mmu, frames, kmem, mm, flushed,
    handler: (policy) => new FaultHandler(policy, mm, port),
    map(req) {
      mm.map({ prot: RW, kind: 'anon', pageBytes: 4096, populate: true, ...req });
    },
    access(va, kind, cpl = 3) {
      mmu.setCpl(cpl);
      mmu.setAlignmentCheck(cpl === 0);
      try {
        return mmu.translate(va, kind);
      } catch (e) {
        if (e instanceof CpuFault) return e;
        throw e;
      } finally {
        mmu.setCpl(3);
        mmu.setAlignmentCheck(false);
      }
    },
    state(va, spec) {
      const pa = mm.translate(va);
      if (pa === null) throw new Error(`0x${va.toString(16)} is not mapped`);
      rmp.setState(pa - (pa % 4096), spec);
    },
  };
}

export function expectFault(r: CpuFault | number): CpuFault {
  if (!(r instanceof CpuFault)) throw new Error(`expected a fault, the access translated to 0x${r.toString(16)}`);
  return r;
}

export { Access };
