// Guest page tables, built the way a guest kernel would: 4-level long-mode tables (AMD APM Vol.2
// §5.3) whose pages live in guest memory. The builder writes them through a GPA→SPA function
// (the hypervisor model's private backing), as the launch flow places pre-validated pages.
//
// Entry bits (AMD APM Vol.2 §5.4.1) plus the C-bit at bit 51 (constants.ts). Upper-level entries
// get P|RW|US and the C-bit (a Linux SNP guest sets it on every level; the hardware treats guest
// page-table accesses as C=1 whatever it says, spec/rmp.md §3.2).

import type { PhysicalMemory } from '../mem/physical.ts';
import { C_BIT, SIZE_1G, SIZE_2M, SIZE_4K } from './constants.ts';

export const GuestPte = {
  P: 1n << 0n,
  RW: 1n << 1n,
  US: 1n << 2n,
  PWT: 1n << 3n,
  PCD: 1n << 4n,
  A: 1n << 5n,
  D: 1n << 6n,
  PS: 1n << 7n,
  G: 1n << 8n,
  C: 1n << BigInt(C_BIT),
  NX: 1n << 63n,
} as const;

export type GuestPteFlag = keyof typeof GuestPte;

export interface GuestMapping {
  va: number;
  gpa: number;
  /** 4K, 2M or 1G. */
  size: number;
  /** Leaf flags (P is implied). */
  flags: bigint;
}

const ADDR_MASK = 0x0000fffffffff000n; // bits 47:12 (48-bit guest physical addresses)
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
      if ((e & GuestPte.P) !== 0n && (e & GuestPte.PS) === 0n) {
        table = Number(e & ADDR_MASK);
        continue;
      }
      const next = this.newTable();
      this.phys.writeU64(spa, BigInt(next) | GuestPte.P | GuestPte.RW | GuestPte.US | GuestPte.C);
      table = next;
    }
    const spa = this.gpaToSpa(this.entryGpa(table, m.va, leafLevel));
    this.phys.writeU64(spa, BigInt(m.gpa) | m.flags | GuestPte.P | (leafLevel < 3 ? GuestPte.PS : 0n));
  }

  /** GPA of the entry that maps `va` at `level` (0 = PML4E .. 3 = PTE), following present entries. */
  entryGpaOf(va: number, level: number): number {
    let table = this.cr3;
    for (let l = 0; l < level; l++) {
      const e = this.phys.readU64(this.gpaToSpa(this.entryGpa(table, va, l)));
      if ((e & GuestPte.P) === 0n) throw new RangeError(`no guest table at level ${l + 1} for va 0x${va.toString(16)}`);
      table = Number(e & ADDR_MASK);
    }
    return this.entryGpa(table, va, level);
  }

  /** GPA of the table page used at `level` (0 = PML4 .. 3 = PT) for `va`. */
  tableGpaOf(va: number, level: number): number {
    const e = this.entryGpaOf(va, level);
    return e - (e % SIZE_4K);
  }
}
