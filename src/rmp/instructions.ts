// The host SNP instructions RMPUPDATE, PSMASH and RMPREAD (spec/rmp.md §5.2, §5.3, §5.6), with
// every return code. The CPU decodes them, checks CPL (CPL>0 → #GP(0)) and the RMPREAD CPUID bit,
// reads the 16-byte RMPUPDATE state from [RCX], and writes RMPREAD's 16 bytes to [RCX].
// Where the sources leave a condition open, the choice is marked [I] and listed in docs/rmp.md.
//
// Guest mode (issue 7) will add PVALIDATE and RMPADJUST next to these. They share the entry writer
// (RmpTable.writeEntry, which keeps the subpage count) and the InstructionContext, which then
// carries the guest's ASID and VMPL.

import {
  decodeRmpState, emptyEntry, encodeRmpState, GPA_LIMIT, MAX_ASID, PAGES_PER_2M, VMPL_PERM_ALL, type RmpEntry,
} from './entry.ts';
import { RMP_RAISE_UD, RmpStatus } from './codes.ts';
import type { RmpTable } from './table.ts';

/** Who executes the instruction: the host runs with ASID 0 (§5.2 FAIL_PERMISSION "current ASID != 0"). */
export interface InstructionContext {
  asid: number;
}
export const HOST_CONTEXT: Readonly<InstructionContext> = Object.freeze({ asid: 0 });

export interface RmpReadResult {
  /** EAX: RmpStatus, or RMP_RAISE_UD. */
  status: number;
  /** The 16-byte architectural entry (§1.4) on success; all zero otherwise. */
  bytes: Uint8Array;
}

const TWO_MIB = 0x200000;

/** pfn of an spa that is a whole number of pages, or -1. */
function pageFrame(spa: number, align: number): number {
  if (!Number.isSafeInteger(spa) || spa < 0 || spa % align !== 0) return -1;
  return spa / 4096;
}

/**
 * RMPUPDATE. Conditions, in the order they are tested:
 * - FAIL_PERMISSION: executed with ASID != 0 (§5.2, [S] MSVC).
 * - FAIL_INPUT: spa not 4K-aligned [I]; spa not covered; new Page_Size=2M with spa not 2M-aligned;
 *   reserved bits set in the state (byte 8/9/10 bits 7:1, byte 11) [I]; GPA not 4K-aligned or above
 *   the 39-bit field [I]; Assigned=1 with ASID 0 (only firmware makes ASID-0 assigned pages) or
 *   ASID > 1023 [I]; Assigned=1, 2M, GPA not 2M-aligned [I].
 * - FAIL_PERMISSION: Assigned=0 with Immutable=1 or ASID != 0 ([S] VeriSMo `_rmpupdate`).
 * - FAIL_INUSE: an injected busy entry (another logical processor updating it).
 * - FAIL_PERMISSION: a current entry with Immutable=1 (the target, or any of a 2M update's 512) (§5.2).
 * - FAIL_INUSE: a VMRUN in-use mark on the target (or any page of a 2M update) (§3.3).
 * - FAIL_OVERLAP: a 4K update inside an assigned 2M page (PSMASH first), or a 2M update over a
 *   region holding 4K assignments other than the aligned entry (§5.2).
 * Effects on success (§5.2): the entry takes Assigned, Page_Size, Immutable, GPA, ASID. Validated,
 * VMSA and the VMPL masks survive only when Assigned, ASID, GPA and Page_Size are all unchanged;
 * otherwise Validated=VMSA=0 and VMPL0=all, others none. Assigned=0 clears the entry. A 2M update
 * sets entries 1..511 to Assigned = the new Assigned, other fields 0. Listeners hear the range.
 */
export function rmpupdateOn(t: RmpTable, spa: number, stateBytes: Uint8Array, ctx: InstructionContext): number {
  if (!t.enabled) return RMP_RAISE_UD;
  const s = decodeRmpState(stateBytes);
  if (ctx.asid !== 0) return RmpStatus.FAIL_PERMISSION;
  const pfn = pageFrame(spa, 4096);
  if (pfn < 0 || !t.isCovered(pfn)) return RmpStatus.FAIL_INPUT;
  const large = s.pageSize === 1;
  if (large && pfn % PAGES_PER_2M !== 0) return RmpStatus.FAIL_INPUT;
  if (s.reservedBits || s.gpa % 4096 !== 0 || s.gpa >= GPA_LIMIT) return RmpStatus.FAIL_INPUT;
  if (s.assigned) {
    if (s.asid === 0 || s.asid > MAX_ASID) return RmpStatus.FAIL_INPUT;
    if (large && s.gpa % TWO_MIB !== 0) return RmpStatus.FAIL_INPUT;
  } else if (s.immutable || s.asid !== 0) {
    return RmpStatus.FAIL_PERMISSION;
  }
  if (t.consumeBusyInstruction(pfn)) return RmpStatus.FAIL_INUSE;

  const first = pfn;
  const count = large ? PAGES_PER_2M : 1;
  if (first + count > t.coveredPages) return RmpStatus.FAIL_INPUT;
  for (let i = 0; i < count; i++) if (t.entry(first + i).immutable) return RmpStatus.FAIL_PERMISSION;
  for (let i = 0; i < count; i++) if (t.inUseMark(first + i) !== undefined) return RmpStatus.FAIL_INUSE;

  const alignedPfn = pfn - (pfn % PAGES_PER_2M);
  const aligned = t.entry(alignedPfn);
  const inLargePage = aligned.assigned && aligned.pageSize === 1;
  if (!large && inLargePage) return RmpStatus.FAIL_OVERLAP;
  if (large && !inLargePage && aligned.subpageCount !== 0) return RmpStatus.FAIL_OVERLAP;

  const old = t.entry(first);
  let next: RmpEntry;
  if (!s.assigned) {
    next = emptyEntry();
  } else {
    const keep = old.assigned && old.asid === s.asid && old.gpa === s.gpa && old.pageSize === s.pageSize;
    next = {
      assigned: true,
      pageSize: s.pageSize,
      immutable: s.immutable,
      subpageCount: 0,
      gpa: s.gpa,
      asid: s.asid,
      vmsa: keep ? old.vmsa : false,
      validated: keep ? old.validated : false,
      lock: false,
      vmpl: keep ? old.vmpl : [VMPL_PERM_ALL, 0, 0, 0],
      qword1High: keep ? old.qword1High : 0,
    };
  }
  t.writeEntry(first, next);
  if (large) {
    const middle = emptyEntry();
    middle.assigned = s.assigned;
    for (let i = 1; i < PAGES_PER_2M; i++) t.writeEntry(first + i, middle);
  }
  t.countInstruction('rmpupdates');
  t.notifyChange(first * 4096, count * 4096);
  return RmpStatus.SUCCESS;
}

/**
 * PSMASH (§5.3). Conditions, in order: ASID != 0 → FAIL_PERMISSION; spa not 2M-aligned or not
 * covered → FAIL_INPUT; an injected busy entry or an in-use page in the region → FAIL_INUSE [I for
 * the in-use part]; the aligned entry not an assigned 2M page → options.psmashNot2mCode (7 by
 * default, §9 item 1). Effect: 512 4K entries, each a copy of the 2M entry (Assigned, ASID,
 * Immutable, Validated, VMSA, VMPL masks, qword 1) with Page_Size=0 and GPA = base + i*4K.
 */
export function psmashOn(t: RmpTable, spa: number, ctx: InstructionContext): number {
  if (!t.enabled) return RMP_RAISE_UD;
  if (ctx.asid !== 0) return RmpStatus.FAIL_PERMISSION;
  const pfn = pageFrame(spa, TWO_MIB);
  if (pfn < 0 || !t.isCovered(pfn) || pfn + PAGES_PER_2M > t.coveredPages) return RmpStatus.FAIL_INPUT;
  if (t.consumeBusyInstruction(pfn)) return RmpStatus.FAIL_INUSE;
  for (let i = 0; i < PAGES_PER_2M; i++) if (t.inUseMark(pfn + i) !== undefined) return RmpStatus.FAIL_INUSE;
  const big = t.entry(pfn);
  if (!big.assigned || big.pageSize !== 1) return t.options.psmashNot2mCode;
  for (let i = 0; i < PAGES_PER_2M; i++) {
    t.writeEntry(pfn + i, { ...big, vmpl: [...big.vmpl], pageSize: 0, gpa: big.gpa + i * 4096 });
  }
  t.countInstruction('psmashes');
  t.notifyChange(spa, TWO_MIB);
  return RmpStatus.SUCCESS;
}

/**
 * RMPREAD (§5.6). ASID != 0 → FAIL_PERMISSION; spa not 4K-aligned [I] or not covered → FAIL_INPUT.
 * Output: GPA, Assigned, Page_Size, Immutable, ASID of pfn's own entry, and the "2MB region status"
 * bit = the 2M-aligned entry's subpage count is non-zero [I] (§1.4).
 */
export function rmpreadOn(t: RmpTable, spa: number, ctx: InstructionContext): RmpReadResult {
  const none = new Uint8Array(16);
  if (!t.enabled) return { status: RMP_RAISE_UD, bytes: none };
  if (ctx.asid !== 0) return { status: RmpStatus.FAIL_PERMISSION, bytes: none };
  const pfn = pageFrame(spa, 4096);
  if (pfn < 0 || !t.isCovered(pfn)) return { status: RmpStatus.FAIL_INPUT, bytes: none };
  const e = t.entry(pfn);
  const aligned = t.entry(pfn - (pfn % PAGES_PER_2M));
  t.countInstruction('rmpreads');
  return {
    status: RmpStatus.SUCCESS,
    bytes: encodeRmpState({
      gpa: e.gpa, assigned: e.assigned, pageSize: e.pageSize, immutable: e.immutable, asid: e.asid,
      region2M: aligned.subpageCount !== 0,
    }),
  };
}
