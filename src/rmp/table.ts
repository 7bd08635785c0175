// The Reverse Map Table as it lives in emulated physical memory (spec/rmp.md §1), its MSRs, the
// host access check that the MMU's final stage calls (§3, §8), and the entry points of the SNP
// instructions (§5, implemented in instructions.ts).
//
// Layout (contiguous RMP, §1.2): [RMP_BASE, RMP_BASE+0x4000) is the processor bookkeeping area;
// the entry of system frame `pfn` is the 16 bytes at RMP_BASE + 0x4000 + 16*pfn, in the raw
// format of entry.ts. Coverage is ((RMP_END+1 - RMP_BASE - 16 KiB) / 16) pages from physical 0;
// a page above it is permanently hypervisor-owned (§1.2).
//
// Because RMP_BASE is 8 KiB-aligned, RMP_BASE+0x4000 starts a frame, each frame holds the entries
// of 256 pages, and the entry of a 2 MB-aligned pfn is at offset 0 of its frame. The host check's
// fast path uses that: a 4K check is one byte load, a 2M check two (Assigned and the subpage count
// of the 2 MB-aligned entry).
//
// The subpage count [I]: AMD firmware says hardware keeps, in each 2 MB-aligned entry, the number
// of the other 511 entries that are assigned (§1.4). Every entry write in this class maintains it,
// and the 2 MB host check trusts it (Assigned=0 and count=0 on the aligned entry means all 512
// entries are unassigned), as hardware can. Raw bytes written into the table behind this class's
// back (plain physical writes) would not update it; `recountSubpages` repairs a region.

import type { AccessKind } from '../mmu/linear-memory.ts';
import type { PhysicalMemory } from '../mem/physical.ts';
import type { HostRmpCheck, RmpCheckFailure, TableAccessKind } from './host-check.ts';
import {
  BYTE0_ASSIGNED, BYTE0_SUBPAGE_LOW, BYTE1_SUBPAGE_HIGH, PAGES_PER_2M, RMP_BOOKKEEPING_BYTES,
  RMP_ENTRY_BYTES, decodeWords, decodeWordsInto, encodeWords, emptyEntry, wordsToQwords, type RmpEntry,
} from './entry.ts';
import { Msr, PHYS_ADDR_LIMIT, RMP_ADDR_ALIGN, Syscfg } from './codes.ts';
export { RMP_RAISE_UD } from './codes.ts';
import { entryForState, hasLargePageForm, RmpStateError, type PageStateSpec } from './states.ts';
import { evaluateHostCheck } from './host-eval.ts';
import { psmashOn, rmpreadOn, rmpupdateOn, HOST_CONTEXT, type InstructionContext, type RmpReadResult } from './instructions.ts';

// Literal values of the MMU contract (linear-memory.ts Access, host-check.ts TableAccess), kept
// here as constants because the rmp module does not import the mmu's values (architecture.md).
const ACCESS_WRITE = 1;
// Module-local copies of the entry masks for the hot path: under loaders that turn imports into
// property reads (tsx, vitest), an imported constant costs a lookup per use; a local const is free.
const FAST_ASSIGNED = BYTE0_ASSIGNED;
const FAST_2M_MASK_BYTE0 = BYTE0_ASSIGNED | BYTE0_SUBPAGE_LOW;
const FAST_2M_MASK_BYTE1 = BYTE1_SUBPAGE_HIGH;
const TABLE_NONE = 0;
const TABLE_ENTRY_READ = 1;

/** Options that change what the host check does. Each is a named, documented choice (docs/rmp.md). */
export interface RmpOptions {
  /**
   * Quirk (spec/scenario.md `quirks.hostChecksImmutable`, spec/rmp.md §6.3): host writes (and checked
   * table accesses) to a page whose own 4K entry has Immutable=1 fault too. Off on real hardware.
   */
  hostChecksImmutable: boolean;
  /** Check the walk's page-table *reads* (scenario `machine.rmpWalkReads`, §9 item 3). Default true. */
  checkWalkReads: boolean;
  /** CPUID 8000_001F_EAX[30] HvInUseWrAllowed: the host may write a non-SNP guest's in-use AVIC page (§3.3). */
  hvInUseWrAllowed: boolean;
  /** Early-SNP erratum (§3.3): an in-use 2 MB-aligned page poisons its 2 MB region for huge mappings. */
  inUseErratum: boolean;
  /** PSMASH's code for "not an assigned 2 MB page": 7 (default, MSVC docs) or 4 (old AMD RFC), §9 item 1. */
  psmashNot2mCode: 4 | 7;
}

export const DEFAULT_RMP_OPTIONS: Readonly<RmpOptions> = {
  hostChecksImmutable: false,
  checkWalkReads: true,
  hvInUseWrAllowed: false,
  inUseErratum: false,
  psmashNot2mCode: 7,
};

/** What VMRUN marks in-use (§3.3): VMCB, VMSA and AVIC backing pages, of SNP or non-SNP guests. */
export type InUseKind = 'vmcb' | 'vmsa' | 'avic';
export interface InUseMark {
  kind: InUseKind;
  snpGuest: boolean;
}

/** Called after every change of RMP entries: the affected system-physical range. */
export type RmpChangeListener = (spa: number, bytes: number) => void;

export interface RmpStats {
  /** Host accesses that reached the RMP check (checked kinds only, SNP on). */
  checks: number;
  /** Checks that failed. */
  faults: number;
  rmpupdates: number;
  psmashes: number;
  rmpreads: number;
}

/**
 * The table's allocation-free entry readers, for hot paths that would otherwise decode (and
 * allocate) one RmpEntry per check with `entry(pfn)`.
 */
export interface RmpEntryReader {
  entryInto(pfn: number, out: RmpEntry): RmpEntry;
  isAssigned(pfn: number): boolean;
  regionHasAssigned(pfn: number): boolean;
}

/** The table's placement: RMP_BASE and RMP_END (inclusive). */
export interface RmpPlacement {
  base: number;
  end: number;
}


const MIB = 0x100000;
const TWO_MIB = 0x200000;

export class RmpTable implements HostRmpCheck, RmpEntryReader {
  readonly phys: PhysicalMemory;
  /** Counters of the hot path, kept as plain fields (no object indirection on a TLB miss). */
  private checkCount = 0;
  private faultCount = 0;
  private readonly counters = { rmpupdates: 0, psmashes: 0, rmpreads: 0 };

  // MSR state.
  private syscfg = 0n;
  private rmpBase = 0;
  private rmpEnd = 0;

  // Derived, for the hot path.
  private snpOn = false;
  /** Pages covered by the table (pfn < coveredPages has an entry). */
  private covered = 0;
  /** covered * 4096: the first system-physical address without an entry. */
  private coveredByteLimit = 0;
  /** Frame number of the first entry (RMP_BASE + 0x4000). */
  private entriesFrame = 0;
  /**
   * Non-zero when anything beyond the plain Assigned test can make a check fail: the quirk, in-use
   * marks or injected busy entries. The fast path runs only while it is zero.
   */
  private special = 0;

  private opts: RmpOptions;
  /** Public for the hot path: the walk-read switch is read on every table access. */
  checkWalkReads: boolean;

  private readonly inUse = new Map<number, InUseMark>();
  private readonly busyAccesses = new Map<number, number>();
  private readonly busyInstructions = new Map<number, number>();
  private readonly listeners: RmpChangeListener[] = [];

  constructor(phys: PhysicalMemory, options: Partial<RmpOptions> = {}) {
    this.phys = phys;
    this.opts = { ...DEFAULT_RMP_OPTIONS, ...options };
    this.checkWalkReads = this.opts.checkWalkReads;
    this.recomputeSpecial();
  }

  /** Counters: checks made, checks failed, and instructions that succeeded. */
  get stats(): RmpStats {
    return { checks: this.checkCount, faults: this.faultCount, ...this.counters };
  }

  /** Count one successful instruction (instructions.ts). */
  countInstruction(kind: 'rmpupdates' | 'psmashes' | 'rmpreads'): void {
    this.counters[kind]++;
  }

  // ------------------------------------------------------------------ options

  get options(): Readonly<RmpOptions> {
    return { ...this.opts, checkWalkReads: this.checkWalkReads };
  }

  /** Change options at run time (e.g. a scenario's quirks). Flushes cached translations. */
  setOptions(changes: Partial<RmpOptions>): void {
    this.opts = { ...this.opts, ...changes };
    if (changes.checkWalkReads !== undefined) this.checkWalkReads = changes.checkWalkReads;
    this.recomputeSpecial();
    // Cached passing results may no longer pass (or the reverse): drop every translation.
    if (this.snpOn) this.notifyChange(0, this.coveredBytes);
  }

  get hostChecksImmutable(): boolean {
    return this.opts.hostChecksImmutable;
  }

  private recomputeSpecial(): void {
    let total = 0;
    for (const n of this.busyAccesses.values()) total += n;
    this.special = (this.opts.hostChecksImmutable ? 1 : 0) + this.inUse.size + total;
  }

  // ------------------------------------------------------------------ MSRs and placement

  /** SYSCFG.SNP_EN (§1.1): RMP checks are on. */
  get enabled(): boolean {
    return this.snpOn;
  }

  /** Pages with an RMP entry: pfn < coveredPages. */
  get coveredPages(): number {
    return this.covered;
  }

  get coveredBytes(): number {
    return this.covered * 4096;
  }

  get placement(): RmpPlacement {
    return { base: this.rmpBase, end: this.rmpEnd };
  }

  /** True for the MSRs this class owns (the CPU routes RDMSR/WRMSR of these here). */
  handlesMsr(msr: number): boolean {
    return msr === Msr.SYSCFG || msr === Msr.RMP_BASE || msr === Msr.RMP_END;
  }

  readMsr(msr: number): bigint {
    switch (msr) {
      case Msr.SYSCFG: return this.syscfg;
      case Msr.RMP_BASE: return BigInt(this.rmpBase);
      case Msr.RMP_END: return BigInt(this.rmpEnd);
      default: throw new RangeError(`MSR 0x${msr.toString(16)} is not an RMP MSR (handlesMsr() says which are)`);
    }
  }

  /**
   * WRMSR. Returns null when the write is accepted (or ignored, as SYSCFG writes are once SNP_EN=1),
   * or a sentence saying why the CPU must raise #GP(0) [I where noted in docs/rmp.md]:
   * - RMP_BASE with bits 12:0 set, RMP_END+1 not 8 KB-aligned (§1.1), or bits 63:52 set;
   * - RMP_BASE/RMP_END written after SNP_EN=1 (they must be the same on every core before SNP_EN);
   * - SYSCFG.SNP_EN set while RMP_BASE/RMP_END describe no table.
   */
  writeMsr(msr: number, value: bigint): string | null {
    if (value < 0n || value >= 1n << 64n) return `WRMSR value must be a 64-bit unsigned value`;
    switch (msr) {
      case Msr.SYSCFG: {
        // §1.1: after SNP_EN = 1, SYSCFG writes are ignored.
        if (this.snpOn) return null;
        if ((value & Syscfg.SNP_EN) !== 0n) {
          const why = this.tableProblem(this.rmpBase, this.rmpEnd);
          if (why !== null) return `SYSCFG.SNP_EN set while ${why}`;
        }
        this.syscfg = value;
        if ((value & Syscfg.SNP_EN) !== 0n) this.turnOn();
        return null;
      }
      case Msr.RMP_BASE:
      case Msr.RMP_END: {
        if (this.snpOn) return `RMP_BASE/RMP_END cannot change once SYSCFG.SNP_EN is set`;
        if (value >= BigInt(PHYS_ADDR_LIMIT)) return `RMP address 0x${value.toString(16)} has bits above 51 set`;
        const v = Number(value);
        if (msr === Msr.RMP_BASE) {
          if (v % RMP_ADDR_ALIGN !== 0) return `RMP_BASE 0x${v.toString(16)} is not 8 KB-aligned (bits 12:0 must be 0)`;
          this.rmpBase = v;
        } else {
          if (v !== 0 && (v + 1) % RMP_ADDR_ALIGN !== 0) return `RMP_END+1 = 0x${(v + 1).toString(16)} is not 8 KB-aligned`;
          this.rmpEnd = v;
        }
        this.derivePlacement();
        return null;
      }
      default:
        throw new RangeError(`MSR 0x${msr.toString(16)} is not an RMP MSR (handlesMsr() says which are)`);
    }
  }

  private derivePlacement(): void {
    const bytes = this.rmpEnd + 1 - this.rmpBase - RMP_BOOKKEEPING_BYTES;
    // The hot path indexes pfns as 31-bit integers: cap coverage at 2^31 pages (8 TiB), far beyond
    // any RAM this emulator can hold.
    this.covered = this.rmpEnd > this.rmpBase && bytes > 0 ? Math.min(Math.floor(bytes / RMP_ENTRY_BYTES), 0x7fffffff) : 0;
    this.coveredByteLimit = this.covered * 4096;
    this.entriesFrame = (this.rmpBase + RMP_BOOKKEEPING_BYTES) / 4096;
  }

  /** Why (base, end) is not a usable table, or null. */
  private tableProblem(base: number, end: number): string | null {
    if (end <= base || end + 1 - base <= RMP_BOOKKEEPING_BYTES) {
      return `RMP_BASE 0x${base.toString(16)} / RMP_END 0x${end.toString(16)} leave no room for entries after the 16 KB bookkeeping area`;
    }
    return null;
  }

  /**
   * Place the table (the machine's job before SNP is enabled). Throws an Error naming the problem
   * when the MSRs would refuse the values or the table would not lie in RAM [I: hardware does not
   * check the latter, but a table beyond RAM reads as all-ones: every page would look assigned].
   */
  configure(p: RmpPlacement): void {
    if (this.snpOn) throw new Error('the RMP cannot be moved once SNP is enabled');
    for (const [name, v] of [['base', p.base], ['end', p.end]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`RMP ${name} must be a non-negative integer address, got ${v}`);
    }
    const problem = this.tableProblem(p.base, p.end);
    if (problem !== null) throw new Error(problem);
    if (p.end >= this.phys.size) {
      throw new Error(`the RMP [0x${p.base.toString(16)} - 0x${p.end.toString(16)}] must lie in RAM (RAM ends at 0x${this.phys.size.toString(16)})`);
    }
    const a = this.writeMsr(Msr.RMP_BASE, BigInt(p.base));
    if (a !== null) throw new Error(a);
    const b = this.writeMsr(Msr.RMP_END, BigInt(p.end));
    if (b !== null) throw new Error(b);
  }

  /**
   * Enable SNP the way Linux does (snp_rmptable_init(), §1.1): zero the whole RMP range (so every
   * page is hypervisor-owned), set MFDM, then SNP_EN. With `snpInit`, also do what the SNP_INIT
   * firmware command does to the table: the RMP's own pages become Firmware and covered pages
   * beyond RAM become HV-Fixed (AMD firmware configure_rmp(), §1.1).
   */
  enable(opts: { snpInit?: boolean } = {}): void {
    if (this.snpOn) throw new Error('SNP is already enabled');
    const problem = this.tableProblem(this.rmpBase, this.rmpEnd);
    if (problem !== null) throw new Error(`cannot enable SNP: ${problem}; call configure() or defaultPlacement() first`);
    const first = Math.floor(this.rmpBase / 4096);
    const last = Math.floor(this.rmpEnd / 4096);
    for (let pfn = first; pfn <= last; pfn++) if (this.phys.isAllocated(pfn)) this.phys.zeroFrame(pfn);
    const why = this.writeMsr(Msr.SYSCFG, this.syscfg | Syscfg.MFDM | Syscfg.SNP_EN);
    if (why !== null) throw new Error(why);
    if (opts.snpInit) this.firmwareInit();
  }

  private turnOn(): void {
    this.snpOn = true;
    this.notifyChange(0, this.coveredBytes);
  }

  private firmwareInit(): void {
    const tableFirst = Math.floor(this.rmpBase / 4096);
    const tableLast = Math.floor(this.rmpEnd / 4096);
    for (let pfn = tableFirst; pfn <= tableLast && pfn < this.covered; pfn++) {
      this.writeEntry(pfn, entryForState({ state: 'firmware' }));
    }
    for (let pfn = this.phys.frameCount; pfn < this.covered; pfn++) {
      this.writeEntry(pfn, entryForState({ state: 'hv-fixed' }));
    }
    this.notifyChange(0, this.coveredBytes);
  }

  /**
   * The placement the machine uses by default: a table covering all of RAM (whole 2 MB regions),
   * sized and aligned to 1 MB as AMD firmware wants (§1.1), at the top of RAM.
   * Example: 64 MiB → base 0x3f00000, end 0x3ffffff (16384 entries = 256 KiB + 16 KiB, rounded to 1 MiB).
   */
  static defaultPlacement(ramBytes: number): RmpPlacement {
    const pages = Math.ceil(ramBytes / TWO_MIB) * PAGES_PER_2M;
    const bytes = Math.ceil((RMP_BOOKKEEPING_BYTES + pages * RMP_ENTRY_BYTES) / MIB) * MIB;
    const base = Math.floor((ramBytes - bytes) / MIB) * MIB;
    if (base < 0) throw new Error(`RAM of ${ramBytes} bytes is too small to hold an RMP that covers it`);
    return { base, end: base + bytes - 1 };
  }

  /**
   * The 2 MB-aligned physical span that holds the table. Linux reserves it in e820 so no 2 MB
   * mapping mixes RMP pages with ordinary RAM (§1.2, __snp_fixup_e820_tables()).
   */
  reservedRange(): { start: number; end: number } {
    const start = Math.floor(this.rmpBase / TWO_MIB) * TWO_MIB;
    const end = Math.ceil((this.rmpEnd + 1) / TWO_MIB) * TWO_MIB;
    return { start, end };
  }

  /** True when pfn has an RMP entry. */
  isCovered(pfn: number): boolean {
    return pfn >= 0 && pfn < this.covered;
  }

  // ------------------------------------------------------------------ raw access (this module only)

  /** Physical address of pfn's entry. */
  entryAddress(pfn: number): number {
    return this.rmpBase + RMP_BOOKKEEPING_BYTES + pfn * RMP_ENTRY_BYTES;
  }

  private checkPfn(pfn: number): void {
    if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= this.covered) {
      throw new RangeError(
        `pfn 0x${pfn.toString(16)} has no RMP entry (the table covers pfns 0..0x${Math.max(0, this.covered - 1).toString(16)})`,
      );
    }
  }

  /** The four raw words of pfn's entry. */
  readWords(pfn: number): [number, number, number, number] {
    this.checkPfn(pfn);
    const pa = this.entryAddress(pfn);
    return [this.phys.readU32(pa), this.phys.readU32(pa + 4), this.phys.readU32(pa + 8), this.phys.readU32(pa + 12)];
  }

  /** Linux's view of the raw entry: `lo` and `hi` qwords. */
  rawEntry(pfn: number): { lo: bigint; hi: bigint } {
    const [w0, w1, w2, w3] = this.readWords(pfn);
    return wordsToQwords(w0, w1, w2, w3);
  }

  /** Decoded entry of a covered pfn (throws for an uncovered one). */
  entry(pfn: number): RmpEntry {
    const [w0, w1, w2, w3] = this.readWords(pfn);
    return decodeWords(w0, w1, w2, w3);
  }

  // Allocation-free readers for hot paths (the guest's RMP checks run several per 2D walk). They
  // read the entry bytes straight from the table's frame: the entries of 256 pages share one frame
  // and start at offset 16 * (pfn mod 256) (see the file comment). Decoding stays in entry.ts.

  /**
   * The decoded entry of a covered pfn written into `out` (its `vmpl` array included), which is
   * returned: `entry(pfn)` without allocating. Throws for an uncovered pfn, as `entry` does.
   */
  entryInto(pfn: number, out: RmpEntry): RmpEntry {
    if (!(pfn >= 0 && pfn < this.covered && (pfn | 0) === pfn)) this.checkPfn(pfn);
    const f = this.phys.frameForRead(this.entriesFrame + (pfn >>> 8));
    const o = (pfn & 255) << 4;
    return decodeWordsInto(
      f[o]! | (f[o + 1]! << 8) | (f[o + 2]! << 16) | (f[o + 3]! << 24),
      f[o + 4]! | (f[o + 5]! << 8) | (f[o + 6]! << 16) | (f[o + 7]! << 24),
      f[o + 8]! | (f[o + 9]! << 8) | (f[o + 10]! << 16) | (f[o + 11]! << 24),
      f[o + 12]! | (f[o + 13]! << 8) | (f[o + 14]! << 16) | (f[o + 15]! << 24),
      out,
    );
  }

  /** Assigned bit of pfn's entry; false for a pfn without an entry (hypervisor-owned, §1.2). */
  isAssigned(pfn: number): boolean {
    if (!(pfn >= 0 && pfn < this.covered)) return false;
    return (this.phys.frameForRead(this.entriesFrame + (pfn >>> 8))[(pfn & 255) << 4]! & FAST_ASSIGNED) !== 0;
  }

  /**
   * True when any of the 512 entries of the 2 MB region holding pfn is assigned (the 2M
   * Hypervisor-Owned test, §3.1). One load: Assigned and the subpage count of the 2 MB-aligned
   * entry, which every writer in this class keeps (docs/rmp.md choice 3). False for a region
   * without entries.
   */
  regionHasAssigned(pfn: number): boolean {
    if (!(pfn >= 0 && pfn < this.covered)) return false;
    const aligned = pfn - (pfn & 511);
    const f = this.phys.frameForRead(this.entriesFrame + (aligned >>> 8));
    return (f[0]! & FAST_2M_MASK_BYTE0) !== 0 || (f[1]! & FAST_2M_MASK_BYTE1) !== 0;
  }

  /**
   * Write pfn's entry, keeping the subpage count of its 2 MB region (the caller's `subpageCount` is
   * ignored: hardware owns it). Does not notify listeners; public entry points do.
   */
  writeEntry(pfn: number, e: RmpEntry): void {
    this.checkPfn(pfn);
    const pa = this.entryAddress(pfn);
    const offset = pfn % PAGES_PER_2M;
    const oldAssigned = (this.phys.read8(pa) & BYTE0_ASSIGNED) !== 0;
    const words = encodeWords({ ...e, subpageCount: 0 });
    if (offset === 0) {
      // Keep the hardware-maintained count of this aligned entry.
      const keep = this.phys.readU32(pa) & (0x1ff << 3);
      words[0] = ((words[0] & ~(0x1ff << 3)) | keep) >>> 0;
    }
    for (let i = 0; i < 4; i++) this.phys.writeU32(pa + 4 * i, words[i]!);
    if (offset !== 0 && oldAssigned !== e.assigned) this.adjustSubpageCount(pfn - offset, e.assigned ? 1 : -1);
  }

  private adjustSubpageCount(alignedPfn: number, delta: number): void {
    const pa = this.entryAddress(alignedPfn);
    const w0 = this.phys.readU32(pa);
    const count = ((w0 >>> 3) & 0x1ff) + delta;
    if (count < 0 || count > 511) {
      throw new Error(`RMP subpage count of pfn 0x${alignedPfn.toString(16)} went out of range (table written behind the RmpTable's back?)`);
    }
    this.phys.writeU32(pa, ((w0 & ~(0x1ff << 3)) | (count << 3)) >>> 0);
  }

  /** Recompute the subpage count of the 2 MB region holding pfn from its 511 non-aligned entries. */
  recountSubpages(pfn: number): number {
    this.checkPfn(pfn);
    const aligned = pfn - (pfn % PAGES_PER_2M);
    let count = 0;
    for (let i = 1; i < PAGES_PER_2M && aligned + i < this.covered; i++) {
      if ((this.phys.read8(this.entryAddress(aligned + i)) & BYTE0_ASSIGNED) !== 0) count++;
    }
    const pa = this.entryAddress(aligned);
    const w0 = this.phys.readU32(pa);
    this.phys.writeU32(pa, ((w0 & ~(0x1ff << 3)) | (count << 3)) >>> 0);
    return count;
  }

  // ------------------------------------------------------------------ entries by field or by state

  /**
   * Set fields of pfn's entry directly (as firmware would; no instruction checks). Listeners are
   * notified so cached translations of the page are dropped.
   */
  setEntry(pfn: number, fields: Partial<RmpEntry>): void {
    const e = { ...this.entry(pfn), ...fields };
    this.writeEntry(pfn, e);
    this.notifyChange(pfn * 4096, 4096);
  }

  /** Set a raw entry from Linux's two qwords (the subpage count stays hardware-kept). */
  setRawEntry(pfn: number, lo: bigint, hi: bigint): void {
    const m = 0xffffffffn;
    this.writeEntry(pfn, decodeWords(Number(lo & m), Number((lo >> 32n) & m), Number(hi & m), Number((hi >> 32n) & m)));
    this.notifyChange(pfn * 4096, 4096);
  }

  /**
   * Put a page in one of the scenario states (spec/scenario.md `rmp`, spec/rmp.md §2). A 2M guest
   * or reclaim state sets the 2 MB-aligned entry (Page_Size=1) and its 511 middle entries
   * (Assigned=1, other fields 0), as RMPUPDATE does (§1.5). Throws RmpStateError on an impossible
   * combination, an unaligned 2M page, an uncovered page, or a 4K state inside an existing 2M page.
   */
  setState(pa: number, spec: PageStateSpec): void {
    const e = entryForState(spec);
    if (!Number.isSafeInteger(pa) || pa < 0) throw new RmpStateError(`RMP page address must be a non-negative integer, got ${pa}`);
    const pfn = Math.floor(pa / 4096);
    const size = spec.size ?? '4K';
    if (pfn >= this.covered) {
      throw new RmpStateError(
        `page 0x${pa.toString(16)} is above the RMP's coverage (0x${this.coveredBytes.toString(16)} bytes): it has no entry and is always hypervisor-owned`,
      );
    }
    if (size === '2M') {
      if (pfn % PAGES_PER_2M !== 0) throw new RmpStateError(`a 2M RMP page must start 2M-aligned; 0x${pa.toString(16)} is not`);
      if (pfn + PAGES_PER_2M > this.covered) throw new RmpStateError(`the 2M page at 0x${pa.toString(16)} is not fully covered by the RMP`);
      if (hasLargePageForm(spec.state)) {
        this.writeEntry(pfn, e);
        const middle = emptyEntry();
        middle.assigned = e.assigned;
        for (let i = 1; i < PAGES_PER_2M; i++) this.writeEntry(pfn + i, middle);
      } else {
        for (let i = 0; i < PAGES_PER_2M; i++) this.writeEntry(pfn + i, e);
      }
      this.notifyChange(pfn * 4096, TWO_MIB);
      return;
    }
    const alignedPfn = pfn - (pfn % PAGES_PER_2M);
    const aligned = this.entry(alignedPfn);
    if (aligned.assigned && aligned.pageSize === 1) {
      throw new RmpStateError(
        `page 0x${pa.toString(16)} lies inside the 2M RMP page at 0x${(alignedPfn * 4096).toString(16)}; ` +
          `give that page a new 2M state, or PSMASH it first, before setting a 4K state`,
      );
    }
    this.writeEntry(pfn, e);
    this.notifyChange(pfn * 4096, 4096);
  }

  // ------------------------------------------------------------------ in-use marks and injected busy

  /**
   * Mark (or clear, with null) pfn in-use as VMRUN does for a running guest's VMCB, VMSA and AVIC
   * backing pages (§3.3): RMPUPDATE/PSMASH then return FAIL_INUSE, and a host write takes an RMP
   * #PF although the page is unassigned. The mark lives with the entry, so an uncovered page cannot
   * carry one (returns false).
   */
  setInUse(pfn: number, mark: InUseMark | null): boolean {
    if (!this.isCovered(pfn)) return false;
    if (mark === null) this.inUse.delete(pfn);
    else this.inUse.set(pfn, { ...mark });
    this.recomputeSpecial();
    this.notifyChange(pfn * 4096, 4096);
    return true;
  }

  inUseMark(pfn: number): InUseMark | undefined {
    return this.inUse.get(pfn);
  }

  /**
   * Model another logical processor in the middle of updating pfn's entry (§3.2 "transient faults",
   * §8 last bullet): the next `accesses` checked host accesses that consult the entry take an RMP
   * fault, and the next `instructions` RMPUPDATE/PSMASH on it return FAIL_INUSE.
   */
  injectBusy(pfn: number, counts: { accesses?: number; instructions?: number }): void {
    this.checkPfn(pfn);
    const a = counts.accesses ?? 0;
    const n = counts.instructions ?? 0;
    if (!Number.isInteger(a) || a < 0 || !Number.isInteger(n) || n < 0) throw new RangeError('busy counts must be non-negative integers');
    if (a > 0) this.busyAccesses.set(pfn, (this.busyAccesses.get(pfn) ?? 0) + a);
    if (n > 0) this.busyInstructions.set(pfn, (this.busyInstructions.get(pfn) ?? 0) + n);
    this.recomputeSpecial();
    if (a > 0) this.notifyChange(pfn * 4096, 4096);
  }

  /** Consume one injected busy access of pfn; true when the access must fault. */
  consumeBusyAccess(pfn: number): boolean {
    const n = this.busyAccesses.get(pfn);
    if (n === undefined) return false;
    if (n <= 1) this.busyAccesses.delete(pfn);
    else this.busyAccesses.set(pfn, n - 1);
    this.recomputeSpecial();
    return true;
  }

  /** Consume one injected busy instruction of pfn; true when the instruction returns FAIL_INUSE. */
  consumeBusyInstruction(pfn: number): boolean {
    const n = this.busyInstructions.get(pfn);
    if (n === undefined) return false;
    if (n <= 1) this.busyInstructions.delete(pfn);
    else this.busyInstructions.set(pfn, n - 1);
    return true;
  }

  // ------------------------------------------------------------------ change listeners

  /** Listen for RMP changes (after every successful RMPUPDATE/PSMASH and every direct entry change). */
  onChange(listener: RmpChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  notifyChange(spa: number, bytes: number): void {
    for (let i = 0; i < this.listeners.length; i++) this.listeners[i]!(spa, bytes);
  }

  // ------------------------------------------------------------------ the host check (hot path)

  /**
   * The MMU's final stage (§3.1, §3.2, §8). Checked: data writes, A/D writes of the walk, and the
   * walk's entry reads when `checkWalkReads`; not checked: data reads and fetches. Table accesses
   * are checked as 4K; a 2M mapping needs all 512 entries of its region unassigned; a 1G mapping is
   * checked as the 2M sub-region holding the address. Pages above the coverage always pass.
   */
  checkHost(spa: number, access: AccessKind, mapBytes: number, table: TableAccessKind): RmpCheckFailure | null {
    if (!this.snpOn) return null;
    if (table === TABLE_NONE) {
      if (access !== ACCESS_WRITE) return null;
    } else if (table === TABLE_ENTRY_READ && !this.checkWalkReads) {
      return null;
    }
    this.checkCount++;
    // Above the coverage: permanently hypervisor-owned (§1.2). Below it, pfn < 2^31 (derivePlacement).
    if (spa >= this.coveredByteLimit) return null;
    const pfn = (spa / 4096) | 0;
    if (this.special === 0) {
      if (table !== TABLE_NONE || mapBytes === 4096) {
        const frame = this.phys.frameForRead(this.entriesFrame + (pfn >>> 8));
        if ((frame[(pfn & 255) << 4]! & FAST_ASSIGNED) === 0) return null;
      } else {
        // The 2 MB-aligned entry sits at offset 0 of its frame (see the file comment).
        const frame = this.phys.frameForRead(this.entriesFrame + ((pfn >>> 9) << 1));
        if ((frame[0]! & FAST_2M_MASK_BYTE0) === 0 && (frame[1]! & FAST_2M_MASK_BYTE1) === 0) return null;
      }
    }
    const failure = evaluateHostCheck(this, spa, pfn, access, mapBytes, table);
    if (failure !== null) this.faultCount++;
    return failure;
  }

  // ------------------------------------------------------------------ instructions (§5)

  /**
   * RMPUPDATE (F2 0F 01 FE): RAX = spa, the 16-byte state read from [RCX] (architectural format,
   * entry.ts). Returns the EAX status (RmpStatus), or RMP_RAISE_UD when SNP is off.
   */
  rmpupdate(spa: number, state: Uint8Array, ctx: InstructionContext = HOST_CONTEXT): number {
    return rmpupdateOn(this, spa, state, ctx);
  }

  /** PSMASH (F3 0F 01 FF): RAX = 2 MB-aligned spa. Returns the EAX status, or RMP_RAISE_UD. */
  psmash(spa: number, ctx: InstructionContext = HOST_CONTEXT): number {
    return psmashOn(this, spa, ctx);
  }

  /** RMPREAD (F2 0F 01 FD): the status and the 16 bytes the CPU stores at [RCX] on success. */
  rmpread(spa: number, ctx: InstructionContext = HOST_CONTEXT): RmpReadResult {
    return rmpreadOn(this, spa, ctx);
  }

  /** Readonly view for the evaluator and the instructions. */
  get isSpecial(): boolean {
    return this.special !== 0;
  }
}
