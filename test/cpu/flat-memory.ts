// A test-only LinearMemory: linear address = physical address, no paging, no faults except for
// addresses beyond RAM and pages the test marks absent or read-only. It lets CPU tests run
// without the real MMU (src/mmu/mmu.ts) while keeping the LinearMemory contract: every access
// either completes or throws a #PF CpuFault and changes nothing.

import { CpuFault, PfErr, Vector, canonicalAddress } from '../../src/cpu/fault.ts';
import { PhysicalMemory } from '../../src/mem/physical.ts';
import { Access, type AccessKind, type LinearMemory } from '../../src/mmu/linear-memory.ts';

export class FlatMemory implements LinearMemory {
  high32 = 0;
  cpl = 0;
  ac = false;
  control: number[] = [];
  invalidated: number[] = [];
  /** Pages (la >> 12) that are not present. */
  readonly absent = new Set<number>();
  /** Pages (la >> 12) that are read-only. */
  readonly readOnly = new Set<number>();
  /** Pages (la >> 12) that are not executable. */
  readonly noExec = new Set<number>();
  /** Count of translate/probe/read/write calls, to check the CPU's access pattern. */
  calls = 0;

  constructor(readonly phys: PhysicalMemory) {}

  setCpl(cpl: number): void { this.cpl = cpl; }
  setAlignmentCheck(ac: boolean): void { this.ac = ac; }
  setControlRegisters(cr0: number, cr3: number, cr4: number, efer: number): void { this.control = [cr0, cr3, cr4, efer]; }
  invlpg(la: number): void { this.invalidated.push(la); }

  private check(la: number, access: AccessKind): void {
    if (la < this.phys.size && this.absent.size + this.readOnly.size + this.noExec.size === 0) return;
    const page = Math.floor(la / 4096);
    const w = access === Access.Write ? PfErr.W : 0;
    const id = access === Access.Fetch ? PfErr.ID : 0;
    const u = this.cpl === 3 ? PfErr.U : 0;
    if (this.absent.has(page) || la >= this.phys.size) {
      throw new CpuFault(Vector.PF, w | u | id, canonicalAddress(la), `page 0x${la.toString(16)} not present`);
    }
    if (access === Access.Write && this.readOnly.has(page)) {
      throw new CpuFault(Vector.PF, PfErr.P | w | u, canonicalAddress(la), `page 0x${la.toString(16)} read-only`);
    }
    if (access === Access.Fetch && this.noExec.has(page)) {
      throw new CpuFault(Vector.PF, PfErr.P | u | id, canonicalAddress(la), `page 0x${la.toString(16)} not executable`);
    }
  }

  probe(la: number, length: number, access: AccessKind): void {
    this.calls++;
    this.check(la, access);
    if (Math.floor(la / 4096) !== Math.floor((la + length - 1) / 4096)) this.check(la + length - 1, access);
  }

  translate(la: number, access: AccessKind): number {
    this.calls++;
    this.check(la, access);
    return la;
  }

  private range(la: number, n: number, access: AccessKind): void {
    this.check(la, access);
    if (Math.floor(la / 4096) !== Math.floor((la + n - 1) / 4096)) this.check(la + n - 1, access);
  }

  read8(la: number): number { this.range(la, 1, Access.Read); return this.phys.read8(la); }
  read16(la: number): number { this.range(la, 2, Access.Read); return this.phys.readU32(la, 2); }
  read32(la: number): number { this.range(la, 4, Access.Read); return this.phys.readU32(la, 4); }
  read64(la: number): number {
    this.range(la, 8, Access.Read);
    this.high32 = this.phys.readU32(la + 4, 4);
    return this.phys.readU32(la, 4);
  }
  write8(la: number, v: number): void { this.range(la, 1, Access.Write); this.phys.write8(la, v); }
  write16(la: number, v: number): void { this.range(la, 2, Access.Write); this.phys.writeU32(la, v, 2); }
  write32(la: number, v: number): void { this.range(la, 4, Access.Write); this.phys.writeU32(la, v, 4); }
  write64(la: number, lo: number, hi: number): void {
    this.range(la, 8, Access.Write);
    this.phys.writeU32(la, lo, 4);
    this.phys.writeU32(la + 4, hi, 4);
  }
}
