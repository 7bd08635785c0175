// Cross-field checks of a loaded scenario that no single field's reader can make: bytes placed
// beyond RAM, and two `rmp` entries for one page. Both would otherwise be dropped or overridden
// silently, and the run would then blame the wrong thing (spec/scenario.md, "Numbers and addresses":
// anything malformed is an input error).

import { at } from './errors.ts';
import { addressText, hex, isSymbolic, sizeText, type AddressValue } from './numbers.ts';
import type { Reader } from './reader.ts';
import type { PageRef, RmpEntrySpec, Scenario } from './types.ts';

/**
 * `physical[].pa` and `paging.entries[].pa` must lie in RAM. Physical memory drops writes beyond RAM
 * (docs/memory.md, "Beyond RAM"), so bytes placed there would never be seen. Entry *values* that
 * point beyond RAM stay allowed: that is how spec/scenario.md's "tables outside RAM" are made (a
 * PDE whose frame lies beyond RAM makes the walk read an all-ones table there). Symbolic addresses
 * resolve at setup, to a region's frames, which the kernel allocates in RAM.
 */
export function checkWithinRam(r: Reader, s: Scenario): void {
  const ram = s.machine.memoryBytes;
  const check = (pa: AddressValue, length: number, path: string, what: string): void => {
    if (isSymbolic(pa)) return;
    if (pa + BigInt(length) > BigInt(ram)) {
      r.fail(path, `${what} at ${hex(pa)} (${length} byte${length === 1 ? '' : 's'}) lies beyond RAM (machine.memory is ${sizeText(ram)} = ${hex(ram)}); ` +
        'writes beyond RAM are dropped, so raise machine.memory or move it');
    }
  };
  s.physical.forEach((p, i) => check(p.pa, Math.max(1, p.bytes.length), at(at('physical', i), 'pa'), 'these bytes'));
  s.paging?.entries.forEach((e, i) => check(BigInt(e.pa), 8, at(at(at('paging', 'entries'), i), 'pa'), 'this entry'));
}

/** A key per page a reference names, when that can be told before setup, else null. */
function pageKey(ref: PageRef): string {
  const page = (v: AddressValue): string => (isSymbolic(v) ? `${v.symbol}@${(v.offset >> 12n).toString()}` : (v >> 12n).toString(16));
  if (ref.kind === 'page') return `page ${page(ref.va)}`;
  if (ref.kind === 'pa') return `pa ${page(ref.pa)}`;
  return `tableOf ${page(ref.va)} ${ref.level}`;
}

function refText(ref: PageRef): string {
  if (ref.kind === 'page') return `page ${addressText(ref.va)}`;
  if (ref.kind === 'pa') return `pa ${addressText(ref.pa)}`;
  return `the ${ref.level} table of ${addressText(ref.va)}`;
}

/**
 * Two `rmp` entries for the same page: the later one would silently replace the earlier. The same
 * page is the same reference (same 4K page of the same address or symbol); for plain physical
 * addresses, a 4K page inside a 2M entry's range counts too, as the 2M entry sets it (spec/rmp.md §2).
 */
export function checkRmpDuplicates(r: Reader, list: readonly RmpEntrySpec[]): void {
  const seen = new Map<string, RmpEntrySpec>();
  const physical: { first: bigint; end: bigint; entry: RmpEntrySpec }[] = [];
  for (const e of list) {
    const key = pageKey(e.ref);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      r.fail(e.path, `names the same page as ${earlier.path} (${refText(e.ref)}); give each page one entry`);
    }
    seen.set(key, e);
    if (e.ref.kind === 'pa' && !isSymbolic(e.ref.pa)) {
      const first = e.ref.pa - (e.ref.pa % BigInt(e.sizeBytes));
      const end = first + BigInt(e.sizeBytes);
      const overlap = physical.find((p) => first < p.end && p.first < end);
      if (overlap !== undefined) {
        r.fail(e.path, `its page at ${hex(e.ref.pa)} overlaps ${overlap.entry.path}, a ${sizeText(Number(overlap.end - overlap.first))} entry at ${hex(overlap.first)}; give each page one entry`);
      }
      physical.push({ first, end, entry: e });
    }
  }
}
