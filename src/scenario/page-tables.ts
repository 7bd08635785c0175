// The `paging.maps` builder for kernel none (spec/scenario.md, "cpu, paging"): 4-level long-mode
// tables written into emulated physical memory (Intel SDM Vol.3A §4.5, AMD APM Vol.2 §5.3).
//
// Where the tables go (docs/scenarios.md, "Page-table area"): one 4 KiB page per table, taken in
// order from the first free page at or above 1 MiB (0x100000) up to the end of RAM, then from
// 0x1000 up to 1 MiB. A page is not free when a scenario names it: a `physical` byte range, an
// `rmp` entry's page (its whole 2M for a 2M entry), a map's target range, a raw `paging.entries`
// page, the page of a given cpu.cr3, or the RMP table itself. Page 0 is never used.
//
// With cpu.cr3 given, the maps are built under that root (its PML4 page), so raw entries and
// built ones can be combined. Upper-level entries a map creates get the flags of its `levels`, or
// P|RW|US; an entry two maps share must not be given different flags.

import { InputError, at } from './errors.ts';
import type { PhysicalMemory } from '../mem/physical.ts';
import { PTE_ADDR_MASK, PTE_BITS } from '../mmu/paging-bits.ts';
import type { PagingSpec, PteFlagName } from './types.ts';

const DEFAULT_UPPER: PteFlagName[] = ['P', 'RW', 'US'];
const AREA_START = 0x100000;

export function flagBits(flags: readonly PteFlagName[]): bigint {
  let v = 0n;
  for (const f of flags) v |= PTE_BITS[f];
  return v;
}

export interface Range { start: number; end: number } // [start, end)

/** Allocates table pages from the documented area, skipping every reserved range. */
export class TableArea {
  private next = AREA_START;
  private wrapped = false;
  readonly pages: number[] = [];

  constructor(private readonly ramBytes: number, private readonly reserved: Range[]) {}

  allocate(): number | undefined {
    for (;;) {
      const limit = this.wrapped ? AREA_START : this.ramBytes;
      if (this.next >= limit) {
        if (this.wrapped) return undefined;
        this.wrapped = true;
        this.next = 0x1000;
        continue;
      }
      const page = this.next;
      const clash = this.reserved.find((r) => page < r.end && r.start < page + 4096);
      if (clash !== undefined) {
        this.next = Math.ceil(clash.end / 4096) * 4096;
        continue;
      }
      this.next += 4096;
      this.pages.push(page);
      return page;
    }
  }
}

export interface BuiltTables {
  cr3: number;
  /** Table pages the builder used, in allocation order. */
  tablePages: number[];
}

const LEVEL_NAMES = ['pml4e', 'pdpte', 'pde', 'pte'] as const;

/**
 * Build `paging.maps` (then write `paging.entries`) into physical memory. `root` is the PML4 page
 * when cpu.cr3 is given. Throws InputError for overlapping maps, conflicting shared entries, or no
 * room for a table.
 */
export function buildPageTables(
  phys: PhysicalMemory, paging: PagingSpec, reserved: Range[], file: string, root?: number,
): BuiltTables {
  const area = new TableArea(phys.size, reserved);
  const alloc = (path: string): number => {
    const page = area.allocate();
    if (page === undefined) throw new InputError(file, path, 'no free 4K page left in RAM for the page tables (docs/scenarios.md, "Page-table area")');
    for (let i = 0; i < 4096; i += 8) phys.writeU64(page + i, 0n);
    return page;
  };
  // Which map created (or declared flags for) each upper entry, to report conflicts.
  const owners = new Map<number, { path: string; explicit: boolean }>();

  if (paging.maps.length > 0 || root !== undefined) {
    const pml4 = root ?? alloc(at('paging', 'maps'));
    paging.maps.forEach((map, i) => {
      const path = at(at('paging', 'maps'), i);
      const leafLevel = map.sizeBytes === 4096 ? 3 : map.sizeBytes === 2 << 20 ? 2 : 1;
      let table = pml4;
      for (let level = 0; level < leafLevel; level++) {
        const shift = 39 - 9 * level;
        const entryPa = table + Math.floor(map.va / 2 ** shift) % 512 * 8;
        const entry = phys.readU64(entryPa);
        const name = LEVEL_NAMES[level] as 'pml4e' | 'pdpte' | 'pde';
        const given = map.levels[name];
        const flags = flagBits(given ?? DEFAULT_UPPER);
        const owner = owners.get(entryPa);
        if (entry === 0n) {
          const next = alloc(path);
          phys.writeU64(entryPa, BigInt(next) | flags);
          owners.set(entryPa, { path, explicit: given !== undefined });
          table = next;
          continue;
        }
        if ((entry & PTE_BITS.PS) !== 0n && level > 0) {
          throw new InputError(file, at(path, 'va'), `overlaps the ${owner ? `${owner.path}` : 'existing'} ${LEVEL_NAMES[level]} that maps a large page`);
        }
        if (given !== undefined && (entry & ~PTE_ADDR_MASK) !== flags) {
          throw new InputError(file, at(at(path, 'levels'), name), `shares its ${name} with ${owner?.path ?? 'an existing entry'}, which has other flags`);
        }
        table = Number(entry & PTE_ADDR_MASK);
      }
      const shift = 39 - 9 * leafLevel;
      const leafPa = table + Math.floor(map.va / 2 ** shift) % 512 * 8;
      if (phys.readU64(leafPa) !== 0n || owners.has(leafPa)) {
        throw new InputError(file, at(path, 'va'), `maps a ${LEVEL_NAMES[leafLevel]} that ${owners.get(leafPa)?.path ?? 'another map'} already uses`);
      }
      phys.writeU64(leafPa, BigInt(map.pa) | flagBits(map.flags) | (leafLevel < 3 ? PTE_BITS.PS : 0n));
      owners.set(leafPa, { path, explicit: true });
    });
    for (const e of paging.entries) phys.writeU64(e.pa, e.value);
    return { cr3: pml4, tablePages: area.pages };
  }
  for (const e of paging.entries) phys.writeU64(e.pa, e.value);
  return { cr3: 0, tablePages: [] };
}
