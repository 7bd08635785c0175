// The long-mode 4-level walk (AMD APM Vol.2 §5.3-5.6; Intel SDM Vol.3A §4.5-4.8) and its RMP
// stage (spec/rmp.md §3.2), over the TLB of tlb.ts. The walk goes one level at a time and records
// what it read in scratch typed arrays; it allocates nothing. Faults leave it through `endWalk`
// with an outcome; the CpuFault, its `why` and the walk trace are built from the scratch state
// (walk-report.ts) only when someone asks.
//
// Priority (Intel SDM Vol.3A §4.7; AMD APM Vol.2 §5.6, §8.4.2): a not-present entry (P=0) ends
// the walk; a reserved bit in a present entry ends it (RSVD=1); then the combined rights
// (U/S, R/W, NX, SMEP, SMAP); last the RMP stage: every page-table entry the walk read
// (TableAccess.EntryRead), every A/D write it will make (TableAccess.AdWrite, as 4K), then the
// final SPA with the mapping size (TableAccess.None). A/D bits are written only after every check,
// RMP included, has passed: A in every entry used, D in the leaf on a write (Intel SDM Vol.3A §4.8).
//
// Nested stage (issue 7): every read of a paging-structure entry goes through `readTableEntry`
// and every A/D write through `writeTableEntryLow`; a guest MMU overrides those two to translate
// the guest-physical table address through the nested table first.

import type { PhysicalMemory } from '../mem/physical.ts';
import type { AccessKind } from './linear-memory.ts';
import { Access } from './linear-memory.ts';
import { TableAccess, type HostRmpCheck, type RmpCheckFailure, type TableAccessKind } from '../rmp/host-check.ts';
import * as pagingBits from './paging-bits.ts';
import * as permissions from './permissions.ts';
import type { AdWriteTrace, MmuObserver, RmpCheckTrace } from './walk-trace.ts';
import * as tlbModule from './tlb.ts';
import { Tlb } from './tlb.ts';

// Module-local bindings of everything the walk uses. Under the tsx and vitest loaders an imported
// binding is read through a getter call at each use (an imported function is called through one),
// which was 14-20% of a walk-heavy program's profile (bench/RESULTS.md, "MMU" and "RMP").
// Destructuring copies each value once, at load; the imported modules stay the one definition.
const {
  E_A, E_D, E_G, E_P, E_PS, HI_ADDR_MASK, HI_NX, HI_RSVD_ABOVE_MAXPHYADDR,
  LO_FRAME_1G, LO_FRAME_2M, LO_FRAME_4K, LO_RSVD_PDE_2M, LO_RSVD_PDPTE_1G,
  LO_RSVD_PDPTE_TABLE, LO_RSVD_PML4E, PAGE_1G, PAGE_2M, PAGE_4K, TWO_32,
} = pagingBits;
const { ALL_WRITE_RIGHTS, MODE_SUPERVISOR, computeRightsTable, rightBit } = permissions;
const { HUGE_MASK, PLACEHOLDER_VIEW } = tlbModule;
const WRITE: number = Access.Write;
const RMP_4K: number = PAGE_4K;
const RMP_READ: number = Access.Read;
const RMP_WRITE: number = Access.Write;
const RMP_TABLE_NONE: TableAccessKind = TableAccess.None;
const RMP_TABLE_ENTRY_READ: TableAccessKind = TableAccess.EntryRead;
const RMP_TABLE_AD_WRITE: TableAccessKind = TableAccess.AdWrite;

/** Walk outcomes. */
export const OK = 0;
export const NOT_PRESENT = 1;
export const RESERVED = 2;
export const PROTECTION = 3;
export const RMP_FAULT = 4;
/** rmpStage: every check passed. */
const NO_RMP_FAILURE = -2;

export abstract class PageWalk extends Tlb {
  // Control state.
  protected cr0 = 0;
  protected cr3 = 0;
  protected cr4 = 0;
  protected efer = 0;
  protected pagingOn = false;
  protected pml4Pfn = 0;
  protected nxe = false;
  protected smep = false;
  protected smap = false;
  protected wp = false;
  protected pge = false;
  protected rightsTable: Int32Array = computeRightsTable(false, false, false);
  protected cpl = 0;
  protected ac = false;
  protected implicit = false;
  protected mode = MODE_SUPERVISOR;
  protected observerSlot: MmuObserver | null = null;

  // Counters (plain fields: a hit costs one increment).
  protected walkCount = 0;
  protected hitCount = 0;
  protected missCount = 0;
  protected rmpCheckCount = 0;

  // Walk scratch, indexed by depth (0 = PML4E ... 3 = PTE).
  protected readonly wEntryPa = new Float64Array(4);
  protected readonly tableViewPfn = new Float64Array(4).fill(-1);
  protected readonly tableViews: DataView[] = [];
  protected readonly wLo = new Uint32Array(4);
  protected readonly wHi = new Uint32Array(4);
  protected readonly wAdNewLo = new Uint32Array(4);
  protected wDepth = 0;
  protected wLeafDepth = -1;
  protected wFaultDepth = -1;
  protected wRsvdLo = 0;
  protected wRsvdHi = 0;
  protected wLa = 0;
  protected wKind = 0;
  protected wMode = 0;
  protected wOutcome = OK;
  protected wPa = 0;
  protected wPageBytes = 0;
  protected wRightsIndex = 0;
  protected wCommitted = false;
  protected wAdNeeded = false;
  /**
   * RMP checks made by this walk. Not recorded one by one (two stores per check were a third of
   * the RMP stage's cost in the MMU): the sequence is fixed by the walk scratch, so `rmpTraceAt`
   * rebuilds check n from it.
   */
  protected wRmpCount = 0;
  protected wRmpFailure: RmpCheckFailure | null = null;
  protected readonly removeFrameListener: () => void;

  constructor(phys: PhysicalMemory, readonly rmp: HostRmpCheck, tlbEntries: number) {
    super(phys, tlbEntries);
    this.tableViews.push(PLACEHOLDER_VIEW, PLACEHOLDER_VIEW, PLACEHOLDER_VIEW, PLACEHOLDER_VIEW);
    // A replaced frame (copy-on-write split, snapshot, restore) makes cached views stale.
    this.removeFrameListener = phys.addFrameReplacedListener((pfn) => {
      this.tableViewPfn.fill(-1);
      if (pfn < 0) this.flushTlb();
      else this.flushFrame(pfn);
    });
  }

  /**
   * Read entry `index` of the table in frame `tablePfn` into the walk scratch at `depth`
   * (0 = PML4E). The one place the walk reads tables: a nested (guest) MMU overrides it to
   * translate the guest-physical table frame through the nested page table first (issue 7).
   */
  protected readTableEntry(tablePfn: number, index: number, depth: number): void {
    // Consecutive walks mostly read the same table pages: keep the last view per level. Views
    // come from viewForCache (a never-written table frame is allocated, so the view cannot go
    // stale on its first write); a replaced frame clears this cache (see the frame listener).
    let view: DataView;
    if (this.tableViewPfn[depth] === tablePfn) {
      view = this.tableViews[depth]!;
    } else {
      view = this.phys.viewForCache(tablePfn);
      this.tableViewPfn[depth] = tablePfn;
      this.tableViews[depth] = view;
    }
    const off = index << 3;
    this.wLo[depth] = view.getUint32(off, true);
    this.wHi[depth] = view.getUint32(off + 4, true);
    this.wEntryPa[depth] = tablePfn * PAGE_4K + off;
  }

  /** Write the low half of an entry (A/D update); the one place the walk writes tables. */
  protected writeTableEntryLow(entryPa: number, lo: number): void {
    this.phys.writeU32(entryPa, lo >>> 0, 4);
  }

  protected resetWalk(la: number, kind: number, mode: number, commit: boolean): void {
    this.wLa = la;
    this.wKind = kind;
    this.wMode = mode;
    this.wCommitted = commit;
    this.wDepth = 0;
    this.wLeafDepth = -1;
    this.wFaultDepth = -1;
    this.wRsvdLo = 0;
    this.wRsvdHi = 0;
    this.wRmpCount = 0;
    this.wRmpFailure = null;
    this.wPa = -1;
    this.wPageBytes = 0;
    this.wOutcome = OK;
    this.wAdNeeded = false;
  }

  /**
   * Walk the 4-level tables for `la`. With `commit`, a successful walk writes A/D bits, fills the
   * TLB, counts, and tells the observer; without it (walkTrace) it changes nothing.
   * Written out level by level (design.md pattern 6); frame numbers are computed from the two
   * 32-bit halves of each entry, so the walk does no division and no BigInt.
   */
  protected walk(la: number, kind: number, mode: number, commit: boolean): number {
    this.resetWalk(la, kind, mode, commit);
    if (commit) this.walkCount++;
    const rsvdHi = this.nxe ? HI_RSVD_ABOVE_MAXPHYADDR : HI_RSVD_ABOVE_MAXPHYADDR | HI_NX;
    const laLo = la >>> 0; // bits 31:0
    const laHi = (la - laLo) * 2.3283064365386963e-10; // bits 47:32 (exact: times 2^-32)
    const wLo = this.wLo;
    const wHi = this.wHi;
    let pageBase: number;
    let pageBytes: number;
    let andLo: number;
    let orHi: number;
    let lo: number;
    let hi: number;
    leaf: {
      // PML4E: bits 47:39.
      this.readTableEntry(this.pml4Pfn, (laHi >>> 7) & 511, 0);
      lo = wLo[0]!;
      hi = wHi[0]!;
      this.wDepth = 1;
      if ((lo & E_P) === 0) return this.endWalk(NOT_PRESENT, 0);
      if ((lo & LO_RSVD_PML4E) !== 0 || (hi & rsvdHi) !== 0) return this.endReserved(0, lo & LO_RSVD_PML4E, hi & rsvdHi);
      andLo = lo;
      orHi = hi;
      // PDPTE: bits 38:30.
      this.readTableEntry((hi & HI_ADDR_MASK) * 1048576 + (lo >>> 12), ((laHi & 0x7f) << 2) | (laLo >>> 30), 1);
      lo = wLo[1]!;
      hi = wHi[1]!;
      this.wDepth = 2;
      if ((lo & E_P) === 0) return this.endWalk(NOT_PRESENT, 1);
      if ((lo & E_PS) !== 0) {
        if ((lo & LO_RSVD_PDPTE_1G) !== 0 || (hi & rsvdHi) !== 0) return this.endReserved(1, lo & LO_RSVD_PDPTE_1G, hi & rsvdHi);
        this.wLeafDepth = 1;
        pageBytes = PAGE_1G;
        pageBase = (hi & HI_ADDR_MASK) * TWO_32 + ((lo & LO_FRAME_1G) >>> 0);
        andLo &= lo;
        orHi |= hi;
        break leaf;
      }
      if ((lo & LO_RSVD_PDPTE_TABLE) !== 0 || (hi & rsvdHi) !== 0) return this.endReserved(1, lo & LO_RSVD_PDPTE_TABLE, hi & rsvdHi);
      andLo &= lo;
      orHi |= hi;
      // PDE: bits 29:21.
      this.readTableEntry((hi & HI_ADDR_MASK) * 1048576 + (lo >>> 12), (laLo >>> 21) & 511, 2);
      lo = wLo[2]!;
      hi = wHi[2]!;
      this.wDepth = 3;
      if ((lo & E_P) === 0) return this.endWalk(NOT_PRESENT, 2);
      if ((lo & E_PS) !== 0) {
        if ((lo & LO_RSVD_PDE_2M) !== 0 || (hi & rsvdHi) !== 0) return this.endReserved(2, lo & LO_RSVD_PDE_2M, hi & rsvdHi);
        this.wLeafDepth = 2;
        pageBytes = PAGE_2M;
        pageBase = (hi & HI_ADDR_MASK) * TWO_32 + ((lo & LO_FRAME_2M) >>> 0);
        andLo &= lo;
        orHi |= hi;
        break leaf;
      }
      if ((hi & rsvdHi) !== 0) return this.endReserved(2, 0, hi & rsvdHi);
      andLo &= lo;
      orHi |= hi;
      // PTE: bits 20:12.
      this.readTableEntry((hi & HI_ADDR_MASK) * 1048576 + (lo >>> 12), (laLo >>> 12) & 511, 3);
      lo = wLo[3]!;
      hi = wHi[3]!;
      this.wDepth = 4;
      if ((lo & E_P) === 0) return this.endWalk(NOT_PRESENT, 3);
      if ((hi & rsvdHi) !== 0) return this.endReserved(3, 0, hi & rsvdHi);
      this.wLeafDepth = 3;
      pageBytes = PAGE_4K;
      pageBase = (hi & HI_ADDR_MASK) * TWO_32 + ((lo & LO_FRAME_4K) >>> 0);
      andLo &= lo;
      orHi |= hi;
    }
    const rw = (andLo >>> 1) & 1;
    const us = (andLo >>> 2) & 1;
    const nx = orHi >>> 31;
    const leafDepth = this.wLeafDepth;
    const rightsIndex = rw | (us << 1) | (nx << 2);
    this.wRightsIndex = rightsIndex;
    this.wPageBytes = pageBytes;
    this.wPa = pageBase + (la & (pageBytes - 1));
    const rights = this.rightsTable[rightsIndex]!;
    if ((rights & rightBit(mode, kind)) === 0) return this.endWalk(PROTECTION, -1);

    // The A/D bits this access will set: A in every entry used, D in the leaf on a write.
    // (Steady state: A already set everywhere, D too or not a write, so nothing to do.)
    const adNeeded = (andLo & E_A) === 0 || (kind === WRITE && (lo & E_D) === 0);
    this.wAdNeeded = adNeeded;
    if (adNeeded) {
      for (let d = 0; d <= leafDepth; d++) {
        let next = this.wLo[d]! | E_A;
        if (d === leafDepth && kind === WRITE) next |= E_D;
        this.wAdNewLo[d] = next;
      }
    }

    // The RMP stage, after every paging check (spec/rmp.md §3.2): each table read and each A/D
    // write as a 4K access, in walk order, then the final SPA with the mapping size.
    if (this.rmp.enabled) {
      const failedAt = this.rmpStage(leafDepth, adNeeded, kind, pageBytes);
      if (failedAt !== NO_RMP_FAILURE) return this.endWalk(RMP_FAULT, failedAt);
    }

    if (!commit) return OK;
    // Every check passed: now, and only now, set A/D bits (choice documented in the header).
    const obs = this.observerSlot;
    for (let d = 0; adNeeded && d <= leafDepth; d++) {
      const next = this.wAdNewLo[d]!;
      if (next !== this.wLo[d]) {
        this.writeTableEntryLow(this.wEntryPa[d]!, next);
        if (obs !== null && obs.adWrite !== undefined) obs.adWrite(this.adWriteTrace(d));
      }
    }
    if (this.tlbOn) this.fill(la, kind, rights, pageBase, pageBytes);
    if (obs !== null) this.notifyWalk();
    return OK;
  }

  protected endReserved(depth: number, rsvdLo: number, rsvdHi: number): number {
    this.wRsvdLo = rsvdLo >>> 0;
    this.wRsvdHi = rsvdHi >>> 0;
    return this.endWalk(RESERVED, depth);
  }

  protected endWalk(outcome: number, depth: number): number {
    this.wOutcome = outcome;
    this.wFaultDepth = depth;
    if (this.wCommitted && this.observerSlot !== null) this.notifyWalk();
    return outcome;
  }

  /**
   * The RMP stage of a walk whose paging checks all passed: each entry read and each A/D write it
   * will make as 4K, in walk order, then the final SPA with the mapping size. Returns
   * NO_RMP_FAILURE, or the depth of the entry whose check failed (-1: the final check).
   * `rmpTraceAt` replays this order: change both together.
   */
  protected rmpStage(leafDepth: number, adNeeded: boolean, kind: number, pageBytes: number): number {
    for (let d = 0; d <= leafDepth; d++) {
      const entryPa = this.wEntryPa[d]!;
      if (!this.rmpCheck(entryPa, RMP_READ, RMP_4K, RMP_TABLE_ENTRY_READ)) return d;
      if (adNeeded && this.wAdNewLo[d] !== this.wLo[d] && !this.rmpCheck(entryPa, RMP_WRITE, RMP_4K, RMP_TABLE_AD_WRITE)) {
        return d;
      }
    }
    if (!this.rmpCheck(this.wPa, kind, pageBytes, RMP_TABLE_NONE)) return -1;
    return NO_RMP_FAILURE;
  }

  /** One RMP check, counted for the trace (a failure always ends the walk); true when it passed. */
  protected rmpCheck(spa: number, access: number, mapBytes: number, table: TableAccessKind): boolean {
    const failure = this.rmp.checkHost(spa, access as AccessKind, mapBytes, table);
    const n = this.wRmpCount;
    this.wRmpCount = n + 1;
    if (failure !== null) this.wRmpFailure = failure;
    if (this.wCommitted) {
      this.rmpCheckCount++;
      if (this.observerSlot !== null) this.notifyRmpCheck(n);
    }
    return failure === null;
  }

  private notifyRmpCheck(n: number): void {
    const obs = this.observerSlot;
    if (obs !== null && obs.rmpCheck !== undefined) obs.rmpCheck(this.rmpTraceAt(n));
  }

  /** Install the translation just walked: its 4K piece, and for a 2M/1G page its 2M piece too. */
  protected fill(la: number, kind: number, rights: number, pageBase: number, pageBytes: number): void {
    // Write rights only from a write walk: it set D and passed the RMP write check (pattern 5).
    let r = rights;
    if (kind !== WRITE) r &= ~ALL_WRITE_RIGHTS;
    const global = this.pge && (this.wLo[this.wLeafDepth]! & E_G) !== 0 ? 1 : 0;
    const linearPageBase = la - (la & (pageBytes - 1));
    this.installPiece(la, r, pageBase + ((la & (pageBytes - 1)) - (la & 0xfff)), global, linearPageBase, pageBytes, pageBase);
    const tables = this.tlbTablePa;
    const i = (la >>> 12) & this.tlbMask;
    for (let d = 0; d < 4; d++) {
      const e = this.wEntryPa[d]!;
      tables[i * 4 + d] = d <= this.wLeafDepth ? e - (e & 0xfff) : -1;
    }
    if (pageBytes === PAGE_4K) return;
    // The 2M piece, in the huge-page TLB: later misses anywhere in it refill without walking.
    // A 1G page is cached as 2M pieces, as SNP hardware does (spec/rmp.md §3.1: the RMP check of a
    // 1G mapping covers the 2M sub-region, so a 2M piece carries exactly one passing result).
    const h = (la >>> 21) & HUGE_MASK;
    const pieceLa = la - (la & (PAGE_2M - 1));
    this.hugeTag[h] = pieceLa + this.tagAsid;
    this.hugeRights[h] = r;
    this.hugePaBase[h] = pageBase + (pieceLa - linearPageBase);
    this.hugeGlobal[h] = global;
    this.hugeAsid[h] = this.tagAsid;
    this.hugePageBase[h] = linearPageBase;
    this.hugePageBytes[h] = pageBytes;
    this.hugeMapPhysBase[h] = pageBase;
    for (let d = 0; d < 4; d++) this.hugeTablePa[h * 4 + d] = tables[i * 4 + d]!;
    this.hugeFills++;
  }

  /**
   * Check n of this walk, rebuilt from the scratch in the order `rmpStage` makes them. A walk
   * without paging (wLeafDepth < 0: CR0.PG=0) makes one check, the final one, as 4K.
   */
  protected rmpTraceAt(n: number): RmpCheckTrace {
    const failure = n === this.wRmpCount - 1 ? this.wRmpFailure : null;
    let k = 0;
    for (let d = 0; d <= this.wLeafDepth; d++) {
      const spa = this.wEntryPa[d]!;
      if (k++ === n) return { spa, access: Access.Read, mapBytes: PAGE_4K, table: TableAccess.EntryRead, level: 4 - d, failure };
      if (this.wAdNeeded && this.wAdNewLo[d] !== this.wLo[d] && k++ === n) {
        return { spa, access: Access.Write, mapBytes: PAGE_4K, table: TableAccess.AdWrite, level: 4 - d, failure };
      }
    }
    return { spa: this.wPa, access: this.wKind as AccessKind, mapBytes: this.wPageBytes, table: TableAccess.None, level: 0, failure };
  }

  protected adWriteTrace(d: number): AdWriteTrace {
    const hi = BigInt(this.wHi[d]!) << 32n;
    return {
      level: 4 - d,
      entryAddress: this.wEntryPa[d]!,
      before: hi | BigInt(this.wLo[d]!),
      after: hi | BigInt(this.wAdNewLo[d]!),
    };
  }

  /** Tell the observer about the walk just made (walk-report.ts builds the trace). */
  protected abstract notifyWalk(): void;
}
