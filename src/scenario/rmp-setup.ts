// RMP changes a scenario asks for: the `rmp` list at setup, and the `rmpupdate` / `psmash` events
// during the run (spec/scenario.md "rmp", "events"). Pages are named by virtual address (`page`),
// physical address (`pa`) or as the page-table page a walk uses (`tableOf`); a `PageResolver`
// turns those into physical addresses against the current page tables.

import { InputError, at } from './errors.ts';
import { addressText, type AddressValue } from './numbers.ts';
import type { PageRef, RmpStateSpec, TableLevel } from './types.ts';
import type { RmpTable } from '../rmp/table.ts';
import { RmpStateError, type PageStateSpec } from '../rmp/states.ts';
import { encodeRmpState } from '../rmp/entry.ts';
import { entryForState } from '../rmp/states.ts';
import { RMP_STATUS_NAMES } from '../rmp/codes.ts';

export interface PageResolver {
  /** Physical address for a virtual one (symbols resolved), or a string saying why there is none. */
  physicalOfVirtual(va: AddressValue): number | string;
  /** Physical address for a `pa` field (a symbol means the region's physical address). */
  physical(pa: AddressValue): number | string;
  /** The table page at `level` used by the walk of `va`, or why there is none. */
  tableOf(va: AddressValue, level: TableLevel): number | string;
}

export function stateSpec(s: RmpStateSpec): PageStateSpec {
  const spec: PageStateSpec = { state: s.state, size: s.sizeBytes === 4096 ? '4K' : '2M' };
  if (s.state === 'pre-guest' || s.state === 'guest-invalid' || s.state === 'guest-valid') {
    spec.asid = s.asid;
    spec.gpa = Number(s.gpa);
    spec.vmsa = s.vmsa;
  }
  return spec;
}

/** Resolve a page reference to the physical address of its page (aligned to the entry size). */
export function resolvePage(ref: PageRef, sizeBytes: number, resolver: PageResolver, file: string, path: string): number {
  let pa: number | string;
  let key: string;
  switch (ref.kind) {
    case 'page': pa = resolver.physicalOfVirtual(ref.va); key = 'page'; break;
    case 'pa': pa = resolver.physical(ref.pa); key = 'pa'; break;
    default: pa = resolver.tableOf(ref.va, ref.level); key = 'tableOf'; break;
  }
  if (typeof pa === 'string') throw new InputError(file, at(path, key), pa);
  if (ref.kind !== 'tableOf' && pa % sizeBytes !== 0) {
    const what = ref.kind === 'page' ? addressText(ref.va) : addressText(ref.pa);
    if (sizeBytes !== 4096) {
      throw new InputError(file, at(path, key), `a 2M entry needs a 2M-aligned page; ${what} is at physical 0x${pa.toString(16)}`);
    }
  }
  return pa - (pa % sizeBytes);
}

/** Apply the scenario's `rmp` list. */
export function applyRmpList(
  rmp: RmpTable, entries: readonly (RmpStateSpec & { ref: PageRef; path: string })[], resolver: PageResolver, file: string,
): void {
  for (const e of entries) {
    const pa = resolvePage(e.ref, e.sizeBytes, resolver, file, e.path);
    try {
      rmp.setState(pa, stateSpec(e));
    } catch (err) {
      if (err instanceof RmpStateError) throw new InputError(file, e.path, err.message);
      throw err;
    }
  }
}

/**
 * The `rmpupdate` event: run RMPUPDATE with the state's fields, as the hypervisor would. A status
 * other than SUCCESS is an input error (spec: "a state that RMPUPDATE would reject"). RMPUPDATE
 * cannot express Validated or the firmware lock bit, so the named state is then completed with
 * the table's state setter, as PVALIDATE or the firmware would leave it.
 * Returns the physical address and a sentence for the trace.
 */
export function eventRmpupdate(
  rmp: RmpTable, ref: PageRef, state: RmpStateSpec, resolver: PageResolver, file: string, path: string,
): { pa: number; why: string } {
  const pa = resolvePage(ref, state.sizeBytes, resolver, file, path);
  const spec = stateSpec(state);
  let entry;
  try {
    entry = entryForState(spec);
  } catch (err) {
    if (err instanceof RmpStateError) throw new InputError(file, path, err.message);
    throw err;
  }
  const input = encodeRmpState({
    gpa: entry.gpa, assigned: entry.assigned, pageSize: entry.pageSize, immutable: entry.immutable, asid: entry.asid,
  });
  const status = rmp.rmpupdate(pa, input);
  if (status !== 0) {
    throw new InputError(file, path, `RMPUPDATE of 0x${pa.toString(16)} to "${state.state}" fails with ${status < 0 ? '#UD (SNP is off)' : `${status} ${RMP_STATUS_NAMES[status] ?? ''}`.trim()}`);
  }
  try {
    rmp.setState(pa, spec);
  } catch (err) {
    if (err instanceof RmpStateError) throw new InputError(file, path, err.message);
    throw err;
  }
  return { pa, why: `RMPUPDATE made pfn 0x${(pa / 4096).toString(16)} ${state.state}${state.sizeBytes !== 4096 ? ' (2M)' : ''}` };
}

/** The `psmash` event. A failing status is an input error, like a rejected RMPUPDATE. */
export function eventPsmash(rmp: RmpTable, paValue: AddressValue, resolver: PageResolver, file: string, path: string): { pa: number; why: string } {
  const pa = resolver.physical(paValue);
  if (typeof pa === 'string') throw new InputError(file, at(path, 'psmash'), pa);
  const status = rmp.psmash(pa);
  if (status !== 0) {
    throw new InputError(file, at(path, 'psmash'), `PSMASH of 0x${pa.toString(16)} fails with ${status < 0 ? '#UD (SNP is off)' : `${status} ${RMP_STATUS_NAMES[status] ?? ''}`.trim()}`);
  }
  return { pa, why: `PSMASH split the 2M RMP entry at 0x${pa.toString(16)} into 512 4K entries` };
}
