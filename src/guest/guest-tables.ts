// Guest page tables, built the way a guest kernel would: 4-level long-mode tables (AMD APM Vol.2
// §5.3) whose pages live in guest memory. The builder writes them through a GPA→SPA function
// (the hypervisor model's private backing), as the launch flow places pre-validated pages.
//
// Entry bits: PTE_BITS (src/mmu/paging-bits.ts, AMD APM Vol.2 §5.4.1) plus C_BIT_MASK, the C-bit at
// bit 51 (constants.ts). Upper-level entries
// get P|RW|US and the C-bit (a Linux SNP guest sets it on every level; the hardware treats guest
// page-table accesses as C=1 whatever it says, spec/rmp.md §3.2).

import type { PhysicalMemory } from '../mem/physical.ts';
import { PTE_ADDR_MASK_48, PTE_BITS } from '../mmu/paging-bits.ts';
import { C_BIT_MASK, SIZE_1G, SIZE_2M, SIZE_4K } from './constants.ts';

export interface GuestMapping {
  va: number;
  gpa: number;
  /** 4K, 2M or 1G. */
  size: number;
  /** Leaf flags (P is implied). */
  flags: bigint;
}

const SHIFTS = [39, 30, 21, 12];

export class GuestPageTables {
  /** Guest CR3 (a GPA). */
  readonly cr3: number;

  constructor(
    private readonly phys: PhysicalMemory,
    /** SPA of a GPA (throws when the GPA has no backing). */
    private readonly gpaToSpa: (gpa: number) => number,
    /** Hands out 4K-aligned GPAs for table pages. */
    private readonly allocGpa: () => number,
  ) {
    this.cr3 = this.newTable();
  }

  private newTable(): number {
    const gpa = this.allocGpa();
    const spa = this.gpaToSpa(gpa);
    for (let i = 0; i < SIZE_4K; i += 8) this.phys.writeU64(spa + i, 0n);
    return gpa;
  }

  private entryGpa(table: number, va: number, level: number): number {
    return table + (Math.floor(va / 2 ** SHIFTS[level]!) % 512) * 8;
  }

  map(m: GuestMapping): void {
    const leafLevel = m.size === SIZE_4K ? 3 : m.size === SIZE_2M ? 2 : m.size === SIZE_1G ? 1 : -1;
    if (leafLevel < 0) throw new RangeError(`guest page size must be 4K, 2M or 1G, got ${m.size}`);
    if (m.va % m.size !== 0 || m.gpa % m.size !== 0) {
      throw new RangeError(`guest mapping va 0x${m.va.toString(16)} → gpa 0x${m.gpa.toString(16)} must be aligned to its ${m.size / 1024}K size`);
    }
    let table = this.cr3;
    for (let level = 0; level < leafLevel; level++) {
      const spa = this.gpaToSpa(this.entryGpa(table, m.va, level));
      const e = this.phys.readU64(spa);
      if ((e & PTE_BITS.P) !== 0n && (e & PTE_BITS.PS) === 0n) {
        table = Number(e & PTE_ADDR_MASK_48);
        continue;
      }
      const next = this.newTable();
      this.phys.writeU64(spa, BigInt(next) | PTE_BITS.P | PTE_BITS.RW | PTE_BITS.US | C_BIT_MASK);
      table = next;
    }
    const spa = this.gpaToSpa(this.entryGpa(table, m.va, leafLevel));
    this.phys.writeU64(spa, BigInt(m.gpa) | m.flags | PTE_BITS.P | (leafLevel < 3 ? PTE_BITS.PS : 0n));
  }

  /** GPA of the entry that maps `va` at `level` (0 = PML4E .. 3 = PTE), following present entries. */
  entryGpaOf(va: number, level: number): number {
    let table = this.cr3;
    for (let l = 0; l < level; l++) {
      const e = this.phys.readU64(this.gpaToSpa(this.entryGpa(table, va, l)));
      if ((e & PTE_BITS.P) === 0n) throw new RangeError(`no guest table at level ${l + 1} for va 0x${va.toString(16)}`);
      table = Number(e & PTE_ADDR_MASK_48);
    }
    return this.entryGpa(table, va, level);
  }

  /** GPA of the table page used at `level` (0 = PML4 .. 3 = PT) for `va`. */
  tableGpaOf(va: number, level: number): number {
    const e = this.entryGpaOf(va, level);
    return e - (e % SIZE_4K);
  }
}
