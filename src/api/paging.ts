// `machine.map()`: page tables for a bare machine, built by the same builder as a scenario's
// `paging.maps` (src/scenario/page-tables.ts), so a mapping means the same in both places.
//
// Where the tables go: the builder's documented area (docs/scenarios.md, "Page-table area"): the
// first free 4 KiB pages from 1 MiB up, skipping the RMP table, every page written with
// `writePhysical` or given an RMP state before the call, every mapped target range, and the pages
// earlier calls used for tables. `machine.pageTables` lists the pages in use.

import { buildPageTables, type Range } from '../scenario/page-tables.ts';
import { InputError } from '../scenario/errors.ts';
import type { PhysicalMemory } from '../mem/physical.ts';
import type { PteFlagName } from '../scenario/types.ts';

export type PageSize = '4K' | '2M' | '1G';
export type { PteFlagName };

const PAGE_BYTES: Record<PageSize, number> = { '4K': 4096, '2M': 2 << 20, '1G': 1 << 30 };
export const PTE_FLAG_NAMES: readonly PteFlagName[] = ['P', 'RW', 'US', 'PWT', 'PCD', 'A', 'D', 'G', 'NX'];

export interface MapRequest {
  /** Linear address (canonical; aligned to the page size). */
  va: bigint | number;
  /** Physical address (aligned to the page size). */
  pa: bigint | number;
  /** Page size (default '4K'). */
  size?: PageSize;
  /** Leaf flags (default P, RW). Add 'US' for CPL 3 code and data, 'NX' for no-execute. */
  flags?: PteFlagName[];
  /** Flags of the upper-level entries this map creates (default P, RW, US). */
  levels?: { pml4e?: PteFlagName[]; pdpte?: PteFlagName[]; pde?: PteFlagName[] };
}

/** The facade's paging bookkeeping (saved in snapshots with the rest of its state). */
export interface PagingState {
  root: number | null;
  tablePages: number[];
  /** 4 KiB pages the table builder must avoid, as pfns. */
  avoidPfns: Set<number>;
}

export class MapError extends Error {
  override name = 'MapError';
}

function toNumber(v: bigint | number, what: string): number {
  const n = typeof v === 'bigint' ? Number(BigInt.asUintN(64, v)) : v;
  if (!Number.isSafeInteger(n) || n < 0) throw new MapError(`map: ${what} ${String(v)} is not an address`);
  return n;
}

/** Note pages the tables must not use (bytes the user placed, RMP pages, map targets). */
export function avoidRange(state: PagingState, pa: number, bytes: number): void {
  // Huge ranges (a 1G map target) are kept as their pages only up to a bound: beyond it the builder
  // would skip them anyway because the target is passed as a range.
  const first = Math.floor(pa / 4096);
  const last = Math.floor((pa + Math.max(bytes, 1) - 1) / 4096);
  if (last - first > 1024) return;
  for (let pfn = first; pfn <= last; pfn++) state.avoidPfns.add(pfn);
}

function rangesOf(state: PagingState, extra: Range[]): Range[] {
  const out: Range[] = [...extra, { start: 0, end: 4096 }];
  for (const pfn of state.avoidPfns) out.push({ start: pfn * 4096, end: pfn * 4096 + 4096 });
  for (const p of state.tablePages) out.push({ start: p, end: p + 4096 });
  return out;
}

/** Build one mapping; returns the PML4 page (CR3) the tables hang from. */
export function mapPage(phys: PhysicalMemory, state: PagingState, req: MapRequest, reserved: Range[]): number {
  const size = req.size ?? '4K';
  const sizeBytes = PAGE_BYTES[size];
  if (sizeBytes === undefined) throw new MapError(`map: size must be "4K", "2M" or "1G", got ${JSON.stringify(size)}`);
  const vaBig = BigInt.asUintN(64, BigInt(req.va));
  const top = vaBig >> 47n;
  if (top !== 0n && top !== (1n << 17n) - 1n) throw new MapError(`map: va 0x${vaBig.toString(16)} is not canonical`);
  const va = Number(vaBig & ((1n << 48n) - 1n));
  const pa = toNumber(req.pa, 'pa');
  if (va % sizeBytes !== 0 || pa % sizeBytes !== 0) {
    throw new MapError(`map: va 0x${va.toString(16)} and pa 0x${pa.toString(16)} must both be aligned to the page size ${size}`);
  }
  for (const f of [...(req.flags ?? []), ...Object.values(req.levels ?? {}).flat()]) {
    if (!PTE_FLAG_NAMES.includes(f)) throw new MapError(`map: unknown flag "${f}"; flags are ${PTE_FLAG_NAMES.join(', ')}`);
  }
  const ranges = rangesOf(state, [...reserved, { start: pa, end: pa + sizeBytes }]);
  try {
    const built = buildPageTables(phys, {
      maps: [{ va, pa, sizeBytes, flags: req.flags ?? ['P', 'RW'], levels: req.levels ?? {} }],
      entries: [],
    }, ranges, '<map>', state.root ?? undefined);
    state.root = built.cr3;
    state.tablePages.push(...built.tablePages);
  } catch (e) {
    if (e instanceof InputError) throw new MapError(`map(va 0x${va.toString(16)}, ${size}): ${e.problem}`);
    throw e;
  }
  avoidRange(state, pa, sizeBytes);
  return state.root!;
}
