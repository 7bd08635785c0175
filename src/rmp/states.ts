// The page-state vocabulary of scenarios (spec/scenario.md `rmp`) mapped to RMP entry fields, and
// back. Field values follow the firmware's page states (spec/rmp.md §2; AMD firmware
// snp_page_state_t) and the APM ownership table:
//
//   state          Assigned Validated ASID  Immutable  other
//   hypervisor     0        0         0     0          (entry all zero, as after Linux's memset)
//   hv-fixed       0        0         0     1          raw lo = 0x4 (RMP_ENTRY_VAL_HV_FIXED)
//   firmware       1        0         0     1          lock bit 63, GPA 0, VMSA 0: raw lo = 0x8000000000000005
//   reclaim        1        0         0     0
//   pre-guest      1        0         >0    1
//   guest-invalid  1        0         >0    0          what RMPUPDATE produces
//   guest-valid    1        1         >0    0          what PVALIDATE leaves
//
// Guest states get the VMPL masks RMPUPDATE leaves (VMPL0 = all, others none, §1.4); the other
// states have qword 1 = 0.

import { emptyEntry, MAX_ASID, GPA_LIMIT, VMPL_PERM_ALL, type RmpEntry } from './entry.ts';

export const PAGE_STATES = [
  'hypervisor', 'hv-fixed', 'firmware', 'reclaim', 'pre-guest', 'guest-invalid', 'guest-valid',
] as const;
export type PageStateName = (typeof PAGE_STATES)[number];

/** A page state as a scenario or the API gives it. */
export interface PageStateSpec {
  state: PageStateName;
  asid?: number;
  gpa?: number;
  size?: '4K' | '2M';
  vmsa?: boolean;
}

/** A state that cannot exist (bad field combination): the message names the problem. */
export class RmpStateError extends Error {
  override name = 'RmpStateError';
}

const GUEST_STATES: ReadonlySet<string> = new Set(['pre-guest', 'guest-invalid', 'guest-valid']);

export function isGuestState(state: PageStateName): boolean {
  return GUEST_STATES.has(state);
}

/**
 * States whose 2M form is one 2 MB RMP page (Page_Size = 1 on the aligned entry, Assigned = 1 on the
 * 511 middle entries, as RMPUPDATE leaves them). The other states have no 2 MB form in the RMP: a
 * `size: "2M"` for them sets each of the 512 entries to the 4K state [I] (firmware pages are
 * per-4K, e.g. the AMD firmware's 2 MB-aligned Firmware entry with subpage count 511, §1.4).
 */
export function hasLargePageForm(state: PageStateName): boolean {
  return GUEST_STATES.has(state) || state === 'reclaim';
}

/**
 * The entry fields of one state (the 2M-aligned entry for a 2M page). Throws RmpStateError on an
 * impossible combination. `subpageCount` is left 0: the table keeps it.
 */
export function entryForState(spec: PageStateSpec): RmpEntry {
  const { state } = spec;
  if (!(PAGE_STATES as readonly string[]).includes(state)) {
    throw new RmpStateError(`unknown RMP page state "${String(state)}"; expected one of ${PAGE_STATES.join(', ')}`);
  }
  const size = spec.size ?? '4K';
  if (size !== '4K' && size !== '2M') throw new RmpStateError(`RMP page size must be "4K" or "2M", got "${String(size)}"`);
  const guest = GUEST_STATES.has(state);
  if (!guest) {
    if (spec.asid !== undefined && spec.asid !== 0) {
      throw new RmpStateError(`state "${state}" has ASID 0 (spec/rmp.md §2); asid ${spec.asid} is impossible`);
    }
    if (spec.gpa !== undefined && spec.gpa !== 0) {
      throw new RmpStateError(`state "${state}" has no guest physical address; gpa 0x${spec.gpa.toString(16)} is impossible`);
    }
    if (spec.vmsa) throw new RmpStateError(`state "${state}" cannot be a VMSA page (VMSA=1 needs a guest state)`);
  }
  const e = emptyEntry();
  switch (state) {
    case 'hypervisor':
      return e;
    case 'hv-fixed':
      e.immutable = true;
      return e;
    case 'firmware':
      e.assigned = true;
      e.immutable = true;
      e.lock = true;
      return e;
    case 'reclaim':
      e.assigned = true;
      e.pageSize = size === '2M' ? 1 : 0;
      return e;
    default:
      break;
  }
  // Guest states.
  const asid = spec.asid;
  if (asid === undefined) throw new RmpStateError(`state "${state}" needs an asid (1..${MAX_ASID})`);
  if (!Number.isInteger(asid) || asid < 1 || asid > MAX_ASID) {
    throw new RmpStateError(`state "${state}" needs an asid of 1..${MAX_ASID} (a 10-bit field, ASID 0 is the hypervisor), got ${asid}`);
  }
  const gpa = spec.gpa ?? 0;
  const align = size === '2M' ? 0x200000 : 0x1000;
  if (!Number.isSafeInteger(gpa) || gpa < 0 || gpa >= GPA_LIMIT) {
    throw new RmpStateError(`gpa must be below 2^51 (a 39-bit page number), got ${gpa}`);
  }
  if (gpa % align !== 0) {
    throw new RmpStateError(`gpa 0x${gpa.toString(16)} of a ${size} page must be ${size}-aligned`);
  }
  e.assigned = true;
  e.asid = asid;
  e.gpa = gpa;
  e.pageSize = size === '2M' ? 1 : 0;
  e.immutable = state === 'pre-guest';
  e.validated = state === 'guest-valid';
  e.vmsa = spec.vmsa === true;
  e.vmpl = [VMPL_PERM_ALL, 0, 0, 0];
  return e;
}

/**
 * The firmware state name of an entry (AMD firmware rmp_entry_get_state(), spec/rmp.md §2). Covers
 * states outside the scenario vocabulary too (context, metadata, pre-swap).
 */
export function stateNameOf(e: RmpEntry): string {
  if (!e.assigned) return e.immutable ? 'hv-fixed' : 'hypervisor';
  if (e.asid === 0) {
    if (!e.immutable) return 'reclaim';
    if (e.vmsa) return 'context';
    return e.gpa !== 0 ? 'metadata' : 'firmware';
  }
  if (e.immutable) return e.validated ? 'pre-swap' : 'pre-guest';
  return e.validated ? 'guest-valid' : 'guest-invalid';
}
