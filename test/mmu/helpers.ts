// Test fixtures: a tiny page-table builder over PhysicalMemory and fake RMP checks.
// Kept apart from src/ so the tests do not reuse the implementation's own encodings.

import { PhysicalMemory } from '../../src/mem/physical.ts';
import { Mmu } from '../../src/mmu/mmu.ts';
import type { HostRmpCheck, RmpCheckFailure, TableAccessKind } from '../../src/rmp/host-check.ts';
import type { AccessKind } from '../../src/mmu/linear-memory.ts';

// Entry bits, spelled out from Intel SDM Vol.3A table 4-19/4-20 rather than imported.
export const P = 0x1n, RW = 0x2n, US = 0x4n, PWT = 0x8n, PCD = 0x10n, A = 0x20n, D = 0x40n, PS = 0x80n, G = 0x100n;
export const NX = 1n << 63n;

// Control registers used by the conformance scenarios: cr0 PG|WP|NE|ET|MP|PE, cr4 PAE|SMEP|SMAP,
// efer NXE|LMA|LME.
export const CR0_PG_WP = 0x80010033;
export const CR0_PG_NOWP = 0x80000033;
export const CR4_PAE = 0x20, CR4_PGE = 0x80, CR4_SMEP = 1 << 20, CR4_SMAP = 1 << 21;
export const EFER_LME_LMA = 0x500, EFER_NXE = 0x800;

export const SIZE_4K = 0x1000, SIZE_2M = 0x200000, SIZE_1G = 0x40000000;

/** Page tables built in physical memory from a bump allocator of 4K table pages. */
export class TableBuilder {
  private nextTable: number;
  constructor(readonly phys: PhysicalMemory, readonly cr3 = 0x1000, firstFree = 0x2000) {
    this.nextTable = firstFree;
  }

  private allocTable(): number {
    const pa = this.nextTable;
    this.nextTable += 0x1000;
    for (let i = 0; i < 0x1000; i += 4) this.phys.writeU32(pa + i, 0, 4);
    return pa;
  }

  /** Address of the entry for `va` at `level` (4..1), creating tables down to it with `upper` flags. */
  entryAddress(va: number, level: number, upper: bigint = P | RW | US): number {
    let table = this.cr3;
    for (let l = 4; l > level; l--) {
      const e = table + idx(va, l) * 8;
      let v = this.phys.readU64(e);
      if ((v & P) === 0n) {
        v = BigInt(this.allocTable()) | upper;
        this.phys.writeU64(e, v);
      }
      table = Number(v & 0x000ffffffffff000n);
    }
    return table + idx(va, level) * 8;
  }

  /** Map one page: leaf entry = pa | flags, upper levels created with `upper` flags. */
  map(va: number, pa: number, size: number, flags: bigint, upper: bigint = P | RW | US): number {
    const level = size === SIZE_4K ? 1 : size === SIZE_2M ? 2 : 3;
    const leafBits = level === 1 ? 0n : PS;
    const e = this.entryAddress(va, level, upper);
    this.phys.writeU64(e, BigInt(pa) | flags | leafBits);
    return e;
  }
}

export function idx(va: number, level: number): number {
  return Number((BigInt(va) >> BigInt(12 + 9 * (level - 1))) & 511n);
}

/** A HostRmpCheck whose verdicts are set per (pfn, table kind), recording every call. */
export class FakeRmp implements HostRmpCheck {
  enabled = true;
  /** Fail these pfns for data writes (table = None). */
  failWrite = new Set<number>();
  /** Fail these pfns for table entry reads (EntryRead) when checkWalkReads is on. */
  failEntryRead = new Set<number>();
  /** Fail these pfns for A/D writes (AdWrite). */
  failAdWrite = new Set<number>();
  checkWalkReads = true;
  calls: { spa: number; access: AccessKind; mapBytes: number; table: TableAccessKind }[] = [];

  checkHost(spa: number, access: AccessKind, mapBytes: number, table: TableAccessKind): RmpCheckFailure | null {
    this.calls.push({ spa, access, mapBytes, table });
    const pfn = Math.floor(spa / 4096);
    let fail = false;
    if (table === 0 && access === 1) fail = this.failWrite.has(pfn);
    if (table === 1 && this.checkWalkReads) fail = this.failEntryRead.has(pfn);
    if (table === 2) fail = this.failAdWrite.has(pfn);
    return fail ? { pfn, check: 'Hypervisor-Owned', why: `pfn 0x${pfn.toString(16)} is assigned (fake)` } : null;
  }
}

/** RMP checks off (SNP disabled): every check passes and none is made. */
export const NO_RMP: HostRmpCheck = { enabled: false, checkHost: () => null };

export function newMachine(memBytes = 64 * 1024 * 1024, rmp: HostRmpCheck = NO_RMP) {
  const phys = new PhysicalMemory(memBytes);
  const mmu = new Mmu(phys, rmp);
  const tables = new TableBuilder(phys);
  return { phys, mmu, tables };
}

/** Long mode with the given extra CR0/CR4/EFER bits. */
export function enablePaging(mmu: Mmu, opts: { wp?: boolean; nxe?: boolean; smep?: boolean; smap?: boolean; pge?: boolean; cr3?: number } = {}) {
  const cr0 = opts.wp === false ? CR0_PG_NOWP : CR0_PG_WP;
  let cr4 = CR4_PAE;
  if (opts.smep) cr4 |= CR4_SMEP;
  if (opts.smap) cr4 |= CR4_SMAP;
  if (opts.pge) cr4 |= CR4_PGE;
  const efer = EFER_LME_LMA | (opts.nxe === false ? 0 : EFER_NXE);
  mmu.setControlRegisters(cr0, opts.cr3 ?? 0x1000, cr4, efer);
}

/** Run fn and return the thrown CpuFault (fails the test if nothing is thrown). */
export function faultOf(fn: () => unknown): import('../../src/cpu/fault.ts').CpuFault {
  try {
    fn();
  } catch (e) {
    return e as import('../../src/cpu/fault.ts').CpuFault;
  }
  throw new Error('expected a fault, none was raised');
}
