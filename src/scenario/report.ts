// The readable report of a scenario result (what `snpemu scenario` prints without --json): the
// outcome with its why, the counts, then the run's faults, handler decisions and events in the order
// they happened. A livelock's repeats are collapsed here ("×8 (identical)"); the JSON keeps every one.

import { VECTOR_NAMES } from '../cpu/fault.ts';
import { eventWhenText } from './event-record.ts';
import { hex } from './numbers.ts';
import type { EventRecord } from './record.ts';
import type { ScenarioResult } from './result.ts';

type Fault = ScenarioResult['faults'][number];
type Decision = ScenarioResult['kernel'][number];

/** #PF error-code bits by name (AMD APM Vol.2 §8.4.2), for the readable report. */
export function errorCodeBits(vector: number, code: number): string {
  if (vector !== 14) return hex(code);
  const names: string[] = [];
  names.push(code & 1 ? 'P' : 'not-present');
  if (code & 2) names.push('W');
  if (code & 4) names.push('U');
  if (code & 8) names.push('RSVD');
  if (code & 16) names.push('I/D');
  if (code & 32) names.push('PK');
  if (code & 0x80000000) names.push('RMP');
  return `${hex(code)} (${names.join('|')})`;
}

function outcomeText(o: ScenarioResult['outcome']): string {
  switch (o.kind) {
    case 'exit': return `exit ${o.exitCode}`;
    case 'signal': return `${o.signal}${o.siCode ? ` (${o.siCode}` : ''}${o.siAddr ? ` at ${o.siAddr})` : o.siCode ? ')' : ''}`;
    default: return o.kind;
  }
}

/**
 * "unassigned (hypervisor (Assigned=0, …))" → "unassigned (hypervisor: Assigned=0, …)". The kernel's
 * sentences wrap an RMP entry's decoded fields inside their own parentheses; one level reads better.
 */
export function flattenNestedParens(text: string): string {
  let prev: string;
  let s = text;
  do {
    prev = s;
    s = s.replace(/\(([\w-]+) \(([^()]*)\)\)/g, '($1: $2)');
  } while (s !== prev);
  return s;
}

/** The outcome's why when nothing faulted: the run passed every check it made. */
export function noFaultWhy(r: ScenarioResult): string {
  const s = r.stats;
  const walks = `${s.walks} walk${s.walks === 1 ? '' : 's'}`;
  if (s.rmpChecks === 0) return `no fault: every page walk passed (${walks}); no RMP check was made`;
  return `no fault: every page walk and RMP check passed (${walks}, ${s.rmpChecks} RMP check${s.rmpChecks === 1 ? '' : 's'})`;
}

type Item =
  | { kind: 'fault'; n: number; f: Fault }
  | { kind: 'decision'; n: number; k: Decision }
  | { kind: 'event'; e: EventRecord };

/**
 * Faults, decisions and events in run order. A decision records the fault it handled, an event how
 * many faults and decisions came before it. Fault n comes after every decision of earlier faults; an
 * event comes after the fault or decision that brought the run to the point where it fired.
 */
export function timeline(r: ScenarioResult): Item[] {
  // Without `fault` on a decision (a result made elsewhere), assume one decision per fault, in order.
  const faultOf = (k: Decision, i: number): number => k.fault ?? Math.min(i + 1, r.faults.length);
  const keyed: { key: [number, number, number]; item: Item }[] = [];
  r.faults.forEach((f, i) => {
    const n = i + 1;
    const decisionsBefore = r.kernel.filter((k, j) => faultOf(k, j) < n).length;
    keyed.push({ key: [n, decisionsBefore, 0], item: { kind: 'fault', n, f } });
  });
  r.kernel.forEach((k, j) => keyed.push({ key: [faultOf(k, j), j + 1, 0], item: { kind: 'decision', n: j + 1, k } }));
  for (const e of r.events ?? []) keyed.push({ key: [e.afterFaults, e.afterDecisions, 1], item: { kind: 'event', e } });
  // Array.prototype.sort is stable: events with the same position keep their firing order.
  keyed.sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.key[2] - b.key[2]);
  return keyed.map((x) => x.item);
}

function sameItem(a: Item | undefined, b: Item | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  if (a.kind === 'fault' && b.kind === 'fault') {
    const [x, y] = [a.f, b.f];
    return x.vector === y.vector && x.errorCode === y.errorCode && x.address === y.address && x.rip === y.rip && x.rmp === y.rmp && x.why === y.why;
  }
  if (a.kind === 'decision' && b.kind === 'decision') {
    const [x, y] = [a.k, b.k];
    return x.action === y.action && x.address === y.address && x.why === y.why;
  }
  return false; // events are never collapsed
}

/** An item printed once, standing for `count` identical consecutive ones (numbers first..last). */
interface Shown { item: Item; count: number; last: number }

/**
 * Collapse repeats: a run of identical items (period 1), or an alternating fault/decision pair that
 * repeats identically (period 2, the livelock pattern: fault, spurious, fault, spurious, …, fault).
 */
export function collapseRepeats(items: Item[]): Shown[] {
  const numberOf = (it: Item): number => (it.kind === 'event' ? 0 : it.n);
  const shown: Shown[] = [];
  for (let i = 0; i < items.length;) {
    const a = items[i]!;
    let run = 1;
    while (sameItem(items[i + run], a)) run++;
    if (run >= 2) {
      shown.push({ item: a, count: run, last: numberOf(items[i + run - 1]!) });
      i += run;
      continue;
    }
    const b = items[i + 1];
    let blocks = 0;
    while (sameItem(items[i + 2 * blocks], a) && sameItem(items[i + 2 * blocks + 1], b)) blocks++;
    if (blocks >= 2 && b !== undefined) {
      const tail = sameItem(items[i + 2 * blocks], a) ? 1 : 0;
      const end = i + 2 * blocks + tail;
      shown.push({ item: a, count: blocks + tail, last: numberOf(items[end - 1 - (tail ? 0 : 1)]!) });
      shown.push({ item: b, count: blocks, last: numberOf(items[i + 2 * blocks - 1]!) });
      i = end;
      continue;
    }
    shown.push({ item: a, count: 1, last: numberOf(a) });
    i++;
  }
  return shown;
}

const WHY_INDENT = '           ';

function itemLines(s: Shown): string[] {
  const it = s.item;
  const times = s.count > 1 ? ` ×${s.count} (identical)` : '';
  if (it.kind === 'fault') {
    const f = it.f;
    const label = s.count > 1 ? `fault ${it.n}-${s.last}` : `fault ${it.n}`;
    const head = `  ${label}: #${VECTOR_NAMES[f.vector] ?? f.vector} error ${errorCodeBits(f.vector, f.errorCode)}${f.vector === 14 ? ` CR2=${f.address}` : ''} RIP=${f.rip}${times}`;
    return f.why ? [head, WHY_INDENT + flattenNestedParens(f.why)] : [head];
  }
  if (it.kind === 'decision') {
    const k = it.k;
    const label = s.count > 1 ? `kernel ${it.n}-${s.last}` : `kernel ${it.n}`;
    const head = `  ${label}: ${k.action} at ${k.address}${times}`;
    return k.why ? [head, WHY_INDENT + flattenNestedParens(k.why)] : [head];
  }
  return [`  event: ${it.e.action} (${eventWhenText(it.e.when)})`, WHY_INDENT + flattenNestedParens(it.e.why)];
}

/** The readable report of one result (what `snpemu scenario` prints without --json). */
export function formatReport(r: ScenarioResult): string {
  const lines: string[] = [];
  lines.push(`${r.expect.passed ? 'PASS' : 'FAIL'}  ${r.name}`);
  lines.push(`      ${r.file}`);
  const s = r.stats;
  // An oops message is the kernel's multi-line log: indent it under the outcome.
  const message = flattenNestedParens(r.outcome.message).replace(/\n/g, '\n      | ');
  const why = r.faults.length === 0 ? `; ${noFaultWhy(r)}` : '';
  lines.push(`  kernel ${r.policy}: ${outcomeText(r.outcome)} — ${message}${why}`);
  lines.push(`  ${s.instructions} instructions, ${s.walks} walks, ${s.tlbHits} TLB hits, ${s.tlbMisses} misses, ${s.rmpChecks} RMP checks`);
  for (const shown of collapseRepeats(timeline(r))) lines.push(...itemLines(shown));
  if (r.stdout !== '') lines.push(`  stdout: ${JSON.stringify(r.stdout)}`);
  if (r.stderr !== '') lines.push(`  stderr: ${JSON.stringify(r.stderr)}`);
  for (const m of r.expect.mismatches) lines.push(`  MISMATCH ${m}`);
  return lines.join('\n');
}
