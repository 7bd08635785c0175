// A side-effect-free lookup through 4-level page tables, for setup and checking (not for the CPU):
// `rmp[].page` and `tableOf` resolution, and `expect.memory` at virtual addresses. It follows
// entries the way the hardware walk does (Intel SDM Vol.3A §4.5) but checks no permissions, sets no
// A/D bits and fills no TLB: it answers "which frame does this address use now".

import type { PhysicalMemory } from '../mem/physical.ts';
import { PTE_ADDR_MASK, PTE_BITS } from '../mmu/paging-bits.ts';

export const TABLE_LEVEL_NAMES = ['pml4', 'pdpt', 'pd', 'pt'] as const;
const ENTRY_NAMES = ['PML4E', 'PDPTE', 'PDE', 'PTE'];

export interface Lookup {
  /** Physical addresses of the table pages used, from the PML4 down (up to 4). */
  tables: number[];
  /** Final physical address, or null when an entry on the way is not present. */
  pa: number | null;
  /** Size of the page that maps it (4096, 2 MiB, 1 GiB), or null. */
  pageBytes: number | null;
  /** Why pa is null: "PDE at 0x3008 is not present". */
  problem?: string;
}

/** Look `la` (low 48 bits) up in the tables rooted at `cr3`. */
export function lookupLinear(phys: PhysicalMemory, cr3: number, la: number): Lookup {
  const tables: number[] = [];
  let table = Math.floor(cr3 / 4096) * 4096;
  for (let depth = 0; depth < 4; depth++) {
    tables.push(table);
    const shift = 39 - 9 * depth;
    const entryPa = table + (Math.floor(la / 2 ** shift) % 512) * 8;
    const e = phys.readU64(entryPa);
    if ((e & PTE_BITS.P) === 0n) {
      return { tables, pa: null, pageBytes: null, problem: `${ENTRY_NAMES[depth]} at 0x${entryPa.toString(16)} is not present` };
    }
    const frame = Number(e & PTE_ADDR_MASK);
    if (depth === 3 || ((depth === 1 || depth === 2) && (e & PTE_BITS.PS) !== 0n)) {
      const bytes = 2 ** shift;
      const base = frame - (frame % bytes); // 2M/1G leaves keep PAT at bit 12: mask it out
      return { tables, pa: base + (la % bytes), pageBytes: bytes };
    }
    table = frame;
  }
  return { tables, pa: null, pageBytes: null, problem: 'unreachable' };
}

/** Read `length` bytes at a linear address through the tables, page by page. */
export function readLinear(phys: PhysicalMemory, cr3: number, la: number, length: number): Uint8Array | string {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const l = lookupLinear(phys, cr3, la + done);
    if (l.pa === null) return `not mapped: ${l.problem}`;
    const chunk = Math.min(length - done, 4096 - ((la + done) % 4096));
    out.set(phys.readBytes(l.pa, chunk), done);
    done += chunk;
  }
  return out;
}
