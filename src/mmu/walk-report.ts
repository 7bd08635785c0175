// Explanations of the walk: the #PF error code, the CpuFault and its one-sentence `why`, the walk
// trace (walk-trace.ts), observer notifications, and `walkTrace`, the side-effect-free walk the CLI
// and scenario results use. Everything here is built from the walk's scratch state (walk.ts) and
// only when asked for, never on the hot path.

import { CpuFault, PfErr, Vector, canonicalAddress } from '../cpu/fault.ts';
import { Access, type AccessKind } from './linear-memory.ts';
import { TableAccess } from '../rmp/host-check.ts';
import {
  E_G, E_PS, E_RW, E_US, HI_NX, LEVEL_NAMES, PAGE_1G, PAGE_2M, PAGE_4K,
  decodeFlags, describeReservedBits, entryIndex, hex, hex64,
} from './paging-bits.ts';
import { MODE_IMPLICIT, MODE_NAMES, MODE_SUPERVISOR, MODE_SUPERVISOR_AC, MODE_USER } from './permissions.ts';
import type { AdWriteTrace, FaultReason, LevelTrace, RmpCheckTrace, WalkFault, WalkTrace } from './walk-trace.ts';
import { ACCESS_NAMES } from './walk-trace.ts';
import { NOT_PRESENT, OK, PROTECTION, PageWalk, RESERVED, RMP_FAULT } from './walk.ts';

const WRITE: number = Access.Write;
const FETCH: number = Access.Fetch;
const REASONS: FaultReason[] = ['protection', 'not-present', 'reserved', 'protection', 'rmp'];

export interface WalkTraceOptions {
  /** Privilege level to walk as (default: the current CPL). */
  cpl?: number;
  /** RFLAGS.AC to walk with (default: the current value). */
  ac?: boolean;
  /** Walk as an implicit supervisor access (default: the current setting). */
  implicit?: boolean;
}

export abstract class WalkReport extends PageWalk {
  protected errorCodeOfWalk(): number {
    const kind = this.wKind;
    let code = 0;
    if (this.wMode === MODE_USER) code |= PfErr.U;
    if (kind === WRITE) code |= PfErr.W;
    // I/D: instruction fetch, reported when EFER.NXE=1 or CR4.SMEP=1 (Intel SDM Vol.3A §4.7).
    if (kind === FETCH && (this.nxe || this.smep)) code |= PfErr.ID;
    switch (this.wOutcome) {
      case NOT_PRESENT: return code;
      case RESERVED: return code | PfErr.P | PfErr.RSVD;
      case PROTECTION: return code | PfErr.P;
      case RMP_FAULT: return (code | PfErr.P | PfErr.RMP) >>> 0;
      default: return 0;
    }
  }

  protected buildFault(): CpuFault {
    const trace = this.buildTrace();
    const fault = trace.fault!;
    const rmpFailure = this.wOutcome === RMP_FAULT ? this.wRmpFailure : null;
    return new CpuFault(Vector.PF, fault.errorCode, fault.address, fault.why, this.wOutcome === RMP_FAULT,
      { walk: trace, rmp: rmpFailure });
  }

  protected entryText(d: number): string {
    const level = 4 - d;
    return `${LEVEL_NAMES[level]} at ${hex(this.wEntryPa[d]!)} (index ${entryIndex(this.wLa, level)}) = ${hex64(this.wLo[d]!, this.wHi[d]!)}`;
  }

  protected faultWhy(): string {
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

  protected protectionWhy(va: string, acc: string, who: string): string {
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
      if (kind === WRITE && !rw) return `user write to ${va}: the ${first(E_RW, 0, false)} has R/W=0 (read-only)`;
      return `user fetch from ${va}: the ${first(0, HI_NX, true)} has NX=1 and EFER.NXE=1`;
    }
    if (kind === FETCH) {
      if (nx) return `${who} fetch from ${va}: the ${first(0, HI_NX, true)} has NX=1 and EFER.NXE=1`;
      return `${who} fetch from ${va}, a user page (U/S=1 at every level), with CR4.SMEP=1`;
    }
    if (userPage && this.smap && this.wMode !== MODE_SUPERVISOR_AC) {
      const ac = this.wMode === MODE_IMPLICIT ? 'an implicit supervisor access, which SMAP checks whatever RFLAGS.AC says' : 'RFLAGS.AC=0';
      return `${who} ${acc} of ${va}, a user page (U/S=1 at every level), with CR4.SMAP=1 and ${ac}`;
    }
    return `${who} write to ${va} with CR0.WP=1: the ${first(E_RW, 0, false)} has R/W=0 (read-only)`;
  }

  protected notifyWalk(): void {
    const obs = this.observerSlot;
    if (obs !== null && obs.walk !== undefined) obs.walk(this.buildTrace());
  }

  /** The trace of the last walk, from the scratch state. */
  protected buildTrace(): WalkTrace {
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
      if (this.rmp.enabled && !this.rmpCheck(la, access, PAGE_4K, TableAccess.None)) this.wOutcome = RMP_FAULT;
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
