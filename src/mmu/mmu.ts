// The MMU: linear → system-physical translation for the host (ASID 0), with a TLB, A/D bits, exact
// #PF error codes, a walk trace, and the RMP check as the translation's last stage.
//
// Shape (design.md patterns 5-7; QEMU's mmu_translate and Bochs' paging.cc were the models):
// - The hot path (read8..write64, translate) is one direct-mapped TLB probe: the entry's tag must
//   equal the page (plus the ASID) and its rights must hold the bit of the current privilege mode
//   and access kind (permissions.ts). A hit is then one DataView access on the cached frame.
//   Everything else (miss, fault, page crossing, observer attached, TLB off) takes the slow path.
//   2M and 1G pages are also cached as 2M pieces in a small huge-page TLB, so a miss inside one
//   refills the 4K slot without a walk (docs/memory.md, "The TLB").
// - The walk (`walk`) goes one level at a time and records what it read in scratch typed arrays;
//   it allocates nothing. Faults leave it through `endWalk` with an outcome; the CpuFault, its `why`
//   and the walk trace are built from the scratch state only when a fault is thrown.
// - Priority (Intel SDM Vol.3A §4.7; AMD APM Vol.2 §5.6, §8.4.2): a not-present entry (P=0) ends
//   the walk; a reserved bit in a present entry ends it (RSVD=1); then the combined rights
//   (U/S, R/W, NX, SMEP, SMAP); last the RMP stage (spec/rmp.md §3.2 "Priority"): every page-table
//   entry the walk read (TableAccess.EntryRead), every A/D write it will make (TableAccess.AdWrite,
//   as 4K), then the final SPA with the mapping size (TableAccess.None).
// - A/D bits are written only after every check, RMP included, has passed. A in every entry used,
//   D in the leaf on a write (Intel SDM Vol.3A §4.8).
//
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

import { PhysicalMemory, PAGE_SIZE } from '../mem/physical.ts';
import { CpuFault, PfErr, Vector, canonicalAddress } from '../cpu/fault.ts';
import { Access, type AccessKind, type LinearMemory } from './linear-memory.ts';
import { TableAccess, type HostRmpCheck, type RmpCheckFailure, type TableAccessKind } from '../rmp/host-check.ts';
import {
  CR0_WP, CR4_LA57, CR4_PAE, CR4_PGE, CR4_SMAP, CR4_SMEP, EFER_LME, EFER_NXE,
  E_A, E_D, E_G, E_P, E_PS, E_RW, E_US, HI_ADDR_MASK, HI_NX, HI_RSVD_ABOVE_MAXPHYADDR,
  LEVEL_NAMES, LO_FRAME_1G, LO_FRAME_2M, LO_FRAME_4K, LO_RSVD_PDE_2M, LO_RSVD_PDPTE_1G,
  LO_RSVD_PDPTE_TABLE, LO_RSVD_PML4E, PAGE_1G, PAGE_2M, PAGE_4K, TWO_32,
  decodeFlags, describeReservedBits, entryIndex, hex, hex64,
} from './paging-bits.ts';
import {
  ALL_WRITE_RIGHTS, MODE_IMPLICIT, MODE_NAMES, MODE_SUPERVISOR, MODE_SUPERVISOR_AC, MODE_USER,
  computeRightsTable, rightBit,
} from './permissions.ts';
import {
  ACCESS_NAMES, type AdWriteTrace, type FaultReason, type LevelTrace, type MmuObserver,
  type RmpCheckTrace, type WalkFault, type WalkTrace,
} from './walk-trace.ts';

/** Walk outcomes. */
const OK = 0;
const NOT_PRESENT = 1;
const RESERVED = 2;
const PROTECTION = 3;
const RMP_FAULT = 4;
const REASONS: FaultReason[] = ['protection', 'not-present', 'reserved', 'protection', 'rmp'];

/** A rights bit no TLB entry ever has: makes every fast-path probe miss. */
const NO_RIGHTS = 1 << 30;
const INVALID_TAG = -1;
const LA_SPACE = 281474976710656; // 2^48
const MAX_RMP_CHECKS = 12;
const HUGE_ENTRIES = 512;
const HUGE_MASK = HUGE_ENTRIES - 1; // 4 entry reads + 4 A/D writes + 1 final, with room

// Module-local copies of the imported values the RMP stage uses on every walk with SNP on. Under
// the tsx and vitest loaders an imported binding is read through a getter call at each use; with
// five checks per 4K walk that was most of the RMP stage's cost (bench/RESULTS.md, section "RMP";
// docs/rmp.md "Measured" saw the same in src/rmp).
const RMP_4K: number = PAGE_4K;
const RMP_2M: number = PAGE_2M;
const RMP_READ: number = Access.Read;
const RMP_WRITE: number = Access.Write;
const RMP_TABLE_NONE: TableAccessKind = TableAccess.None;
const RMP_TABLE_ENTRY_READ: TableAccessKind = TableAccess.EntryRead;
const RMP_TABLE_AD_WRITE: TableAccessKind = TableAccess.AdWrite;

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

export interface WalkTraceOptions {
  /** Privilege level to walk as (default: the current CPL). */
  cpl?: number;
  /** RFLAGS.AC to walk with (default: the current value). */
  ac?: boolean;
  /** Walk as an implicit supervisor access (default: the current setting). */
  implicit?: boolean;
}

export class Mmu implements LinearMemory {
  high32 = 0;

  // Control state.
  private cr0 = 0;
  private cr3 = 0;
  private cr4 = 0;
  private efer = 0;
  private pagingOn = false;
  private pml4Pfn = 0;
  private nxe = false;
  private smep = false;
  private smap = false;
  private wp = false;
  private pge = false;
  private rightsTable: Int32Array = computeRightsTable(false, false, false);
  private cpl = 0;
  private ac = false;
  private implicit = false;
  private mode = MODE_SUPERVISOR;
  private tlbOn = true;
  private observerSlot: MmuObserver | null = null;
  private tagAsid = 0;

  // Rights bits the fast path requires: the current mode's, or NO_RIGHTS to force the slow path.
  private needRead = NO_RIGHTS;
  private needWrite = NO_RIGHTS;
  private needFetch = NO_RIGHTS;

  // The TLB: one slot per entry, direct-mapped on the linear page number, each a 4K piece.
  private readonly tlbMask: number;
  private readonly tlbTag: Float64Array; // linear page base + ASID, or INVALID_TAG
  private readonly tlbRights: Int32Array; // permissions.ts bits
  private readonly tlbView: DataView[]; // the frame's bytes
  private readonly tlbPfn: Int32Array; // RAM pfn of the piece (for code marks), -1 beyond RAM
  private readonly tlbPaBase: Float64Array; // physical base of the 4K piece
  private readonly tlbGlobal: Uint8Array;
  private readonly tlbAsid: Uint16Array;
  private readonly tlbPageBase: Float64Array; // linear base of the whole page (4K/2M/1G)
  private readonly tlbPageBytes: Float64Array;
  private readonly tlbMapPhysBase: Float64Array; // physical base of the whole page
  private readonly tlbTablePa: Float64Array; // 4 per slot: page-table pages the walk read, -1 unused
  // The huge-page TLB: 2M pieces of 2M and 1G pages, direct-mapped on la / 2M. It holds no frame
  // bytes; a hit installs the 4K piece in the main TLB (as a second-level TLB would).
  private readonly hugeTag = new Float64Array(HUGE_ENTRIES).fill(INVALID_TAG);
  private readonly hugeRights = new Int32Array(HUGE_ENTRIES);
  private readonly hugePaBase = new Float64Array(HUGE_ENTRIES);
  private readonly hugeGlobal = new Uint8Array(HUGE_ENTRIES);
  private readonly hugeAsid = new Uint16Array(HUGE_ENTRIES);
  private readonly hugePageBase = new Float64Array(HUGE_ENTRIES);
  private readonly hugePageBytes = new Float64Array(HUGE_ENTRIES);
  private readonly hugeMapPhysBase = new Float64Array(HUGE_ENTRIES);
  private readonly hugeTablePa = new Float64Array(HUGE_ENTRIES * 4).fill(-1);
  /** Non-zero once a 2M/1G translation was cached since the last full flush. */
  private hugeFills = 0;
  private readonly codeMarks: Uint8Array;
  private readonly removeFrameListener: () => void;

  // Counters (plain fields: a hit costs one increment).
  private walkCount = 0;
  private hitCount = 0;
  private missCount = 0;
  private rmpCheckCount = 0;

  // Walk scratch, indexed by depth (0 = PML4E ... 3 = PTE).
  private eLo = 0;
  private eHi = 0;
  private readonly wEntryPa = new Float64Array(4);
  private readonly tableViewPfn = new Float64Array(4).fill(-1);
  private readonly tableViews: DataView[] = [];
  private readonly wLo = new Uint32Array(4);
  private readonly wHi = new Uint32Array(4);
  private readonly wAdNewLo = new Uint32Array(4);
  private wDepth = 0;
  private wLeafDepth = -1;
  private wFaultDepth = -1;
  private wRsvdLo = 0;
  private wRsvdHi = 0;
  private wLa = 0;
  private wKind = 0;
  private wMode = 0;
  private wOutcome = OK;
  private wPa = 0;
  private wPageBytes = 0;
  private wRightsIndex = 0;
  private wCommitted = false;
  /** Result of the last successful resolve. */
  private resolvedPa = 0;
  private wAdNeeded = false;
  private wRmpCount = 0;
  private readonly wRmpSpa = new Float64Array(MAX_RMP_CHECKS);
  /** access | table << 2 | level << 4 | size code (0 = 4K, 1 = 2M, 2 = 1G) << 8 */
  private readonly wRmpInfo = new Int32Array(MAX_RMP_CHECKS);
  private wRmpFailure: RmpCheckFailure | null = null;

  constructor(
    readonly phys: PhysicalMemory,
    readonly rmp: HostRmpCheck,
    options: MmuOptions = {},
  ) {
    const entries = options.tlbEntries ?? 4096;
    if (!Number.isInteger(entries) || entries < 1 || (entries & (entries - 1)) !== 0 || entries > 1 << 20) {
      throw new RangeError(`tlbEntries must be a power of two between 1 and 2^20, got ${entries}`);
    }
    this.tlbMask = entries - 1;
    this.tlbTag = new Float64Array(entries).fill(INVALID_TAG);
    this.tlbRights = new Int32Array(entries);
    const placeholder = new DataView(new ArrayBuffer(PAGE_SIZE));
    this.tlbView = new Array<DataView>(entries).fill(placeholder);
    this.tlbPfn = new Int32Array(entries).fill(-1);
    this.tlbPaBase = new Float64Array(entries);
    this.tlbGlobal = new Uint8Array(entries);
    this.tlbAsid = new Uint16Array(entries);
    this.tlbPageBase = new Float64Array(entries);
    this.tlbPageBytes = new Float64Array(entries);
    this.tlbMapPhysBase = new Float64Array(entries);
    this.tlbTablePa = new Float64Array(entries * 4).fill(-1);
    this.codeMarks = phys.codeMarks;
    this.tableViews.push(placeholder, placeholder, placeholder, placeholder);
    this.removeFrameListener = phys.addFrameReplacedListener((pfn) => {
      this.tableViewPfn.fill(-1);
      if (pfn < 0) this.flushTlb();
      else this.flushFrame(pfn);
    });
    this.updateFastPath();
  }

  /** Stop listening to physical memory (for machines that are thrown away while memory lives on). */
  dispose(): void {
    this.removeFrameListener();
  }

  // ---------------------------------------------------------------------------------------------
  // Mode setters (LinearMemory)

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

  // ---------------------------------------------------------------------------------------------
  // TLB control

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

  /** Drop entries that cache frame `pfn`'s bytes (its backing array was replaced). */
  private flushFrame(pfn: number): void {
    for (let i = 0; i <= this.tlbMask; i++) {
      if (this.tlbPfn[i] === pfn) this.tlbTag[i] = INVALID_TAG;
    }
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
    this.needRead = fast ? rightBit(this.mode, Access.Read) : NO_RIGHTS;
    this.needWrite = fast ? rightBit(this.mode, Access.Write) : NO_RIGHTS;
    this.needFetch = fast ? rightBit(this.mode, Access.Fetch) : NO_RIGHTS;
  }

  // ---------------------------------------------------------------------------------------------
  // Accesses (LinearMemory). Fast path: one TLB probe; anything else goes to the *Slow methods.

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
    const need = access === Access.Read ? this.needRead : access === Access.Write ? this.needWrite : this.needFetch;
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
  readBytes(la: number, length: number, access: AccessKind = Access.Read): Uint8Array {
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
    this.probe(la, bytes.length, Access.Write);
    for (let k = 0; k < bytes.length; k++) {
      const a = (la + k) % LA_SPACE;
      this.phys.write8(this.translate(a, Access.Write), bytes[k]!);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Slow paths

  private readSlow(la: number, bytes: number): number {
    const off = la & 0xfff;
    if (off + bytes <= PAGE_4K) {
      const pa = this.translateOrThrow(la, Access.Read);
      // Usually the walk just filled the TLB slot: read through its cached view.
      const i = (la >>> 12) & this.tlbMask;
      const view = this.tlbTag[i] === la - off + this.tagAsid ? this.tlbView[i]! : this.phys.viewForRead(Math.floor(pa / PAGE_4K));
      const o = pa & 0xfff;
      switch (bytes) {
        case 1: return view.getUint8(o);
        case 2: return view.getUint16(o, true);
        case 4: return view.getUint32(o, true);
        default:
          this.high32 = view.getUint32(o + 4, true);
          return view.getUint32(o, true);
      }
    }
    // Crosses a page: translate both pages before reading a byte (the first page's fault first).
    const first = PAGE_4K - off;
    const pa1 = this.translateOrThrow(la, Access.Read);
    const pa2 = this.translateOrThrow((la - off + PAGE_4K) % LA_SPACE, Access.Read);
    let lo = 0;
    let hi = 0;
    for (let k = bytes - 1; k >= 0; k--) {
      const b = this.phys.read8(k < first ? pa1 + k : pa2 + (k - first));
      if (k >= 4) hi = hi * 256 + b;
      else lo = lo * 256 + b;
    }
    if (bytes === 8) this.high32 = hi;
    return lo;
  }

  private writeSlow(la: number, bytes: number, lo: number, hi: number): void {
    const off = la & 0xfff;
    if (off + bytes <= PAGE_4K) {
      const pa = this.translateOrThrow(la, Access.Write);
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
    const pa1 = this.translateOrThrow(la, Access.Write);
    const pa2 = this.translateOrThrow((la - off + PAGE_4K) % LA_SPACE, Access.Write);
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
        (this.hugeFills !== 0 && this.refillFromHuge(la, kind));
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
    if (this.rmp.enabled && !this.rmpCheck(la, kind, RMP_4K, RMP_TABLE_NONE, 0)) {
      this.wOutcome = RMP_FAULT;
      this.notifyWalk();
      return false;
    }
    this.notifyWalk();
    this.resolvedPa = la;
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // The walk

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

  private resetWalk(la: number, kind: number, mode: number, commit: boolean): void {
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
  private walk(la: number, kind: number, mode: number, commit: boolean): number {
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
    const adNeeded = (andLo & E_A) === 0 || (kind === Access.Write && (lo & E_D) === 0);
    this.wAdNeeded = adNeeded;
    if (adNeeded) {
      for (let d = 0; d <= leafDepth; d++) {
        let next = this.wLo[d]! | E_A;
        if (d === leafDepth && kind === Access.Write) next |= E_D;
        this.wAdNewLo[d] = next;
      }
    }

    // The RMP stage, after every paging check (spec/rmp.md §3.2): each table read and each A/D
    // write as a 4K access, in walk order, then the final SPA with the mapping size.
    if (this.rmp.enabled) {
      for (let d = 0; d <= leafDepth; d++) {
        const entryPa = this.wEntryPa[d]!;
        if (!this.rmpCheck(entryPa, RMP_READ, RMP_4K, RMP_TABLE_ENTRY_READ, 4 - d)) {
          return this.endWalk(RMP_FAULT, d);
        }
        if (adNeeded && this.wAdNewLo[d] !== this.wLo[d] &&
            !this.rmpCheck(entryPa, RMP_WRITE, RMP_4K, RMP_TABLE_AD_WRITE, 4 - d)) {
          return this.endWalk(RMP_FAULT, d);
        }
      }
      if (!this.rmpCheck(this.wPa, kind, pageBytes, RMP_TABLE_NONE, 0)) return this.endWalk(RMP_FAULT, -1);
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

  private endReserved(depth: number, rsvdLo: number, rsvdHi: number): number {
    this.wRsvdLo = rsvdLo >>> 0;
    this.wRsvdHi = rsvdHi >>> 0;
    return this.endWalk(RESERVED, depth);
  }

  private endWalk(outcome: number, depth: number): number {
    this.wOutcome = outcome;
    this.wFaultDepth = depth;
    if (this.wCommitted && this.observerSlot !== null) this.notifyWalk();
    return outcome;
  }

  /** One RMP check, recorded for the trace; true when it passed. */
  private rmpCheck(spa: number, access: number, mapBytes: number, table: TableAccessKind, level: number): boolean {
    const failure = this.rmp.checkHost(spa, access as AccessKind, mapBytes, table);
    // Recorded packed (a failure always ends the walk, so only the last check can have one).
    const n = this.wRmpCount;
    if (n < MAX_RMP_CHECKS) {
      this.wRmpSpa[n] = spa;
      this.wRmpInfo[n] = access | (table << 2) | (level << 4) | ((mapBytes === RMP_4K ? 0 : mapBytes === RMP_2M ? 1 : 2) << 8);
      this.wRmpCount = n + 1;
    }
    if (failure !== null) this.wRmpFailure = failure;
    if (this.wCommitted) {
      this.rmpCheckCount++;
      const obs = this.observerSlot;
      if (obs !== null && obs.rmpCheck !== undefined) obs.rmpCheck(this.rmpTraceAt(n));
    }
    return failure === null;
  }

  /** Install the translation just walked: its 4K piece, and for a 2M/1G page its 2M piece too. */
  private fill(la: number, kind: number, rights: number, pageBase: number, pageBytes: number): void {
    // Write rights only from a write walk: it set D and passed the RMP write check (pattern 5).
    let r = rights;
    if (kind !== Access.Write) r &= ~ALL_WRITE_RIGHTS;
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

  /** Fill the 4K slot of `la`. Beyond RAM, writes are dropped by the slow path: no write rights. */
  private installPiece(
    la: number, rights: number, paBase: number, global: number,
    linearPageBase: number, pageBytes: number, mapPhysBase: number,
  ): void {
    const i = (la >>> 12) & this.tlbMask;
    const pfn = paBase / PAGE_4K;
    const inRam = pfn < this.phys.frameCount;
    let r = rights;
    if (!inRam) r &= ~ALL_WRITE_RIGHTS;
    const view = (r & ALL_WRITE_RIGHTS) !== 0 ? this.phys.viewForWrite(pfn)! : this.phys.viewForCache(pfn);
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

  /** A 4K miss inside a cached 2M piece: install the 4K piece from it. True on success. */
  private refillFromHuge(la: number, kind: number): boolean {
    const h = (la >>> 21) & HUGE_MASK;
    const pieceLa = la - (la & (PAGE_2M - 1));
    if (this.hugeTag[h] !== pieceLa + this.tagAsid || (this.hugeRights[h]! & rightBit(this.mode, kind)) === 0) return false;
    const within = (la & (PAGE_2M - 1)) - (la & 0xfff);
    this.installPiece(la, this.hugeRights[h]!, this.hugePaBase[h]! + within, this.hugeGlobal[h]!,
      this.hugePageBase[h]!, this.hugePageBytes[h]!, this.hugeMapPhysBase[h]!);
    const i = (la >>> 12) & this.tlbMask;
    for (let d = 0; d < 4; d++) this.tlbTablePa[i * 4 + d] = this.hugeTablePa[h * 4 + d]!;
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Faults and traces (built from the walk scratch; never on the hot path)

  private errorCodeOfWalk(): number {
    const kind = this.wKind;
    let code = 0;
    if (this.wMode === MODE_USER) code |= PfErr.U;
    if (kind === Access.Write) code |= PfErr.W;
    // I/D: instruction fetch, reported when EFER.NXE=1 or CR4.SMEP=1 (Intel SDM Vol.3A §4.7).
    if (kind === Access.Fetch && (this.nxe || this.smep)) code |= PfErr.ID;
    switch (this.wOutcome) {
      case NOT_PRESENT: return code;
      case RESERVED: return code | PfErr.P | PfErr.RSVD;
      case PROTECTION: return code | PfErr.P;
      case RMP_FAULT: return (code | PfErr.P | PfErr.RMP) >>> 0;
      default: return 0;
    }
  }

  private buildFault(): CpuFault {
    const trace = this.buildTrace();
    const fault = trace.fault!;
    const rmpFailure = this.wOutcome === RMP_FAULT ? this.wRmpFailure : null;
    return new CpuFault(Vector.PF, fault.errorCode, fault.address, fault.why, this.wOutcome === RMP_FAULT,
      { walk: trace, rmp: rmpFailure });
  }

  private entryText(d: number): string {
    const level = 4 - d;
    return `${LEVEL_NAMES[level]} at ${hex(this.wEntryPa[d]!)} (index ${entryIndex(this.wLa, level)}) = ${hex64(this.wLo[d]!, this.wHi[d]!)}`;
  }

  private faultWhy(): string {
    const va = hex64ToText(canonicalAddress(this.wLa));
    const acc = ACCESS_NAMES[this.wKind]!;
    const who = MODE_NAMES[this.wMode]!;
    const d = this.wFaultDepth;
    switch (this.wOutcome) {
      case NOT_PRESENT:
        return `${who} ${acc} of ${va}: the ${this.entryText(d)} is not present (P=0)`;
      case RESERVED: {
        const leaf = 4 - d === 1 || (4 - d <= 3 && (this.wLo[d]! & E_PS) !== 0);
        const bits = describeReservedBits(this.wRsvdLo, this.wRsvdHi, 4 - d, leaf);
        return `${who} ${acc} of ${va}: the ${this.entryText(d)} has reserved bits set: ${bits.join('; ')}`;
      }
      case PROTECTION:
        return this.protectionWhy(va, acc, who);
      case RMP_FAULT: {
        const check = this.rmpTraceAt(this.wRmpCount - 1);
        const failure = this.wRmpFailure!;
        const table = check.table;
        const what =
          table === TableAccess.None
            ? `the ${acc} to SPA ${hex(check.spa)} (mapped by a ${sizeName(check.mapBytes)} page)`
            : table === TableAccess.EntryRead
              ? `the walk's read of the ${this.entryText(d)} (a page-table access, checked as 4K)`
              : `the walk's A/D write to the ${this.entryText(d)} (checked as a 4K write)`;
        return `${who} ${acc} of ${va}: the RMP check of ${what} failed (${failure.check}): ${failure.why}; ` +
          `no A/D bit was written`;
      }
      default:
        return '';
    }
  }

  private protectionWhy(va: string, acc: string, who: string): string {
    const kind = this.wKind;
    const c = this.wRightsIndex;
    const rw = (c & 1) !== 0;
    const userPage = (c & 2) !== 0;
    const nx = (c & 4) !== 0;
    const first = (bitLo: number, bitHi: number, wantSet: boolean): string => {
      for (let d = 0; d <= this.wLeafDepth; d++) {
        const set = (this.wLo[d]! & bitLo) !== 0 || (this.wHi[d]! & bitHi) !== 0;
        if (set === wantSet) return this.entryText(d);
      }
      return 'walk';
    };
    if (this.wMode === MODE_USER) {
      if (!userPage) return `user ${acc} of ${va}: the ${first(E_US, 0, false)} has U/S=0, so this is a supervisor page`;
      if (kind === Access.Write && !rw) return `user write to ${va}: the ${first(E_RW, 0, false)} has R/W=0 (read-only)`;
      return `user fetch from ${va}: the ${first(0, HI_NX, true)} has NX=1 and EFER.NXE=1`;
    }
    if (kind === Access.Fetch) {
      if (nx) return `${who} fetch from ${va}: the ${first(0, HI_NX, true)} has NX=1 and EFER.NXE=1`;
      return `${who} fetch from ${va}, a user page (U/S=1 at every level), with CR4.SMEP=1`;
    }
    if (userPage && this.smap && this.wMode !== MODE_SUPERVISOR_AC) {
      const ac = this.wMode === MODE_IMPLICIT ? 'an implicit supervisor access, which SMAP checks whatever RFLAGS.AC says' : 'RFLAGS.AC=0';
      return `${who} ${acc} of ${va}, a user page (U/S=1 at every level), with CR4.SMAP=1 and ${ac}`;
    }
    return `${who} write to ${va} with CR0.WP=1: the ${first(E_RW, 0, false)} has R/W=0 (read-only)`;
  }

  private rmpTraceAt(n: number): RmpCheckTrace {
    const info = this.wRmpInfo[n]!;
    const size = (info >> 8) & 3;
    const last = n === this.wRmpCount - 1;
    return {
      spa: this.wRmpSpa[n]!,
      access: (info & 3) as AccessKind,
      mapBytes: size === 0 ? PAGE_4K : size === 1 ? PAGE_2M : PAGE_1G,
      table: ((info >> 2) & 3) as TableAccessKind,
      level: (info >> 4) & 7,
      failure: last ? this.wRmpFailure : null,
    };
  }

  private adWriteTrace(d: number): AdWriteTrace {
    const hi = BigInt(this.wHi[d]!) << 32n;
    return {
      level: 4 - d,
      entryAddress: this.wEntryPa[d]!,
      before: hi | BigInt(this.wLo[d]!),
      after: hi | BigInt(this.wAdNewLo[d]!),
    };
  }

  private notifyWalk(): void {
    const obs = this.observerSlot;
    if (obs !== null && obs.walk !== undefined) obs.walk(this.buildTrace());
  }

  /** The trace of the last walk, from the scratch state. */
  private buildTrace(): WalkTrace {
    const levels: LevelTrace[] = [];
    for (let d = 0; d < this.wDepth; d++) {
      const level = 4 - d;
      const lo = this.wLo[d]!;
      const hi = this.wHi[d]!;
      const isFaultingReserved = this.wOutcome === RESERVED && d === this.wFaultDepth;
      levels.push({
        level,
        name: LEVEL_NAMES[level] as LevelTrace['name'],
        index: entryIndex(this.wLa, level),
        entryAddress: this.wEntryPa[d]!,
        value: (BigInt(hi) << 32n) | BigInt(lo),
        flags: decodeFlags(lo, hi, level),
        reservedBits: isFaultingReserved ? (BigInt(this.wRsvdHi) << 32n) | BigInt(this.wRsvdLo) : 0n,
        leaf: d === this.wLeafDepth,
      });
    }
    const rmpChecks: RmpCheckTrace[] = [];
    for (let n = 0; n < this.wRmpCount; n++) rmpChecks.push(this.rmpTraceAt(n));
    const adWrites: AdWriteTrace[] = [];
    if (this.wOutcome === OK && this.pagingOn && this.wAdNeeded) {
      for (let d = 0; d <= this.wLeafDepth; d++) {
        if (this.wAdNewLo[d] !== this.wLo[d]) adWrites.push(this.adWriteTrace(d));
      }
    }
    const translated = this.wOutcome === OK || this.wOutcome === PROTECTION || this.wOutcome === RMP_FAULT;
    const c = this.wRightsIndex;
    let fault: WalkFault | null = null;
    if (this.wOutcome !== OK) {
      fault = {
        vector: 14,
        errorCode: this.errorCodeOfWalk(),
        address: canonicalAddress(this.wLa),
        reason: REASONS[this.wOutcome]!,
        level: this.wFaultDepth >= 0 && this.pagingOn ? 4 - this.wFaultDepth : 0,
        why: this.faultWhy(),
      };
    }
    const paging = this.pagingOn;
    return {
      linearAddress: canonicalAddress(this.wLa),
      access: this.wKind as AccessKind,
      accessName: ACCESS_NAMES[this.wKind]!,
      mode: MODE_NAMES[this.wMode]!,
      paging,
      cr3: this.cr3,
      levels,
      physicalAddress: translated ? this.wPa : null,
      pageSize: translated ? this.wPageBytes : null,
      writable: translated && paging ? (c & 1) !== 0 : null,
      user: translated && paging ? (c & 2) !== 0 : null,
      executeDisable: translated && paging ? (c & 4) !== 0 : null,
      global: translated && paging ? this.pge && (this.wLo[this.wLeafDepth]! & E_G) !== 0 : null,
      rmpChecks,
      adWrites,
      fault,
    };
  }

  /**
   * Walk `la` for an access kind and report every step, with no side effects: no A/D writes, no
   * TLB fill, no counters, no observer calls. The RMP checks are made (they only read the RMP).
   */
  walkTrace(la: number, access: AccessKind, opts: WalkTraceOptions = {}): WalkTrace {
    const cpl = opts.cpl ?? this.cpl;
    const ac = opts.ac ?? this.ac;
    const implicit = opts.implicit ?? this.implicit;
    const mode = implicit ? MODE_IMPLICIT : cpl === 3 ? MODE_USER : ac ? MODE_SUPERVISOR_AC : MODE_SUPERVISOR;
    if (!this.pagingOn) {
      this.resetWalk(la, access, mode, false);
      this.wPa = la;
      this.wPageBytes = PAGE_4K;
      if (this.rmp.enabled && !this.rmpCheck(la, access, PAGE_4K, TableAccess.None, 0)) this.wOutcome = RMP_FAULT;
      return this.buildTrace();
    }
    this.walk(la, access, mode, false);
    return this.buildTrace();
  }
}

function sizeName(bytes: number): string {
  return bytes === PAGE_1G ? '1G' : bytes === PAGE_2M ? '2M' : '4K';
}

function hex64ToText(v: bigint): string {
  return '0x' + v.toString(16);
}

// Entry bits re-exported for tools that build tables (tests, kernel, scenario builder).
export { E_A, E_D, E_G, E_P, E_PS, E_RW, E_US, HI_NX };
