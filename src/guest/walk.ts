// The two-dimensional walk of an SNP guest (AMD APM Vol.2 §15.25.5 "Nested Table Walk"; the RMP
// stage from §15.36.10; spec/rmp.md §3.2, §3.4).
//
// A guest linear address goes through the guest's 4-level table (rooted at guest CR3, a guest
// physical address). Every guest page-table entry lives at a GPA, so each of the four guest entry
// reads first goes through the nested table (4 nested entry reads), and so does the final GPA:
// 4 × (4 + 1) + 4 = 24 memory references for a cold 4K/4K walk.
//
// Order of checks (each step runs only when the previous ones passed):
//   for each guest level:
//     1. nested walk of the entry's GPA ("PAGE" access)      → #VMEXIT(NPF) with PAGE (bit 33)
//     2. RMP checks on that entry's SPA (always C=1 in SNP)   → NPF(RMP|PAGE), #VC 0x404, NPF(VMPL)
//     3. the guest entry: P, reserved bits                    → guest #PF
//   4. guest permission checks (U/S, R/W with CR0.WP, NX, SMEP, SMAP) → guest #PF
//   5. nested walk of the final GPA ("FINAL" access)          → NPF with FINAL (bit 32)
//   6. RMP checks on the final SPA (by C-bit and access)      → NPF(RMP|FINAL), #VC, NPF(VMPL)
//   7. A/D bits: nested A (and D for writes) after each nested access passes its RMP check; the
//      guest's A bits, and D on the leaf for a write, only once the whole translation passed.
//
// Nested accesses are user accesses (APM §15.25.5: U/S must be 1 at every nested level, and the
// NPF error code has U=1). A guest page-table access is treated as a user *write* at the nested
// level, whatever the guest access is: hardware may have to write the guest's A/D bits. This is
// what KVM's emulated nested walk does (paging_tmpl.h: nested_access = PFERR_WRITE_MASK |
// PFERR_USER_MASK), and Sean Christopherson on KVM: "all nNPT walks match PAGE|WRITE|PRESENT"
// ([P+I]: read from KVM, which mirrors the hardware; the APM text was not available). docs/guest.md
// records the consequences.
//
// The walk allocates nothing on its passing path (the results land in fields of this object); with
// SNP on, the RMP checks read entries through the table's allocation-free readers (entryInto,
// isAssigned, regionHasAssigned).
//
// Tracing (walk-trace.ts): with an observer attached, translate() builds a GuestWalkTrace while it
// walks (each guest level with its nested sub-walk, the RMP checks, the A/D writes) and reports it
// when the walk ends, passing or faulting. With none attached (the default) the walk tests one
// field (`rec`) per guest level and per nested access, and builds nothing.

import type { PhysicalMemory } from '../mem/physical.ts';
import { CpuFault, Vector, PfErr, canonicalAddress } from '../cpu/fault.ts';
import { describeFields } from '../rmp/entry.ts';
import { NpfBits, SvmExit, VcCode, SIZE_1G, SIZE_2M, SIZE_4K } from './constants.ts';
import { Cr0, Cr4, Efer, type GuestState } from './context.ts';
import { VmExitFault, describeExitInfo1 } from './exits.ts';
import type { GuestRmpPort } from './rmp-port.ts';
import {
  GuestCheck, GuestCheckFailure, GUEST_CHECK_NAMES, Perm, checkHypervisorOwned, checkPrivateAccess,
} from './rmp-checks.ts';
import {
  ACCESS_TRACE_NAMES, C1_CHAIN, entryText, permName,
  type GuestWalkObserver, type GuestWalkTrace, type NestedRole, type NestedWalkTrace,
} from './walk-trace.ts';

export const GuestAccess = { Read: 0, Write: 1, Fetch: 2 } as const;

const TWO32 = 0x100000000;
const ACCESS_NAMES = ['read', 'write', 'fetch'];
const LEVEL_NAMES = ['PML4E', 'PDPTE', 'PDE', 'PTE'];
const sizeName = (n: number): string => (n === SIZE_1G ? '1G' : n === SIZE_2M ? '2M' : '4K');

/** Little-endian 32-bit read of an aligned entry half (never crosses a frame): no allocation. */
function readEntryWord(phys: PhysicalMemory, pa: number): number {
  const f = phys.frameForRead(Math.floor(pa / 4096));
  const o = pa & 0xfff;
  return (f[o]! | (f[o + 1]! << 8) | (f[o + 2]! << 16) | (f[o + 3]! << 24)) >>> 0;
}

/** Index of `addr` (a number < 2^52) at a level: shifts 39, 30, 21, 12. */
function levelIndex(lo: number, hi: number, level: number): number {
  switch (level) {
    case 0: return (hi >>> 7) & 511;
    case 1: return ((hi << 2) | (lo >>> 30)) & 511;
    case 2: return (lo >>> 21) & 511;
    default: return (lo >>> 12) & 511;
  }
}

export interface WalkStats {
  /** Full (TLB-miss) translations attempted. */
  walks: number;
  /** Memory references made by walks: guest entry reads plus nested entry reads. */
  memRefs: number;
  /** RMP checks made. */
  rmpChecks: number;
}

export class NestedWalk {
  readonly stats: WalkStats = { walks: 0, memRefs: 0, rmpChecks: 0 };
  /** Results of the last successful translate(). */
  gpa = 0;
  spa = 0;
  /** Guest page size of the last translation (4K when guest paging is off). */
  guestPageSize = SIZE_4K;
  /** Nested leaf size of the last nested access. */
  nestedSize = SIZE_4K;
  /** Effective C-bit of the last final access. */
  cBit = false;

  private readonly fail = new GuestCheckFailure();
  /** Set while PVALIDATE/RMPADJUST translate their operand: the final RMP checks are theirs to make. */
  private skipFinalRmp = false;
  // Entries of the current nested walk (for its A/D bits).
  private readonly nestedEntryPa = new Float64Array(4);
  private readonly nestedEntryLo = new Int32Array(4);
  private nestedLevels = 0;
  // Guest entries of the current walk (for the guest's A/D bits), as system physical addresses.
  private readonly guestEntrySpa = new Float64Array(4);
  private readonly guestEntryLo = new Int32Array(4);
  private guestLevels = 0;
  /** The trace observer (GuestMemory.observe sets it); null costs nothing but the tests of `rec`. */
  observer: GuestWalkObserver | null = null;
  /** The trace of the walk under way: non-null only while an observer is attached. */
  private rec: GuestWalkTrace | null = null;

  constructor(
    private readonly phys: PhysicalMemory,
    private readonly rmp: GuestRmpPort,
    /** The running guest's state; read on every walk (the caller mutates it, e.g. VMPL or CR3). */
    public ctx: GuestState,
  ) {}

  /**
   * Translate guest linear address `gva` (< 2^48) for one access at privilege `cpl`; returns the
   * SPA. Throws a CpuFault (guest #PF, #VC) or a VmExitFault (#VMEXIT(NPF)).
   */
  translate(gva: number, access: number, cpl: number): number {
    if (this.observer !== null && this.rec === null) return this.translateObserved(gva, access, cpl, this.observer);
    const ctx = this.ctx;
    this.stats.walks++;
    const isWrite = access === GuestAccess.Write;
    const isFetch = access === GuestAccess.Fetch;
    const user = cpl === 3;
    let gpa: number;
    let cBit: boolean;
    this.guestLevels = 0;
    if ((ctx.cr0 & Cr0.PG) === 0) {
      // Guest paging off: guest linear = guest physical, and every access is private
      // (AMD APM Vol.2 §15.34, SEV: with guest CR0.PG=0 every access is treated as C=1) [A].
      gpa = gva;
      cBit = true;
      this.guestPageSize = SIZE_4K;
    } else {
      const nxe = (ctx.efer & Efer.NXE) !== 0;
      let table = Math.floor(ctx.cr3 / SIZE_4K) % 2 ** 36 * SIZE_4K; // bits 47:12 (bit 51 is the C-bit)
      const gLo = gva >>> 0;
      const gHi = Math.floor(gva / TWO32);
      let rw = 2;
      let us = 4;
      let nx = 0;
      let leafLo = 0;
      let leafHi = 0;
      let size = SIZE_4K;
      for (let level = 0; level < 4; level++) {
        const entryGpa = table + levelIndex(gLo, gHi, level) * 8;
        const entrySpa = this.nestedAccess(entryGpa, true, true, false, gva, true, cpl);
        this.stats.memRefs++;
        const lo = readEntryWord(this.phys, entrySpa);
        const hi = readEntryWord(this.phys, entrySpa + 4);
        this.guestEntrySpa[level] = entrySpa;
        this.guestEntryLo[level] = lo;
        this.guestLevels = level + 1;
        if (this.rec !== null) this.traceLevel(level, entryGpa, entrySpa, lo, hi);
        if ((lo & 1) === 0) {
          throw this.guestPf(gva, access, user, nxe, 0, `the guest ${LEVEL_NAMES[level]} at GPA 0x${entryGpa.toString(16)} is not present (P=0)`);
        }
        const isLeaf = level === 3 || (level > 0 && (lo & 0x80) !== 0);
        // Reserved bits (AMD APM Vol.2 §5.3.3 and Table 5-1): GPA bits 50:48 (above the model's
        // 48-bit guest physical width, below the C-bit), NX without EFER.NXE, PS in a PML4E, and
        // the low frame bits of a 2M (20:13) or 1G (29:13) leaf.
        let rsvd = (hi & 0x70000) !== 0 || (!nxe && hi >>> 31 !== 0) || (level === 0 && (lo & 0x80) !== 0);
        if (isLeaf && level === 1 && (lo & 0x3fffe000) !== 0) rsvd = true;
        if (isLeaf && level === 2 && (lo & 0x1fe000) !== 0) rsvd = true;
        if (rsvd) {
          throw this.guestPf(gva, access, user, nxe, PfErr.P | PfErr.RSVD,
            `the guest ${LEVEL_NAMES[level]} 0x${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')} has a reserved bit set`);
        }
        rw &= lo;
        us &= lo;
        nx |= hi >>> 31;
        if (isLeaf) {
          leafLo = lo;
          leafHi = hi;
          size = level === 1 ? SIZE_1G : level === 2 ? SIZE_2M : SIZE_4K;
          break;
        }
        table = ((lo & 0xfffff000) >>> 0) + (hi & 0xffff) * TWO32;
      }
      // Permission checks (AMD APM Vol.2 §5.6; CR0.WP §5.6.4, SMEP/SMAP §5.6.5-6).
      const smep = (ctx.cr4 & Cr4.SMEP) !== 0;
      const smap = (ctx.cr4 & Cr4.SMAP) !== 0;
      let denied = '';
      if (user) {
        if (us === 0) denied = 'a user access to a supervisor page (U/S=0)';
        else if (isWrite && rw === 0) denied = 'a user write to a read-only page (R/W=0)';
      } else {
        if (isWrite && rw === 0 && (ctx.cr0 & Cr0.WP) !== 0) denied = 'a supervisor write to a read-only page with CR0.WP=1';
        else if (isFetch && us !== 0 && smep) denied = 'a supervisor fetch from a user page with CR4.SMEP=1';
        else if (!isFetch && us !== 0 && smap && !ctx.ac) denied = 'a supervisor data access to a user page with CR4.SMAP=1 and RFLAGS.AC=0';
      }
      if (denied === '' && isFetch && nx !== 0 && nxe) denied = 'a fetch from a no-execute page (NX=1, EFER.NXE=1)';
      if (denied !== '') throw this.guestPf(gva, access, user, nxe, PfErr.P, `guest paging refused ${denied}`);
      const leafBase = ((leafLo & 0xfffff000) >>> 0) + (leafHi & 0xffff) * TWO32;
      const base = leafBase - (leafBase % size);
      gpa = base + (gva % size);
      // The C-bit of the leaf (bit 51) selects private (1) or shared (0) for data accesses.
      cBit = (leafHi & 0x80000) !== 0;
      this.guestPageSize = size;
    }
    // Instruction fetches are always C=1 in an SNP guest (spec/rmp.md §3.2).
    const effC = ctx.snpActive && (cBit || isFetch);
    const spa = this.nestedAccess(gpa, false, isWrite, isFetch, gva, effC, cpl);
    // Guest A/D bits: A on every level, D on the leaf for a write (AMD APM Vol.2 §5.4.2), written
    // only now that every check passed.
    const n = this.guestLevels;
    for (let i = 0; i < n; i++) {
      let lo = this.guestEntryLo[i]!;
      const want = (i === n - 1 && isWrite ? 0x60 : 0x20);
      if ((lo & want) !== want) {
        const before = lo;
        lo |= want;
        this.phys.writeU32(this.guestEntrySpa[i]!, lo >>> 0);
        if (this.rec !== null) this.traceAdWrite('guest', LEVEL_NAMES[i]!, this.guestEntrySpa[i]!, before, lo);
      }
    }
    this.gpa = gpa;
    this.spa = spa;
    this.cBit = effC;
    return spa;
  }

  /**
   * Translate the operand of PVALIDATE or RMPADJUST (spec/rmp.md §5.4-5.5): the guest walk and the
   * nested walk as for a read, with every check of the guest page-table accesses, but without the
   * final access's RMP checks (the instruction makes its own). Sets gpa, spa and nestedSize.
   */
  translateForRmpInstruction(gva: number, cpl: number): number {
    this.skipFinalRmp = true;
    try {
      return this.translate(gva, GuestAccess.Read, cpl);
    } finally {
      this.skipFinalRmp = false;
    }
  }

  /**
   * One nested access: walk the nested table for `gpa`, run the RMP checks on the SPA, set the
   * nested A/D bits. `isPage` marks a guest page-table access (checked as a C=1 user write).
   */
  private nestedAccess(
    gpa: number, isPage: boolean, isWrite: boolean, isFetch: boolean, gva: number, effC: boolean, cpl: number,
  ): number {
    const ctx = this.ctx;
    const spa = this.nestedWalk(gpa, isPage, isWrite, isFetch, effC && ctx.snpActive);
    if (this.rec !== null) this.traceNested(gpa, isPage, spa, null);
    const rmp = this.rmp;
    if (rmp.enabled && !(this.skipFinalRmp && !isPage)) {
      this.stats.rmpChecks++;
      const fail = this.fail;
      let check: number = GuestCheck.OK;
      if (ctx.snpActive) {
        if (isPage || effC) {
          const need = isPage ? Perm.R | Perm.W : isFetch ? (cpl === 3 ? Perm.XU : Perm.XS) : isWrite ? Perm.W : Perm.R;
          check = checkPrivateAccess(rmp, spa, gpa, this.nestedSize, ctx.asid, ctx.vmpl, need, fail);
        } else if (isWrite) {
          check = checkHypervisorOwned(rmp, spa, this.nestedSize, fail);
        }
      } else if (isPage) {
        // Non-SNP guest: page-table accesses are checked Hypervisor-Owned, as 4K like the host's
        // table accesses (spec/rmp.md §3.2 notes) [I].
        check = checkHypervisorOwned(rmp, spa, SIZE_4K, fail);
      } else if (isWrite) {
        check = checkHypervisorOwned(rmp, spa, this.nestedSize, fail);
      }
      if (this.rec !== null) this.traceRmp(check, gpa, spa, isPage, isWrite, isFetch, effC, cpl);
      if (check !== GuestCheck.OK) throw this.rmpFault(check, gpa, spa, isPage, isWrite, isFetch, gva, effC && ctx.snpActive);
    }
    // Nested A (and D for a write: page-table accesses count as writes) once the access passed.
    const write = isPage || isWrite;
    for (let i = 0; i < this.nestedLevels; i++) {
      const lo = this.nestedEntryLo[i]!;
      const want = i === this.nestedLevels - 1 && write ? 0x60 : 0x20;
      if ((lo & want) !== want) {
        this.phys.writeU32(this.nestedEntryPa[i]!, (lo | want) >>> 0);
        if (this.rec !== null) this.traceAdWrite('nested', `n${LEVEL_NAMES[i]}`, this.nestedEntryPa[i]!, lo, lo | want);
      }
    }
    return spa;
  }

  /** The nested table walk proper (AMD APM Vol.2 §15.25.5): returns the SPA or throws NPF. */
  private nestedWalk(gpa: number, isPage: boolean, isWrite: boolean, isFetch: boolean, enc: boolean): number {
    const nCr3 = this.ctx.nCr3;
    let table = nCr3 - (nCr3 % SIZE_4K);
    const lo0 = gpa >>> 0;
    const hi0 = (gpa - lo0) / TWO32;
    const phys = this.phys;
    let rw = 2;
    let us = 4;
    let nx = 0;
    this.nestedLevels = 0;
    for (let level = 0; level < 4; level++) {
      const entryPa = table + levelIndex(lo0, hi0, level) * 8;
      const f = phys.frameForRead((entryPa - (entryPa & 0xfff)) / SIZE_4K);
      const o = entryPa & 0xfff;
      const lo = (f[o]! | (f[o + 1]! << 8) | (f[o + 2]! << 16) | (f[o + 3]! << 24)) >>> 0;
      const hi = (f[o + 4]! | (f[o + 5]! << 8) | (f[o + 6]! << 16) | (f[o + 7]! << 24)) >>> 0;
      this.nestedEntryPa[level] = entryPa;
      this.nestedEntryLo[level] = lo;
      this.nestedLevels = level + 1;
      if ((lo & 1) === 0) {
        throw this.npf(gpa, isPage, isWrite, isFetch, enc, 0n,
          `the nested ${LEVEL_NAMES[level]} at SPA 0x${entryPa.toString(16)} is not present`);
      }
      const isLeaf = level === 3 || (level > 0 && (lo & 0x80) !== 0);
      // Nested reserved bits: SPA bits 51:48 (the model's 48-bit system physical width), PS in a
      // PML4E, the low frame bits of 2M/1G leaves. Host EFER.NXE is on, so NX is not reserved.
      let rsvd = (hi & 0xf0000) !== 0 || (level === 0 && (lo & 0x80) !== 0);
      if (isLeaf && level === 1 && (lo & 0x3fffe000) !== 0) rsvd = true;
      if (isLeaf && level === 2 && (lo & 0x1fe000) !== 0) rsvd = true;
      if (rsvd) {
        throw this.npf(gpa, isPage, isWrite, isFetch, enc, NpfBits.P | NpfBits.RSV,
          `the nested ${LEVEL_NAMES[level]} at SPA 0x${entryPa.toString(16)} has a reserved bit set`);
      }
      rw &= lo;
      us &= lo;
      nx |= hi >>> 31;
      if (isLeaf) {
        const size = level === 1 ? SIZE_1G : level === 2 ? SIZE_2M : SIZE_4K;
        if (us === 0) throw this.npf(gpa, isPage, isWrite, isFetch, enc, NpfBits.P, 'a nested entry has U/S=0 (every nested access is a user access)');
        if ((isWrite || isPage) && rw === 0) {
          throw this.npf(gpa, isPage, isWrite, isFetch, enc, NpfBits.P,
            isPage ? 'the guest page-table page is read-only in the nested table (page-table accesses are writes)' : 'a write through a read-only nested mapping');
        }
        if (isFetch && !isPage && nx !== 0) throw this.npf(gpa, isPage, isWrite, isFetch, enc, NpfBits.P, 'a fetch through a no-execute nested mapping');
        this.nestedSize = size;
        this.stats.memRefs += level + 1;
        const base = ((lo & 0xfffff000) >>> 0) + (hi & 0xffff) * TWO32;
        return base - (base % size) + (gpa % size);
      }
      table = ((lo & 0xfffff000) >>> 0) + (hi & 0xffff) * TWO32;
    }
    throw new Error('unreachable: the nested walk ends at level 4');
  }

  // ------------------------------------------------------------------ tracing (observer attached)

  /** translate() with a trace record under way; reports it when the walk ends, passing or not. */
  private translateObserved(gva: number, access: number, cpl: number, obs: GuestWalkObserver): number {
    const ctx = this.ctx;
    const rec: GuestWalkTrace = {
      gva, access: ACCESS_TRACE_NAMES[access] ?? 'read', cpl, asid: ctx.asid, vmpl: ctx.vmpl,
      cr3: (ctx.cr0 & Cr0.PG) === 0 ? null : ctx.cr3, nCr3: ctx.nCr3, levels: [], nested: [],
      gpa: null, spa: null, guestPageSize: null, nestedPageSize: null, cBit: null, memRefs: 0, fault: null,
    };
    const refs0 = this.stats.memRefs;
    this.rec = rec;
    try {
      const spa = this.translate(gva, access, cpl);
      rec.gpa = this.gpa;
      rec.spa = spa;
      rec.guestPageSize = this.guestPageSize;
      rec.nestedPageSize = this.nestedSize;
      rec.cBit = this.cBit;
      return spa;
    } catch (e) {
      if (e instanceof VmExitFault) rec.fault = { kind: 'npf', code: e.exitInfo1, address: e.exitInfo2, why: e.why };
      else if (e instanceof CpuFault) rec.fault = { kind: e.vector === Vector.VC ? 'vc' : 'pf', code: BigInt(e.errorCode), address: e.address, why: e.why };
      throw e;
    } finally {
      this.rec = null;
      rec.memRefs = this.stats.memRefs - refs0;
      obs.walk?.(rec);
    }
  }

  /** Record the guest entry just read (out of line: the walk's body stays small for the JIT). */
  private traceLevel(level: number, entryGpa: number, entrySpa: number, lo: number, hi: number): void {
    this.rec!.levels.push({
      name: LEVEL_NAMES[level] as GuestWalkTrace['levels'][number]['name'], entryGpa, entrySpa,
      value: (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0), leaf: level === 3 || (level > 0 && (lo & 0x80) !== 0),
    });
  }

  /** Record the nested sub-walk just made (spa < 0: it faulted, `why` says how). */
  private traceNested(gpa: number, isPage: boolean, spa: number, why: string | null): void {
    const levels: NestedWalkTrace['levels'] = [];
    for (let i = 0; i < this.nestedLevels; i++) {
      const pa = this.nestedEntryPa[i]!;
      levels.push({ name: `n${LEVEL_NAMES[i]}`, entryAddress: pa, value: (BigInt(readEntryWord(this.phys, pa + 4)) << 32n) | BigInt(this.nestedEntryLo[i]! >>> 0) });
    }
    const t: NestedWalkTrace = {
      role: isPage ? (LEVEL_NAMES[this.guestLevels] as NestedRole) : 'final', kind: isPage ? 'PAGE' : 'FINAL', gpa, levels,
      spa: spa < 0 ? null : spa, size: spa < 0 ? null : this.nestedSize, fault: why,
    };
    this.rec!.nested.push(t);
    this.observer?.nested?.(t);
  }

  /** Report the RMP check nestedAccess just made (the same matrix, named for the trace). */
  private traceRmp(check: number, gpa: number, spa: number, isPage: boolean, isWrite: boolean, isFetch: boolean, effC: boolean, cpl: number): void {
    const obs = this.observer;
    if (obs === null || obs.rmpCheck === undefined) return;
    const ctx = this.ctx;
    let chain: 'C=1' | 'Hypervisor-Owned' | 'none' = 'none';
    let need: string | null = null;
    let checkedAs = this.nestedSize;
    if (ctx.snpActive) {
      if (isPage || effC) {
        chain = 'C=1';
        need = permName(isPage ? Perm.R | Perm.W : isFetch ? (cpl === 3 ? Perm.XU : Perm.XS) : isWrite ? Perm.W : Perm.R);
      } else if (isWrite) chain = 'Hypervisor-Owned';
    } else if (isPage) {
      chain = 'Hypervisor-Owned';
      checkedAs = SIZE_4K;
    } else if (isWrite) chain = 'Hypervisor-Owned';
    const f = this.fail;
    const ran = chain !== 'none';
    obs.rmpCheck({
      access: isPage ? 'page' : ACCESS_TRACE_NAMES[isFetch ? 2 : isWrite ? 1 : 0]!, role: isPage ? (LEVEL_NAMES[this.guestLevels] as NestedRole) : 'final',
      gpa, spa, cBit: (isPage && ctx.snpActive) || effC, asid: ctx.asid, vmpl: ctx.vmpl, checkedAs, chain,
      checks: chain === 'C=1' ? [...C1_CHAIN] : ran ? ['Hypervisor-Owned'] : [], need,
      failed: check === GuestCheck.OK ? null : GUEST_CHECK_NAMES[check]!,
      entryPfn: ran && f.entry !== null ? f.entryPfn : null, entry: ran ? entryText(f.entry) : null,
      result: check === GuestCheck.OK ? 'pass' : check === GuestCheck.VALIDATED ? '#VC 0x404' : 'NPF',
    });
  }

  private traceAdWrite(stage: 'guest' | 'nested', name: string, pa: number, beforeLo: number, afterLo: number): void {
    const obs = this.observer;
    if (obs === null || obs.adWrite === undefined) return;
    const hi = BigInt(readEntryWord(this.phys, pa + 4)) << 32n;
    obs.adWrite({ stage, name, entryAddress: pa, before: hi | BigInt(beforeLo >>> 0), after: hi | BigInt(afterLo >>> 0) });
  }

  private npf(gpa: number, isPage: boolean, isWrite: boolean, isFetch: boolean, enc: boolean, extra: bigint, why: string): VmExitFault {
    this.stats.memRefs += this.nestedLevels; // the entries this failing nested walk read
    if (this.rec !== null) this.traceNested(gpa, isPage, -1, why);
    let info = extra | NpfBits.U | (isPage ? NpfBits.PAGE : NpfBits.FINAL);
    if (isPage || isWrite) info |= NpfBits.W;
    if (isFetch && !isPage) info |= NpfBits.ID;
    if (enc || isPage && this.ctx.snpActive) info |= NpfBits.ENC;
    return new VmExitFault(SvmExit.NPF, info, BigInt(gpa),
      `#VMEXIT(NPF) on the ${isPage ? 'guest page-table access' : 'final access'} to GPA 0x${gpa.toString(16)}: ${why} (EXITINFO1 ${describeExitInfo1(info)})`);
  }

  private rmpFault(
    check: number, gpa: number, spa: number, isPage: boolean, isWrite: boolean, isFetch: boolean, gva: number, enc: boolean,
  ): CpuFault {
    const f = this.fail;
    const entryText = f.entry === null ? 'no RMP entry (above the RMP coverage)' : `RMP entry of pfn 0x${f.entryPfn.toString(16)}: ${describeFields(f.entry)}`;
    const what = isPage ? 'guest page-table access' : `${ACCESS_NAMES[isFetch ? 2 : isWrite ? 1 : 0]}${enc ? ' (C=1)' : ' (C=0)'}`;
    const why = `the ${GUEST_CHECK_NAMES[check]} check failed for the ${what} to GPA 0x${gpa.toString(16)} (SPA 0x${spa.toString(16)}, nested ${sizeName(this.nestedSize)} mapping); ${entryText}`;
    const detail = { check: GUEST_CHECK_NAMES[check], pfn: f.pfn, entryPfn: f.entryPfn, entry: f.entry, gpa, spa, nestedSize: this.nestedSize };
    if (check === GuestCheck.VALIDATED) {
      // #VC, error code 0x404, CR2 = the guest virtual address (spec/rmp.md §3.4). For a
      // page-table page that is not validated, CR2 is the address being translated [I].
      return new CpuFault(Vector.VC, VcCode.NOT_VALIDATED, canonicalAddress(gva), `#VC(PAGE_NOT_VALIDATED): ${why}`, false, detail);
    }
    let info = NpfBits.RMP | NpfBits.P | NpfBits.U | (isPage ? NpfBits.PAGE : NpfBits.FINAL);
    if (isPage || isWrite) info |= NpfBits.W;
    if (isFetch && !isPage) info |= NpfBits.ID;
    if (enc || (isPage && this.ctx.snpActive)) info |= NpfBits.ENC;
    if (check === GuestCheck.VMPL) info |= NpfBits.VMPL;
    return new VmExitFault(SvmExit.NPF, info, BigInt(gpa), `#VMEXIT(NPF) (EXITINFO1 ${describeExitInfo1(info)}): ${why}`, detail);
  }

  private guestPf(gva: number, access: number, user: boolean, nxe: boolean, bits: number, why: string): CpuFault {
    let err = bits;
    if (access === GuestAccess.Write) err |= PfErr.W;
    if (user) err |= PfErr.U;
    if (access === GuestAccess.Fetch && (nxe || (this.ctx.cr4 & Cr4.SMEP) !== 0)) err |= PfErr.ID;
    return new CpuFault(Vector.PF, err >>> 0, canonicalAddress(gva), `guest #PF at 0x${gva.toString(16)}: ${why}`);
  }
}
