// The CPU's registered hooks, kept so that a dispatch is a plain array walk (no allocation) and so
// that hooks added or removed by a hook during a dispatch do not disturb it (issue 9, QA dyn3):
//
// - Each kind has an array that is REPLACED, never mutated, when the set changes. A dispatch reads
//   the array once at its start, so a hook added during it is not in that snapshot and first fires
//   at the next dispatch (a library that removes and re-adds every hook under new ids, as src/api's
//   HookPlumbing does when its instruction-hook set changes, no longer makes the current
//   instruction's hooks fire twice).
// - A removed entry is marked dead at once, so it does not fire for the rest of the dispatch either.
// - Instruction-hook ranges are also kept as numbers in the CPU's signed RIP domain (Cpu.curRip: a
//   canonical address as a signed 48-bit value), so the range test needs no BigInt, and `epoch`
//   changes with the set, so the run loop can cache per block whether any range
//   meets it.

import type { BlockHook, ExceptionHook, Hook, InstructionHook } from './hooks.ts';

const TWO47 = 140737488355328;
const TWO64 = 1n << 64n;
/** First unsigned address of the upper canonical half (2^64 - 2^47). */
const UPPER_HALF = TWO64 - (1n << 47n);

export class HookEntry<H extends Hook> {
  /** False once removed: a dispatch that took its snapshot before the removal skips it. */
  live = true;
  constructor(
    readonly id: number,
    readonly hook: H,
  ) {}
}

/**
 * An instruction hook with its range [begin, end] (unsigned) split over the two canonical halves,
 * as signed RIPs: [lowBegin, lowEnd] in the lower half, [highBegin, highEnd] in the upper half
 * (negative numbers). An empty part has begin > end. Non-canonical RIPs never execute (the fetch
 * raises #GP first), so the hole between the halves needs no part.
 */
export class InstructionEntry extends HookEntry<InstructionHook> {
  readonly lowBegin: number;
  readonly lowEnd: number;
  readonly highBegin: number;
  readonly highEnd: number;
  constructor(id: number, hook: InstructionHook) {
    super(id, hook);
    const b = BigInt.asUintN(64, hook.begin);
    const e = BigInt.asUintN(64, hook.end);
    const lowTop = BigInt(TWO47 - 1);
    if (b <= e && b <= lowTop) {
      this.lowBegin = Number(b);
      this.lowEnd = Number(e < lowTop ? e : lowTop);
    } else {
      this.lowBegin = 1;
      this.lowEnd = 0;
    }
    if (b <= e && e >= UPPER_HALF) {
      this.highBegin = Number((b > UPPER_HALF ? b : UPPER_HALF) - TWO64);
      this.highEnd = Number(e - TWO64);
    } else {
      this.highBegin = 1;
      this.highEnd = 0;
    }
  }

  /** Does the range hold this signed RIP? */
  covers(rip: number): boolean {
    return (rip >= this.lowBegin && rip <= this.lowEnd) || (rip >= this.highBegin && rip <= this.highEnd);
  }

  /** Does the range meet the signed RIPs [first, last]? */
  meets(first: number, last: number): boolean {
    return (first <= this.lowEnd && last >= this.lowBegin && this.lowBegin <= this.lowEnd) ||
      (first <= this.highEnd && last >= this.highBegin && this.highBegin <= this.highEnd);
  }
}

/** The hooks of one kind. `entries` is a snapshot in registration order, replaced on every change. */
export class HookList<E extends HookEntry<Hook>> {
  entries: readonly E[] = [];
  /** Changes whenever the set changes (per-block range decisions depend on it). */
  epoch = 0;

  add(entry: E): void {
    this.entries = [...this.entries, entry];
    this.epoch++;
  }

  remove(id: number): boolean {
    const i = this.entries.findIndex((e) => e.id === id);
    if (i < 0) return false;
    this.entries[i]!.live = false;
    this.entries = this.entries.filter((e) => e.id !== id);
    this.epoch++;
    return true;
  }
}

export class InstructionHookList extends HookList<InstructionEntry> {
  /** Does any hook's range meet the signed RIPs [first, last]? */
  anyMeets(first: number, last: number): boolean {
    const list = this.entries;
    for (let i = 0; i < list.length; i++) if (list[i]!.meets(first, last)) return true;
    return false;
  }
}

export type BlockHookList = HookList<HookEntry<BlockHook>>;
export type ExceptionHookList = HookList<HookEntry<ExceptionHook>>;
