// The `rmp` list and the `events` list (spec/scenario.md, "rmp", "events"; page states from
// spec/rmp.md §2).

import { at } from './errors.ts';
import type { Reader, JsonObject } from './reader.ts';
import {
  RMP_STATES, type EventAction, type EventSpec, type EventWhen, type KernelPolicy, type PageRef,
  type RmpEntrySpec, type RmpStateName, type RmpStateSpec, type TableLevel,
} from './types.ts';

const PAGE_REF_KEYS = ['page', 'pa', 'tableOf'] as const;
const STATE_KEYS = ['state', 'asid', 'gpa', 'size', 'vmsa'] as const;
/** States that belong to a guest: they carry an ASID > 0 and a GPA (spec/rmp.md §2). */
const GUEST_STATES: readonly RmpStateName[] = ['pre-guest', 'guest-invalid', 'guest-valid'];
const TABLE_LEVELS: readonly TableLevel[] = ['pml4', 'pdpt', 'pd', 'pt'];
/** RMP entry ASID field: 10 bits (spec/rmp.md §1.4). */
const MAX_ASID = 1023;
/** RMP entry GPA field: bits 50:12, so a GPA below 2^51. */
const GPA_LIMIT = 2n ** 51n;

function readPageRef(r: Reader, o: JsonObject, path: string, kernel: KernelPolicy): PageRef {
  const key = r.oneOf(o, path, PAGE_REF_KEYS);
  const p = at(path, key);
  if (key === 'page') {
    if (kernel === 'none') r.fail(p, '"page" is a virtual address of the process; under kernel none use "pa"');
    return { kind: 'page', va: r.address(o.page, p) };
  }
  if (key === 'pa') return { kind: 'pa', pa: r.address(o.pa, p) };
  const t = r.object(o.tableOf, p, ['va', 'level'], ['va', 'level']);
  return { kind: 'tableOf', va: r.address(t.va, at(p, 'va')), level: r.choice(t.level, at(p, 'level'), TABLE_LEVELS) };
}

function readState(r: Reader, o: JsonObject, path: string): RmpStateSpec {
  if (!('state' in o)) r.fail(at(path, 'state'), `missing; expected one of ${RMP_STATES.join(', ')}`);
  const state = r.choice(o.state, at(path, 'state'), RMP_STATES);
  const guest = GUEST_STATES.includes(state);
  const spec: RmpStateSpec = { state, asid: 0, gpa: 0n, sizeBytes: 4096, vmsa: false };
  if ('size' in o) spec.sizeBytes = r.pageSize(o.size, at(path, 'size'), [4096, 2 << 20]);
  if (!guest) {
    for (const key of ['asid', 'gpa', 'vmsa'] as const) {
      if (key in o) r.fail(at(path, key), `state "${state}" fixes ${key} (spec/rmp.md §2); only guest states (${GUEST_STATES.join(', ')}) take it`);
    }
    return spec;
  }
  if (!('asid' in o)) r.fail(at(path, 'asid'), `missing; state "${state}" needs a guest ASID from 1 to ${MAX_ASID}`);
  spec.asid = r.integer(o.asid, at(path, 'asid'), 1, MAX_ASID);
  if (!('gpa' in o)) r.fail(at(path, 'gpa'), `missing; state "${state}" needs the guest physical address of the page`);
  spec.gpa = r.bigInteger(o.gpa, at(path, 'gpa'), 0n, GPA_LIMIT - 1n);
  const gpaAlign = BigInt(spec.sizeBytes);
  if (spec.gpa % gpaAlign !== 0n) r.fail(at(path, 'gpa'), `expected a gpa aligned to the entry size (0x${gpaAlign.toString(16)}), got 0x${spec.gpa.toString(16)}`);
  if ('vmsa' in o) spec.vmsa = r.bool(o.vmsa, at(path, 'vmsa'));
  return spec;
}

export function readRmpList(r: Reader, v: unknown, path: string, kernel: KernelPolicy): RmpEntrySpec[] {
  return r.array(v, path).map((item, i) => {
    const p = at(path, i);
    const o = r.object(item, p, [...PAGE_REF_KEYS, ...STATE_KEYS]);
    const ref = readPageRef(r, o, p, kernel);
    return { ...readState(r, o, p), ref, path: p };
  });
}

function readWhen(r: Reader, v: unknown, path: string, kernel: KernelPolicy): EventWhen {
  const o = r.object(v, path, ['fault', 'instructions', 'kernel']);
  const key = r.oneOf(o, path, ['fault', 'instructions', 'kernel']);
  if (key === 'fault') return { kind: 'fault', n: r.integer(o.fault, at(path, 'fault'), 1, 1_000_000) };
  if (key === 'instructions') return { kind: 'instructions', n: r.integer(o.instructions, at(path, 'instructions'), 0, 1_000_000_000) };
  r.choice(o.kernel, at(path, 'kernel'), ['before-handler'] as const);
  if (kernel === 'none') r.fail(at(path, 'kernel'), 'kernel none has no fault handler; use { "fault": N } or { "instructions": N }');
  return { kind: 'before-handler' };
}

function readAction(r: Reader, v: unknown, path: string, kernel: KernelPolicy): EventAction {
  const actions = ['rmpupdate', 'psmash', 'unmap', 'munmap', 'remap'] as const;
  const o = r.object(v, path, actions);
  const key = r.oneOf(o, path, actions);
  const p = at(path, key);
  if (kernel === 'none' && (key === 'unmap' || key === 'munmap' || key === 'remap')) {
    r.fail(p, `"${key}" acts on a process region; kernel none has no process`);
  }
  switch (key) {
    case 'rmpupdate': {
      const u = r.object(o.rmpupdate, p, [...PAGE_REF_KEYS, ...STATE_KEYS]);
      return { kind: 'rmpupdate', ref: readPageRef(r, u, p, kernel), state: readState(r, u, p) };
    }
    case 'psmash':
      return { kind: 'psmash', pa: r.address(o.psmash, p) };
    case 'unmap':
      return { kind: 'unmap', region: r.regionName(o.unmap, p) };
    case 'munmap':
      return { kind: 'munmap', region: r.regionName(o.munmap, p) };
    default: {
      const m = r.object(o.remap, p, ['region', 'to'], ['region', 'to']);
      return { kind: 'remap', region: r.regionName(m.region, at(p, 'region')), to: r.address(m.to, at(p, 'to')) };
    }
  }
}

export function readEvents(r: Reader, v: unknown, path: string, kernel: KernelPolicy): EventSpec[] {
  return r.array(v, path).map((item, i) => {
    const p = at(path, i);
    const o = r.object(item, p, ['when', 'do'], ['when', 'do']);
    return { when: readWhen(r, o.when, at(p, 'when'), kernel), action: readAction(r, o.do, at(p, 'do'), kernel), path: p };
  });
}
