// The TLB of the MMU (docs/memory.md, "The TLB"): a direct-mapped main TLB of 4K pieces, each
// holding its frame's DataView so that a hit is one typed-array access, and a small huge-page TLB
// of 2M pieces (of 2M and 1G pages) that refills the main TLB without a walk. This file holds the
// storage, the fills and every flush; the walk (walk.ts) decides what to install, and the Mmu
// (mmu.ts) probes the arrays directly on its fast path.
//
// Flushes follow Intel SDM Vol.3A §4.10.4: INVLPG drops the page of an address whatever its size,
// a CR3 write the non-global entries, a change of paging-mode bits everything; RMPUPDATE and PSMASH
// drop what overlaps the changed range (spec/rmp.md §4, `flushPhysicalRange`); a copy-on-write split
// of a frame drops the slots caching its bytes (`flushFrame`, O(1) when none does).
//
// Layering (one class per file, each extending the one below, so that the Mmu is one object whose
// fields the hot path reads directly): Tlb (tlb.ts) <- PageWalk (walk.ts) <- WalkReport
// (walk-report.ts) <- Mmu (mmu.ts).

import type { PhysicalMemory } from '../mem/physical.ts';
import * as pagingBits from './paging-bits.ts';
import * as permissions from './permissions.ts';

// Module-local bindings of imported values used on hot paths (see mmu.ts: under tsx and vitest
// each use of an imported binding is a getter call). paging-bits.ts and permissions.ts stay the one
// definition of each.
const { PAGE_2M, PAGE_4K } = pagingBits;
const { ALL_WRITE_RIGHTS } = permissions;

/** Tag of an empty slot (no linear page base plus ASID is negative). */
export const INVALID_TAG = -1;
/** Entries of the huge-page TLB (2M pieces, direct-mapped on la / 2M). */
export const HUGE_ENTRIES = 512;
export const HUGE_MASK = HUGE_ENTRIES - 1;
/** What an empty slot holds until its first fill (never read: its tag never matches). */
export const PLACEHOLDER_VIEW = new DataView(new ArrayBuffer(PAGE_4K));

export class Tlb {
  /** ASID that tags new entries and must match on lookup (host = 0). */
  protected tagAsid = 0;
  /** False: every access walks (for benchmarking walks). */
  protected tlbOn = true;

  // The TLB: one slot per entry, direct-mapped on the linear page number, each a 4K piece.
  protected readonly tlbMask: number;
  protected readonly tlbTag: Float64Array; // linear page base + ASID, or INVALID_TAG
  protected readonly tlbRights: Int32Array; // permissions.ts bits
  protected readonly tlbView: DataView[]; // the frame's bytes
  protected readonly tlbPfn: Int32Array; // RAM pfn of the piece (for code marks), -1 beyond RAM
  protected readonly tlbPaBase: Float64Array; // physical base of the 4K piece
  protected readonly tlbGlobal: Uint8Array;
  protected readonly tlbAsid: Uint16Array;
  protected readonly tlbPageBase: Float64Array; // linear base of the whole page (4K/2M/1G)
  protected readonly tlbPageBytes: Float64Array;
  protected readonly tlbMapPhysBase: Float64Array; // physical base of the whole page
  protected readonly tlbTablePa: Float64Array; // 4 per slot: page-table pages the walk read, -1 unused
  // The huge-page TLB: 2M pieces of 2M and 1G pages, direct-mapped on la / 2M. It holds no frame
  // bytes; a hit installs the 4K piece in the main TLB (as a second-level TLB would).
  protected readonly hugeTag = new Float64Array(HUGE_ENTRIES).fill(INVALID_TAG);
  protected readonly hugeRights = new Int32Array(HUGE_ENTRIES);
  protected readonly hugePaBase = new Float64Array(HUGE_ENTRIES);
  protected readonly hugeGlobal = new Uint8Array(HUGE_ENTRIES);
  protected readonly hugeAsid = new Uint16Array(HUGE_ENTRIES);
  protected readonly hugePageBase = new Float64Array(HUGE_ENTRIES);
  protected readonly hugePageBytes = new Float64Array(HUGE_ENTRIES);
  protected readonly hugeMapPhysBase = new Float64Array(HUGE_ENTRIES);
  protected readonly hugeTablePa = new Float64Array(HUGE_ENTRIES * 4).fill(-1);
  /** Non-zero once a 2M/1G translation was cached since the last full flush. */
  protected hugeFills = 0;
  protected readonly codeMarks: Uint8Array;
  /**
   * Per RAM frame, how many main-TLB slots hold its bytes (`tlbPfn`), saturating at 255 (then
   * "scan to know"). Lets `flushFrame` (a copy-on-write split) return at once for a frame the TLB
   * does not hold. Stale slots (tag invalidated, pfn kept) still count until overwritten or flushed.
   */
  protected readonly frameRefs: Uint8Array;
  protected frameRefsSaturated = false;

  constructor(readonly phys: PhysicalMemory, entries: number) {
    if (!Number.isInteger(entries) || entries < 1 || (entries & (entries - 1)) !== 0 || entries > 1 << 20) {
      throw new RangeError(`tlbEntries must be a power of two between 1 and 2^20, got ${entries}`);
    }
    this.tlbMask = entries - 1;
    this.tlbTag = new Float64Array(entries).fill(INVALID_TAG);
    this.tlbRights = new Int32Array(entries);
    this.tlbView = new Array<DataView>(entries).fill(PLACEHOLDER_VIEW);
    this.tlbPfn = new Int32Array(entries).fill(-1);
    this.tlbPaBase = new Float64Array(entries);
    this.tlbGlobal = new Uint8Array(entries);
    this.tlbAsid = new Uint16Array(entries);
    this.tlbPageBase = new Float64Array(entries);
    this.tlbPageBytes = new Float64Array(entries);
    this.tlbMapPhysBase = new Float64Array(entries);
    this.tlbTablePa = new Float64Array(entries * 4).fill(-1);
    this.codeMarks = phys.codeMarks;
    this.frameRefs = new Uint8Array(phys.frameCount);
  }

  /** INVLPG: drop the translation of `la`, global or not, whatever the size of its page. */
  invlpg(la: number): void {
    const i = (la >>> 12) & this.tlbMask;
    if (this.tlbAsid[i] === this.tagAsid && this.tlbTag[i] === la - (la & 0xfff) + this.tagAsid) {
      this.tlbTag[i] = INVALID_TAG;
    }
    if (this.hugeFills === 0) return;
    // A 2M or 1G page is cached as 4K pieces in many slots and as 2M pieces in the huge-page TLB:
    // drop every piece of the page holding la.
    for (let h = 0; h < HUGE_ENTRIES; h++) {
      if (this.hugeTag[h] !== INVALID_TAG && this.hugeAsid[h] === this.tagAsid) {
        const base = this.hugePageBase[h]!;
        if (la >= base && la < base + this.hugePageBytes[h]!) this.hugeTag[h] = INVALID_TAG;
      }
    }
    for (let j = 0; j <= this.tlbMask; j++) {
      if (this.tlbTag[j] !== INVALID_TAG && this.tlbAsid[j] === this.tagAsid && this.tlbPageBytes[j] > PAGE_4K) {
        const base = this.tlbPageBase[j];
        if (la >= base && la < base + this.tlbPageBytes[j]) this.tlbTag[j] = INVALID_TAG;
      }
    }
  }

  /** Drop every translation (all ASIDs, global ones too). */
  flushTlb(): void {
    this.tlbTag.fill(INVALID_TAG);
    this.dropFrameRefs();
    if (this.hugeFills !== 0) this.hugeTag.fill(INVALID_TAG);
    this.hugeFills = 0;
  }

  /** Drop the current ASID's non-global translations (a CR3 write). */
  flushNonGlobal(): void {
    const asid = this.tagAsid;
    for (let i = 0; i <= this.tlbMask; i++) {
      if (this.tlbGlobal[i] === 0 && this.tlbAsid[i] === asid) this.tlbTag[i] = INVALID_TAG;
    }
    if (this.hugeFills === 0) return;
    for (let h = 0; h < HUGE_ENTRIES; h++) {
      if (this.hugeGlobal[h] === 0 && this.hugeAsid[h] === asid) this.hugeTag[h] = INVALID_TAG;
    }
  }

  /**
   * Drop every translation whose page, or any page-table page its walk read, overlaps
   * [spa, spa + bytes). Called after RMPUPDATE and PSMASH (spec/rmp.md §4): the cached rights
   * include a passing RMP result for the whole mapping (all 512 entries for a 2M page).
   */
  flushPhysicalRange(spa: number, bytes: number): void {
    const end = spa + bytes;
    for (let h = 0; h < HUGE_ENTRIES && this.hugeFills !== 0; h++) {
      if (this.hugeTag[h] === INVALID_TAG) continue;
      const base = this.hugeMapPhysBase[h]!;
      if (base < end && spa < base + this.hugePageBytes[h]!) {
        this.hugeTag[h] = INVALID_TAG;
        continue;
      }
      for (let d = 0; d < 4; d++) {
        const t = this.hugeTablePa[h * 4 + d]!;
        if (t >= 0 && t < end && spa < t + PAGE_4K) {
          this.hugeTag[h] = INVALID_TAG;
          break;
        }
      }
    }
    for (let i = 0; i <= this.tlbMask; i++) {
      if (this.tlbTag[i] === INVALID_TAG) continue;
      const base = this.tlbMapPhysBase[i];
      if (base < end && spa < base + this.tlbPageBytes[i]) {
        this.tlbTag[i] = INVALID_TAG;
        continue;
      }
      for (let d = 0; d < 4; d++) {
        const t = this.tlbTablePa[i * 4 + d]!;
        if (t >= 0 && t < end && spa < t + PAGE_4K) {
          this.tlbTag[i] = INVALID_TAG;
          break;
        }
      }
    }
  }

  /**
   * Drop entries that cache frame `pfn`'s bytes (its backing array was replaced). O(1) when no
   * slot holds the frame (`frameRefs`), a scan of the TLB otherwise.
   */
  protected flushFrame(pfn: number): void {
    const refs = this.frameRefs;
    if (pfn >= refs.length || refs[pfn] === 0) return;
    const tlbPfn = this.tlbPfn;
    for (let i = 0; i <= this.tlbMask; i++) {
      if (tlbPfn[i] === pfn) {
        this.tlbTag[i] = INVALID_TAG;
        tlbPfn[i] = -1;
      }
    }
    if (refs[pfn] !== 255) refs[pfn] = 0;
  }

  /** Forget which frames the TLB holds (every slot is being invalidated). */
  protected dropFrameRefs(): void {
    const tlbPfn = this.tlbPfn;
    if (this.frameRefsSaturated) {
      this.frameRefs.fill(0);
      tlbPfn.fill(-1);
      this.frameRefsSaturated = false;
      return;
    }
    const refs = this.frameRefs;
    for (let i = 0; i <= this.tlbMask; i++) {
      const p = tlbPfn[i]!;
      if (p >= 0) {
        refs[p] = 0;
        tlbPfn[i] = -1;
      }
    }
  }

  /** Fill the 4K slot of `la`. Beyond RAM, writes are dropped by the slow path: no write rights. */
  protected installPiece(
    la: number, rights: number, paBase: number, global: number,
    linearPageBase: number, pageBytes: number, mapPhysBase: number,
  ): void {
    const i = (la >>> 12) & this.tlbMask;
    const pfn = paBase / PAGE_4K;
    const inRam = pfn < this.phys.frameCount;
    let r = rights;
    if (!inRam) r &= ~ALL_WRITE_RIGHTS;
    const view = (r & ALL_WRITE_RIGHTS) !== 0 ? this.phys.viewForWrite(pfn)! : this.phys.viewForCache(pfn);
    const refs = this.frameRefs;
    const old = this.tlbPfn[i]!;
    if (old >= 0 && refs[old] !== 255) refs[old]--;
    if (inRam) {
      if (refs[pfn] === 254) this.frameRefsSaturated = true;
      if (refs[pfn] !== 255) refs[pfn]++;
    }
    this.tlbTag[i] = la - (la & 0xfff) + this.tagAsid;
    this.tlbRights[i] = r;
    this.tlbView[i] = view;
    this.tlbPfn[i] = inRam ? pfn : -1;
    this.tlbPaBase[i] = paBase;
    this.tlbGlobal[i] = global;
    this.tlbAsid[i] = this.tagAsid;
    this.tlbPageBase[i] = linearPageBase;
    this.tlbPageBytes[i] = pageBytes;
    this.tlbMapPhysBase[i] = mapPhysBase;
    if (pageBytes > PAGE_4K) this.hugeFills++;
  }

  /**
   * A 4K miss inside a cached 2M piece: install the 4K piece from it when the piece grants `need`
   * (the rights bit of the access, permissions.ts). True on success.
   */
  protected refillFromHuge(la: number, need: number): boolean {
    const h = (la >>> 21) & HUGE_MASK;
    const pieceLa = la - (la & (PAGE_2M - 1));
    if (this.hugeTag[h] !== pieceLa + this.tagAsid || (this.hugeRights[h]! & need) === 0) return false;
    const within = (la & (PAGE_2M - 1)) - (la & 0xfff);
    this.installPiece(la, this.hugeRights[h]!, this.hugePaBase[h]! + within, this.hugeGlobal[h]!,
      this.hugePageBase[h]!, this.hugePageBytes[h]!, this.hugeMapPhysBase[h]!);
    const i = (la >>> 12) & this.tlbMask;
    for (let d = 0; d < 4; d++) this.tlbTablePa[i * 4 + d] = this.hugeTablePa[h * 4 + d]!;
    return true;
  }
}
