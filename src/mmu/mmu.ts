// The MMU: linear → system-physical translation for the host (ASID 0), with a TLB, A/D bits, exact
// #PF error codes, a walk trace, and the RMP check as the translation's last stage.
//
// Files (one layer each; every class extends the one below, so the Mmu is one object whose fields
// the hot path reads directly, measured no slower than the single class it was split from):
//   tlb.ts          Tlb: the TLB arrays, fills, INVLPG and every other flush
//   walk.ts         PageWalk: control-derived walk state, the 4-level walk, the RMP stage, A/D commit
//   walk-report.ts  WalkReport: #PF error codes, CpuFault + why, walk traces, observer events, walkTrace
//   mmu.ts          Mmu: LinearMemory (the accesses), control-register and mode setters, stats
//
// Shape (design.md patterns 5-7; QEMU's mmu_translate and Bochs' paging.cc were the models):
// - The hot path (read8..write64, translate) is one direct-mapped TLB probe: the entry's tag must
//   equal the page (plus the ASID) and its rights must hold the bit of the current privilege mode
//   and access kind (permissions.ts). A hit is then one DataView access on the cached frame.
//   Everything else (miss, fault, page crossing, observer attached, TLB off) takes the slow path.
//   2M and 1G pages are also cached as 2M pieces in a small huge-page TLB, so a miss inside one
//   refills the 4K slot without a walk (docs/memory.md, "The TLB").
// - The walk (walk.ts) allocates nothing; priority, the RMP stage and the A/D rule are described
//   there. A/D bits are written only after every check, RMP included, has passed.
// - With an observer attached (`observer`), every access takes the slow path, which reports TLB
//   lookups, walks, A/D writes, RMP checks and each data access (`access`, for the library's
//   memory hooks: no second translation per access).

// Documented choices for spec/rmp.md §9 [I] items (docs/memory.md, "RMP stage"):
// - [I] A/D when the final data RMP check fails: NOT written. The RMP stage runs before the commit,
//   so a faulting access leaves every entry byte-for-byte as it was (all or nothing, as for any other
//   #PF). Test: test/mmu/rmp-stage.test.ts "A/D bits are not written when the final RMP check fails".
// - [I] Error code of a walk-induced RMP fault (a failing EntryRead or AdWrite check): the bits of
//   the access that caused the walk, exactly as for a final-stage RMP fault: RMP | P, W if that
//   access is a write, U if it is a user access, I/D if it is a fetch with EFER.NXE or CR4.SMEP on
//   (the same I/D rule as every #PF). The walker's own A/D write does not set W. CR2 = the linear
//   address of the access. Test: rmp-stage.test.ts "walk-induced RMP faults".
//
// Paging disabled (CR0.PG=0): long mode cannot run without paging, but the reset state and setup
// code have PG=0, so linear = physical with no protection checks, no TLB, and the RMP final check
// as a 4K access. CR0.PG=1 without CR4.PAE=1 and EFER.LME=1 (legacy 32-bit or PAE paging) is not
// modelled: setControlRegisters raises #GP(0) with a why saying so, as does CR4.LA57=1.
//
// Nested stage (issue 7): every read of a paging-structure entry goes through `readTableEntry`
// and every A/D write through `writeTableEntryLow`; a guest MMU overrides those two to translate
// the guest-physical table address through the nested table first. TLB entries carry an ASID
// (host = 0, `setAsid`) in their tag.

import type { PhysicalMemory } from '../mem/physical.ts';
import { CpuFault, Vector, canonicalAddress } from '../cpu/fault.ts';
import { Access, type AccessKind, type LinearMemory } from './linear-memory.ts';
import { TableAccess, type HostRmpCheck, type TableAccessKind } from '../rmp/host-check.ts';
import type { MmuObserver } from './walk-trace.ts';
import * as pagingBits from './paging-bits.ts';
import * as permissions from './permissions.ts';
import * as tlbModule from './tlb.ts';
import * as walkModule from './walk.ts';
import { WalkReport } from './walk-report.ts';

// Module-local bindings of everything the accesses use. Under the tsx and vitest loaders an
// imported binding is read through a getter call at each use (an imported function is called
// through one), which was 14-20% of a walk-heavy program's profile (bench/RESULTS.md, "MMU" and
// "RMP"). Destructuring copies each value once, at load; the imported modules stay the one
// definition of each.
const {
  CR0_WP, CR4_LA57, CR4_PAE, CR4_PGE, CR4_SMAP, CR4_SMEP, EFER_LME, EFER_NXE, PAGE_2M, PAGE_4K, hex,
} = pagingBits;
const { ALL_WRITE_RIGHTS, MODE_IMPLICIT, MODE_SUPERVISOR, MODE_SUPERVISOR_AC, MODE_USER, computeRightsTable, rightBit } = permissions;
const { INVALID_TAG, HUGE_MASK } = tlbModule;
const { OK, RMP_FAULT } = walkModule;
const READ: AccessKind = Access.Read;
const WRITE: AccessKind = Access.Write;
const FETCH: AccessKind = Access.Fetch;
const RMP_4K: number = PAGE_4K;
const RMP_TABLE_NONE: TableAccessKind = TableAccess.None;

/** A rights bit no TLB entry ever has: makes every fast-path probe miss. */
const NO_RIGHTS = 1 << 30;
const LA_SPACE = 281474976710656; // 2^48

export interface MmuStats {
  /** Walks made for real accesses (walkTrace does not count). */
  walks: number;
  tlbHits: number;
  tlbMisses: number;
  /** Calls to the RMP's checkHost (none while SNP is off). */
  rmpChecks: number;
}

export interface MmuOptions {
  /** TLB size, a power of two (default 4096 entries, direct-mapped by linear page number). */
  tlbEntries?: number;
}

export type { WalkTraceOptions } from './walk-report.ts';

export class Mmu extends WalkReport implements LinearMemory {
  high32 = 0;

  // Rights bits the fast path requires: the current mode's, or NO_RIGHTS to force the slow path.
  private needRead = NO_RIGHTS;
  private needWrite = NO_RIGHTS;
  private needFetch = NO_RIGHTS;
  /** Result of the last successful resolve. */
  private resolvedPa = 0;

  constructor(phys: PhysicalMemory, rmp: HostRmpCheck, options: MmuOptions = {}) {
    super(phys, rmp, options.tlbEntries ?? 4096);
    this.updateFastPath();
  }

  /** Stop listening to physical memory (for machines that are thrown away while memory lives on). */
  dispose(): void {
    this.removeFrameListener();
  }

  setCpl(cpl: number): void {
    this.cpl = cpl;
    this.updateMode();
  }

  setAlignmentCheck(ac: boolean): void {
    this.ac = ac;
    this.updateMode();
  }

  /**
   * Make the following accesses implicit supervisor accesses (descriptor tables, TSS...): U=0 in
   * error codes whatever the CPL, and SMAP checked whatever RFLAGS.AC says (Intel SDM Vol.3A §4.6).
   * Call again with false when done.
   */
  setImplicitSupervisor(on: boolean): void {
    this.implicit = on;
    this.updateMode();
  }

  /** ASID that tags new TLB entries and must match on lookup (host = 0; guests, issue 7). */
  setAsid(asid: number): void {
    if (!Number.isInteger(asid) || asid < 0 || asid > 4095) throw new RangeError(`ASID must be 0..4095, got ${asid}`);
    this.tagAsid = asid;
  }

  /**
   * New control-register state, as after a MOV to CR0, CR3 or CR4 or a WRMSR to EFER. Each call is
   * treated as a control-register write: it drops the non-global entries (what a CR3 write does,
   * Intel SDM Vol.3A §4.10.4.1; dropping more than the manual requires is always allowed, §4.10.4.4),
   * and everything when CR0.PG/WP, any CR4 bit, or EFER changed.
   */
  setControlRegisters(cr0: number, cr3: number, cr4: number, efer: number): void {
    const pg = ((cr0 >>> 31) & 1) === 1;
    if (pg && ((cr4 & CR4_PAE) === 0 || (efer & EFER_LME) === 0)) {
      throw new CpuFault(Vector.GP, 0, 0n,
        `CR0.PG=1 needs CR4.PAE=1 and EFER.LME=1: only long-mode 4-level paging is modelled ` +
        `(CR4=${hex(cr4)}, EFER=${hex(efer)})`);
    }
    if ((cr4 & CR4_LA57) !== 0) {
      throw new CpuFault(Vector.GP, 0, 0n, 'CR4.LA57=1: 5-level paging is not supported (CPUID reports no LA57)');
    }
    if (!Number.isSafeInteger(cr3) || cr3 < 0 || cr3 >= LA_SPACE) {
      throw new CpuFault(Vector.GP, 0, 0n,
        `CR3=${hex(cr3)} sets bits above MAXPHYADDR 48 (bits 63:48 are reserved)`);
    }
    const flushAll =
      ((cr0 ^ this.cr0) & (CR0_WP | 0x80000000)) !== 0 || cr4 !== this.cr4 || efer !== this.efer;
    this.cr0 = cr0;
    this.cr3 = cr3;
    this.cr4 = cr4;
    this.efer = efer;
    this.pagingOn = pg;
    this.pml4Pfn = Math.floor(cr3 / PAGE_4K);
    this.nxe = (efer & EFER_NXE) !== 0;
    this.smep = (cr4 & CR4_SMEP) !== 0;
    this.smap = (cr4 & CR4_SMAP) !== 0;
    this.wp = (cr0 & CR0_WP) !== 0;
    this.pge = (cr4 & CR4_PGE) !== 0;
    this.rightsTable = computeRightsTable(this.wp, this.smep, this.smap);
    if (flushAll) this.flushTlb();
    else this.flushNonGlobal();
    this.updateFastPath();
  }

  /** Turn the TLB off (every access walks; for benchmarking walks) or back on. Flushes. */
  get tlbEnabled(): boolean {
    return this.tlbOn;
  }

  set tlbEnabled(on: boolean) {
    this.tlbOn = on;
    this.flushTlb();
    this.updateFastPath();
  }

  /** The trace observer; null (the default) costs nothing on the fast path. */
  get observer(): MmuObserver | null {
    return this.observerSlot;
  }

  set observer(o: MmuObserver | null) {
    this.observerSlot = o;
    this.updateFastPath();
  }

  get stats(): MmuStats {
    return { walks: this.walkCount, tlbHits: this.hitCount, tlbMisses: this.missCount, rmpChecks: this.rmpCheckCount };
  }

  /** Set the counters (a snapshot restore brings back the counts it saved). */
  restoreStats(s: MmuStats): void {
    this.walkCount = s.walks;
    this.hitCount = s.tlbHits;
    this.missCount = s.tlbMisses;
    this.rmpCheckCount = s.rmpChecks;
  }

  resetStats(): void {
    this.walkCount = 0;
    this.hitCount = 0;
    this.missCount = 0;
    this.rmpCheckCount = 0;
  }

  private updateMode(): void {
    this.mode = this.implicit ? MODE_IMPLICIT : this.cpl === 3 ? MODE_USER : this.ac ? MODE_SUPERVISOR_AC : MODE_SUPERVISOR;
    this.updateFastPath();
  }

  private updateFastPath(): void {
    const fast = this.tlbOn && this.pagingOn && this.observerSlot === null;
    this.needRead = fast ? rightBit(this.mode, READ) : NO_RIGHTS;
    this.needWrite = fast ? rightBit(this.mode, WRITE) : NO_RIGHTS;
    this.needFetch = fast ? rightBit(this.mode, FETCH) : NO_RIGHTS;
  }

  read8(la: number): number {
    const i = (la >>> 12) & this.tlbMask;
    if (this.tlbTag[i] === la - (la & 0xfff) + this.tagAsid && (this.tlbRights[i]! & this.needRead) !== 0) {
      this.hitCount++;
      return this.tlbView[i]!.getUint8(la & 0xfff);
    }
    return this.readSlow(la, 1);
  }

  read16(la: number): number {
    const off = la & 0xfff;
    const i = (la >>> 12) & this.tlbMask;
    if (off <= 0xffe && this.tlbTag[i] === la - off + this.tagAsid && (this.tlbRights[i]! & this.needRead) !== 0) {
      this.hitCount++;
      return this.tlbView[i]!.getUint16(off, true);
    }
    return this.readSlow(la, 2);
  }

  read32(la: number): number {
    const off = la & 0xfff;
    const i = (la >>> 12) & this.tlbMask;
    if (off <= 0xffc && this.tlbTag[i] === la - off + this.tagAsid && (this.tlbRights[i]! & this.needRead) !== 0) {
      this.hitCount++;
      return this.tlbView[i]!.getUint32(off, true);
    }
    return this.readSlow(la, 4);
  }

  read64(la: number): number {
    const off = la & 0xfff;
    const i = (la >>> 12) & this.tlbMask;
    if (off <= 0xff8 && this.tlbTag[i] === la - off + this.tagAsid && (this.tlbRights[i]! & this.needRead) !== 0) {
      this.hitCount++;
      const view = this.tlbView[i]!;
      this.high32 = view.getUint32(off + 4, true);
      return view.getUint32(off, true);
    }
    return this.readSlow(la, 8);
  }

  write8(la: number, value: number): void {
    const i = (la >>> 12) & this.tlbMask;
    if (this.tlbTag[i] === la - (la & 0xfff) + this.tagAsid && (this.tlbRights[i]! & this.needWrite) !== 0) {
      this.hitCount++;
      const pfn = this.tlbPfn[i]!;
      if (this.codeMarks[pfn] !== 0) this.phys.onCodeWrite(pfn);
      this.tlbView[i]!.setUint8(la & 0xfff, value);
      return;
    }
    this.writeSlow(la, 1, value, 0);
  }

  write16(la: number, value: number): void {
    const off = la & 0xfff;
    const i = (la >>> 12) & this.tlbMask;
    if (off <= 0xffe && this.tlbTag[i] === la - off + this.tagAsid && (this.tlbRights[i]! & this.needWrite) !== 0) {
      this.hitCount++;
      const pfn = this.tlbPfn[i]!;
      if (this.codeMarks[pfn] !== 0) this.phys.onCodeWrite(pfn);
      this.tlbView[i]!.setUint16(off, value, true);
      return;
    }
    this.writeSlow(la, 2, value, 0);
  }

  write32(la: number, value: number): void {
    const off = la & 0xfff;
    const i = (la >>> 12) & this.tlbMask;
    if (off <= 0xffc && this.tlbTag[i] === la - off + this.tagAsid && (this.tlbRights[i]! & this.needWrite) !== 0) {
      this.hitCount++;
      const pfn = this.tlbPfn[i]!;
      if (this.codeMarks[pfn] !== 0) this.phys.onCodeWrite(pfn);
      this.tlbView[i]!.setUint32(off, value, true);
      return;
    }
    this.writeSlow(la, 4, value, 0);
  }

  write64(la: number, lo: number, hi: number): void {
    const off = la & 0xfff;
    const i = (la >>> 12) & this.tlbMask;
    if (off <= 0xff8 && this.tlbTag[i] === la - off + this.tagAsid && (this.tlbRights[i]! & this.needWrite) !== 0) {
      this.hitCount++;
      const pfn = this.tlbPfn[i]!;
      if (this.codeMarks[pfn] !== 0) this.phys.onCodeWrite(pfn);
      const view = this.tlbView[i]!;
      view.setUint32(off, lo, true);
      view.setUint32(off + 4, hi, true);
      return;
    }
    this.writeSlow(la, 8, lo, hi);
  }

  /** Translate for one access kind: full checks, A/D, TLB fill. Returns the system physical address. */
  translate(la: number, access: AccessKind): number {
    const off = la & 0xfff;
    const i = (la >>> 12) & this.tlbMask;
    const need = access === READ ? this.needRead : access === WRITE ? this.needWrite : this.needFetch;
    if (this.tlbTag[i] === la - off + this.tagAsid && (this.tlbRights[i]! & need) !== 0) {
      this.hitCount++;
      return this.tlbPaBase[i]! + off;
    }
    return this.translateOrThrow(la, access);
  }

  /**
   * Like translate, but returns -1 instead of throwing on a fault; `lastFault()` then builds the
   * CpuFault. For callers that probe many addresses (tests, the kernel's fault handler).
   */
  tryTranslate(la: number, access: AccessKind): number {
    return this.resolve(la, access) ? this.resolvedPa : -1;
  }

  /** Error code of the last failing walk (valid right after tryTranslate returned -1). */
  get lastErrorCode(): number {
    return this.errorCodeOfWalk();
  }

  /** The CpuFault for the last failing walk (valid right after tryTranslate returned -1). */
  lastFault(): CpuFault {
    return this.buildFault();
  }

  /** Check that `length` bytes at `la` can be accessed (every page, every check), setting A/D. */
  probe(la: number, length: number, access: AccessKind): void {
    if (length <= 0) return;
    let page = la - (la & 0xfff);
    const last = (la + length - 1) % LA_SPACE;
    const lastPage = last - (last & 0xfff);
    this.translate(la, access);
    while (page !== lastPage) {
      page = (page + PAGE_4K) % LA_SPACE;
      this.translate(page, access);
    }
  }

  /** Read `length` bytes (all pages translated first; a fault reads nothing). */
  readBytes(la: number, length: number, access: AccessKind = READ): Uint8Array {
    this.probe(la, length, access);
    const out = new Uint8Array(length);
    for (let k = 0; k < length; k++) {
      const a = (la + k) % LA_SPACE;
      out[k] = this.phys.read8(this.translate(a, access));
    }
    return out;
  }

  /** Write bytes (all pages translated for write first; a fault writes nothing). */
  writeBytes(la: number, bytes: ArrayLike<number>): void {
    this.probe(la, bytes.length, WRITE);
    for (let k = 0; k < bytes.length; k++) {
      const a = (la + k) % LA_SPACE;
      this.phys.write8(this.translate(a, WRITE), bytes[k]!);
    }
  }

  private readSlow(la: number, bytes: number): number {
    const off = la & 0xfff;
    let pa: number;
    let lo = 0;
    let hi = 0;
    if (off + bytes <= PAGE_4K) {
      pa = this.translateOrThrow(la, READ);
      // Usually the walk just filled the TLB slot: read through its cached view.
      const i = (la >>> 12) & this.tlbMask;
      const view = this.tlbTag[i] === la - off + this.tagAsid ? this.tlbView[i]! : this.phys.viewForRead(Math.floor(pa / PAGE_4K));
      const o = pa & 0xfff;
      switch (bytes) {
        case 1: lo = view.getUint8(o); break;
        case 2: lo = view.getUint16(o, true); break;
        case 4: lo = view.getUint32(o, true); break;
        default:
          hi = view.getUint32(o + 4, true);
          lo = view.getUint32(o, true);
      }
    } else {
      // Crosses a page: translate both pages before reading a byte (the first page's fault first).
      const first = PAGE_4K - off;
      pa = this.translateOrThrow(la, READ);
      const pa2 = this.translateOrThrow((la - off + PAGE_4K) % LA_SPACE, READ);
      for (let k = bytes - 1; k >= 0; k--) {
        const b = this.phys.read8(k < first ? pa + k : pa2 + (k - first));
        if (k >= 4) hi = hi * 256 + b;
        else lo = lo * 256 + b;
      }
    }
    if (bytes === 8) this.high32 = hi;
    const obs = this.observerSlot;
    if (obs !== null && obs.access !== undefined) obs.access(READ, la, pa, bytes, lo, hi);
    return lo;
  }

  private writeSlow(la: number, bytes: number, lo: number, hi: number): void {
    const off = la & 0xfff;
    if (off + bytes <= PAGE_4K) {
      const pa = this.translateOrThrow(la, WRITE);
      const obs = this.observerSlot;
      if (obs !== null && obs.access !== undefined) obs.access(WRITE, la, pa, bytes, lo, bytes === 8 ? hi : 0);
      // Usually the walk just filled the TLB slot with write rights: write through its view.
      const i = (la >>> 12) & this.tlbMask;
      if (this.tlbTag[i] === la - off + this.tagAsid && (this.tlbRights[i]! & ALL_WRITE_RIGHTS) !== 0) {
        const pfn = this.tlbPfn[i]!;
        if (this.codeMarks[pfn] !== 0) this.phys.onCodeWrite(pfn);
        const view = this.tlbView[i]!;
        switch (bytes) {
          case 1: view.setUint8(off, lo); return;
          case 2: view.setUint16(off, lo, true); return;
          case 4: view.setUint32(off, lo, true); return;
          default:
            view.setUint32(off, lo, true);
            view.setUint32(off + 4, hi, true);
            return;
        }
      }
      if (bytes === 8) {
        this.phys.writeU32(pa, lo >>> 0, 4);
        this.phys.writeU32(pa + 4, hi >>> 0, 4);
      } else {
        this.phys.writeU32(pa, lo >>> 0, bytes);
      }
      return;
    }
    // Crosses a page: both pages pass every check before any byte lands (no partial write).
    const first = PAGE_4K - off;
    const pa1 = this.translateOrThrow(la, WRITE);
    const pa2 = this.translateOrThrow((la - off + PAGE_4K) % LA_SPACE, WRITE);
    const obs = this.observerSlot;
    if (obs !== null && obs.access !== undefined) obs.access(WRITE, la, pa1, bytes, lo, bytes === 8 ? hi : 0);
    for (let k = 0; k < bytes; k++) {
      const b = k < 4 ? (lo >>> (8 * k)) & 0xff : (hi >>> (8 * (k - 4))) & 0xff;
      this.phys.write8(k < first ? pa1 + k : pa2 + (k - first), b);
    }
  }

  private translateOrThrow(la: number, kind: number): number {
    if (!this.resolve(la, kind)) throw this.buildFault();
    return this.resolvedPa;
  }

  /**
   * TLB lookup (reported to the observer), then a walk. True with the SPA in `resolvedPa`, or
   * false after a fault (a status, not the address, so no double is boxed on return).
   */
  private resolve(la: number, kind: number): boolean {
    if (!this.pagingOn) return this.resolveWithoutPaging(la, kind);
    const off = la & 0xfff;
    const i = (la >>> 12) & this.tlbMask;
    const tag = la - off + this.tagAsid;
    if (this.tlbOn) {
      const hit =
        (this.tlbTag[i] === tag && (this.tlbRights[i]! & rightBit(this.mode, kind)) !== 0) ||
        (this.hugeFills !== 0 && this.refillFromHuge(la, rightBit(this.mode, kind)));
      if (hit) this.hitCount++;
      else this.missCount++;
      const obs = this.observerSlot;
      if (obs !== null && obs.tlb !== undefined) obs.tlb({ linearAddress: canonicalAddress(la), access: kind as AccessKind, hit });
      if (hit) {
        this.resolvedPa = this.tlbPaBase[i]! + off;
        return true;
      }
    }
    const outcome = this.walk(la, kind, this.mode, true);
    if (outcome !== OK) {
      // A #PF drops any TLB entry for the faulting address (Intel SDM Vol.3A §4.10.4.1).
      if (this.tlbTag[i] === tag) this.tlbTag[i] = INVALID_TAG;
      const h = (la >>> 21) & HUGE_MASK;
      if (this.hugeTag[h] === la - (la & (PAGE_2M - 1)) + this.tagAsid) this.hugeTag[h] = INVALID_TAG;
      return false;
    }
    this.resolvedPa = this.wPa;
    return true;
  }

  /** CR0.PG=0: linear = physical; only the RMP final check (as 4K) applies. */
  private resolveWithoutPaging(la: number, kind: number): boolean {
    this.resetWalk(la, kind, this.mode, true);
    this.wPa = la;
    this.wPageBytes = PAGE_4K;
    if (this.rmp.enabled && !this.rmpCheck(la, kind, RMP_4K, RMP_TABLE_NONE)) {
      this.wOutcome = RMP_FAULT;
      this.notifyWalk();
      return false;
    }
    this.notifyWalk();
    this.resolvedPa = la;
    return true;
  }
}

// Entry bits re-exported for tools that build tables (tests, kernel, scenario builder).
export { E_A, E_D, E_G, E_P, E_PS, E_RW, E_US, HI_NX } from './paging-bits.ts';
