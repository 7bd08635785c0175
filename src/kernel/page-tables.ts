// The process's 4-level page tables, built in emulated physical memory (Intel SDM Vol.3A §4.5;
// AMD APM Vol.2 §5.3). Levels are numbered as the manuals' tables are nested: 4 = PML4, 3 = PDPT,
// 2 = PD, 1 = PT. A leaf at level 3 maps 1 GiB (PS=1 in the PDPTE), at level 2 maps 2 MiB (PS=1 in
// the PDE), at level 1 maps 4 KiB.
//
// Every write goes through KernelMemory, so it is an RMP-checked kernel write (set_pte and friends).

import { PTE_ADDR_MASK, PTE_BITS } from '../mmu/paging-bits.ts';
import { KERNEL_RIP, PAGE_TABLE_FLAGS, SIZE_1G, SIZE_2M, SIZE_4K } from './constants.ts';
import type { FrameAllocator } from './frame-allocator.ts';
import type { KernelMemory } from './kernel-memory.ts';

export type Level = 1 | 2 | 3 | 4;
export const LEVEL_NAMES: Record<Level, string> = { 4: 'PML4E', 3: 'PDPTE', 2: 'PDE', 1: 'PTE' };
export const TABLE_LEVEL: Record<'pml4' | 'pdpt' | 'pd' | 'pt', Level> = { pml4: 4, pdpt: 3, pd: 2, pt: 1 };

/** Bytes a leaf at `level` maps. */
export function levelBytes(level: Level): number {
  return level === 1 ? SIZE_4K : level === 2 ? SIZE_2M : SIZE_1G;
}

export function levelOfBytes(bytes: number): Level {
  if (bytes === SIZE_4K) return 1;
  if (bytes === SIZE_2M) return 2;
  if (bytes === SIZE_1G) return 3;
  throw new RangeError(`no page size of ${bytes} bytes`);
}

/** Index of `va` in a table of `level` (9 bits per level above the 12-bit page offset). */
export function indexAt(va: number, level: Level): number {
  return Math.floor(va / 2 ** (12 + 9 * (level - 1))) % 512;
}

export function entryAddress(value: bigint): number {
  return Number(value & PTE_ADDR_MASK);
}

export function isPresent(value: bigint): boolean {
  return (value & PTE_BITS.P) !== 0n;
}

/** Is the entry a leaf: always at level 1, with PS at levels 2 and 3. */
export function isLeaf(value: bigint, level: Level): boolean {
  return level === 1 || ((level === 2 || level === 3) && (value & PTE_BITS.PS) !== 0n);
}

/** Frame address of a leaf: 2M/1G leaves keep the PAT bit at 12, so mask it out. */
export function leafFrame(value: bigint, level: Level): number {
  if (level === 1) return entryAddress(value);
  return entryAddress(value) & ~(levelBytes(level) - 1);
}

/** One entry the walk read. */
export interface WalkStep {
  level: Level;
  entryPa: number;
  value: bigint;
}

/** What lookup_address_in_pgd returns: the entry that maps `va` (maybe not present). */
export interface LeafRef {
  level: Level;
  entryPa: number;
  value: bigint;
}

/** Describe an entry's flags, e.g. "P RW US A D NX". */
export function describeFlags(value: bigint, level: Level): string {
  const names: string[] = [];
  if (value & PTE_BITS.P) names.push('P');
  if (value & PTE_BITS.RW) names.push('RW');
  if (value & PTE_BITS.US) names.push('US');
  if (value & PTE_BITS.A) names.push('A');
  if (value & PTE_BITS.D) names.push('D');
  if (level !== 1 && level !== 4 && value & PTE_BITS.PS) names.push('PS');
  if (value & PTE_BITS.G) names.push('G');
  if (value & PTE_BITS.NX) names.push('NX');
  return names.length === 0 ? 'none' : names.join(' ');
}

export class PageTables {
  /** Physical address of the PML4 (CR3). */
  readonly root: number;
  /** Table pages this address space owns, for teardown and for the livelock detector. */
  readonly tablePages = new Set<number>();

  constructor(
    private readonly kmem: KernelMemory,
    private readonly frames: FrameAllocator,
  ) {
    this.root = this.allocTable('pgd_alloc: the PML4');
  }

  /** Allocate and clear a page-table page; its physical address. */
  allocTable(what: string): number {
    const pfn = this.frames.alloc4K();
    this.kmem.zeroFrames(pfn, 1, KERNEL_RIP.clear_page, what);
    this.tablePages.add(pfn * SIZE_4K);
    return pfn * SIZE_4K;
  }

  freeTable(pa: number): void {
    this.tablePages.delete(pa);
    this.frames.free(pa / SIZE_4K);
  }

  /** Read the entries a hardware walk of `va` reads, down to a leaf or a non-present entry. */
  walk(va: number): WalkStep[] {
    const steps: WalkStep[] = [];
    let table = this.root;
    for (let level = 4 as Level; ; level = (level - 1) as Level) {
      const entryPa = table + indexAt(va, level) * 8;
      const value = this.kmem.readU64(entryPa);
      steps.push({ level, entryPa, value });
      if (!isPresent(value) || isLeaf(value, level) || level === 1) return steps;
      table = entryAddress(value);
    }
  }

  /**
   * Linux lookup_address_in_pgd (arch/x86/mm/pat/set_memory.c): null when the PML4E, PDPTE or PDE on
   * the way is none (all zero); otherwise the entry at the level that maps `va`, which may be a
   * non-present entry (a none PTE, or a non-present huge entry).
   */
  lookup(va: number): LeafRef | null {
    let table = this.root;
    for (let level = 4 as Level; ; level = (level - 1) as Level) {
      const entryPa = table + indexAt(va, level) * 8;
      const value = this.kmem.readU64(entryPa);
      if (level === 1) return { level, entryPa, value };
      if (value === 0n) return null;
      if (level !== 4 && (isLeaf(value, level) || !isPresent(value))) return { level, entryPa, value };
      if (!isPresent(value)) return null;
      table = entryAddress(value);
    }
  }

  /** Physical address of the table page at `level` that the walk of `va` uses, or null. */
  tableOf(va: number, level: Level): number | null {
    let table = this.root;
    for (let l = 4 as Level; l > level; l = (l - 1) as Level) {
      const value = this.kmem.readU64(table + indexAt(va, l) * 8);
      if (!isPresent(value) || isLeaf(value, l)) return null;
      table = entryAddress(value);
    }
    return table;
  }

  /**
   * Make sure the tables down to `leafLevel` exist for `va` (pud_alloc, pmd_alloc, pte_alloc) and
   * return the physical address of the slot for a leaf at `leafLevel`. A huge leaf in the way is a
   * bug of the caller (it must split first).
   */
  ensureSlot(va: number, leafLevel: Level): number {
    let table = this.root;
    for (let level = 4 as Level; level > leafLevel; level = (level - 1) as Level) {
      const entryPa = table + indexAt(va, level) * 8;
      const value = this.kmem.readU64(entryPa);
      if (isPresent(value)) {
        if (isLeaf(value, level)) {
          throw new Error(`internal: a ${LEVEL_NAMES[level]} huge leaf maps 0x${va.toString(16)}; split it first`);
        }
        table = entryAddress(value);
        continue;
      }
      const next = this.allocTable(`${level === 4 ? 'p4d/pud' : level === 3 ? 'pmd' : 'pte'}_alloc for 0x${va.toString(16)}`);
      this.setEntry(entryPa, BigInt(next) | PAGE_TABLE_FLAGS, `populate ${LEVEL_NAMES[level]} for 0x${va.toString(16)}`);
      table = next;
    }
    return table + indexAt(va, leafLevel) * 8;
  }

  readEntry(entryPa: number): bigint {
    return this.kmem.readU64(entryPa);
  }

  setEntry(entryPa: number, value: bigint, what: string): void {
    this.kmem.writeEntry(entryPa, value, KERNEL_RIP.set_pte, what);
  }
}
