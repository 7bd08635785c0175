// Read and write hooks: a LinearMemory that stands between the CPU and the MMU while at least one
// read or write hook is enabled, and is taken out again when none is (hook-plumbing.ts). With no
// such hook the CPU talks to the MMU directly, so the fast path is untouched.
//
// Each data access is reported with its linear and its physical address. The physical address comes
// from `translate` (the same checks, A/D updates and TLB fill as the access itself, so the machine
// ends in the same state); the access then runs unchanged and hits the TLB. The one visible cost:
// while a read/write hook is enabled, the MMU's `tlbHits` counts one extra lookup per access.
// Reads are reported after the value is read, writes before the value lands. Probes (the
// pre-checks of read-modify-write instructions) are not accesses and are not reported.

import type { AccessKind, LinearMemory } from '../mmu/linear-memory.ts';
import { Access } from '../mmu/linear-memory.ts';

/** Where the tap reports accesses (the plumbing); `wantsRead`/`wantsWrite` skip work for unhooked kinds. */
export interface MemorySink {
  wantsRead: boolean;
  wantsWrite: boolean;
  /** la: the 48-bit linear address as the MMU sees it; pa: its physical address; hi/lo: the value. */
  access(kind: AccessKind, la: number, pa: number, size: number, lo: number, hi: number): void;
}

export class MemoryTap implements LinearMemory {
  high32 = 0;

  constructor(readonly inner: LinearMemory, private readonly sink: MemorySink) {}

  setCpl(cpl: number): void {
    this.inner.setCpl(cpl);
  }

  setAlignmentCheck(ac: boolean): void {
    this.inner.setAlignmentCheck(ac);
  }

  setControlRegisters(cr0: number, cr3: number, cr4: number, efer: number): void {
    this.inner.setControlRegisters(cr0, cr3, cr4, efer);
  }

  invlpg(la: number): void {
    this.inner.invlpg(la);
  }

  probe(la: number, length: number, access: AccessKind): void {
    this.inner.probe(la, length, access);
  }

  translate(la: number, access: AccessKind): number {
    return this.inner.translate(la, access);
  }

  private read(la: number, size: number): number {
    const pa = this.sink.wantsRead ? this.inner.translate(la, Access.Read) : -1;
    let lo: number;
    let hi = 0;
    switch (size) {
      case 1: lo = this.inner.read8(la); break;
      case 2: lo = this.inner.read16(la); break;
      case 4: lo = this.inner.read32(la); break;
      default:
        lo = this.inner.read64(la);
        hi = this.inner.high32;
        this.high32 = hi;
    }
    if (pa >= 0) this.sink.access(Access.Read, la, pa, size, lo, hi);
    return lo;
  }

  private write(la: number, size: number, lo: number, hi: number): void {
    if (this.sink.wantsWrite) this.sink.access(Access.Write, la, this.inner.translate(la, Access.Write), size, lo, hi);
    switch (size) {
      case 1: this.inner.write8(la, lo); return;
      case 2: this.inner.write16(la, lo); return;
      case 4: this.inner.write32(la, lo); return;
      default: this.inner.write64(la, lo, hi);
    }
  }

  read8(la: number): number {
    return this.read(la, 1);
  }

  read16(la: number): number {
    return this.read(la, 2);
  }

  read32(la: number): number {
    return this.read(la, 4);
  }

  read64(la: number): number {
    return this.read(la, 8);
  }

  write8(la: number, value: number): void {
    this.write(la, 1, value, 0);
  }

  write16(la: number, value: number): void {
    this.write(la, 2, value, 0);
  }

  write32(la: number, value: number): void {
    this.write(la, 4, value, 0);
  }

  write64(la: number, lo: number, hi: number): void {
    this.write(la, 8, lo, hi);
  }
}
