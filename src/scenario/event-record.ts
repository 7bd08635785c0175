// Scenario events (spec/scenario.md `events`) as the result records them: which event, when it was
// due, what it did, and how far the run had got (faults raised, decisions made) when it fired, so the
// readable report can place it between the faults and decisions it raced with.

import { addressText } from './numbers.ts';
import type { EventRecord } from './record.ts';
import type { EventAction, EventSpec, EventWhen } from './types.ts';

/** The `when` of the scenario file, in its JSON shape. */
export function eventWhenJson(w: EventWhen): EventRecord['when'] {
  if (w.kind === 'before-handler') return { kernel: 'before-handler' };
  return w.kind === 'fault' ? { fault: w.n } : { instructions: w.n };
}

/** "before the handler", "at fault 2", "after 5 instructions". */
export function eventWhenText(w: EventRecord['when']): string {
  if ('kernel' in w) return 'before the handler';
  if ('fault' in w) return `at fault ${w.fault}`;
  return `after ${w.instructions} instruction${w.instructions === 1 ? '' : 's'}`;
}

/** What the action does, in a few words: "munmap buf", "rmpupdate buf+0x7000 to hypervisor". */
export function eventActionText(a: EventAction): string {
  switch (a.kind) {
    case 'rmpupdate': {
      const r = a.ref;
      const page = r.kind === 'page' ? addressText(r.va) : r.kind === 'pa' ? `pa ${addressText(r.pa)}` : `the ${r.level} table of ${addressText(r.va)}`;
      return `rmpupdate ${page} to ${a.state.state}`;
    }
    case 'psmash': return `psmash pa ${addressText(a.pa)}`;
    case 'unmap': return `unmap ${a.region}`;
    case 'munmap': return `munmap ${a.region}`;
    case 'remap': return `remap ${a.region} to pa ${addressText(a.to)}`;
  }
}

/** The record of an event that just fired. The index is its position in the scenario's list. */
export function eventRecord(ev: EventSpec, why: string, afterFaults: number, afterDecisions: number): EventRecord {
  const m = /\[(\d+)\]$/.exec(ev.path);
  return {
    index: m ? Number(m[1]) : -1,
    when: eventWhenJson(ev.when),
    action: eventActionText(ev.action),
    why,
    afterFaults,
    afterDecisions,
  };
}
