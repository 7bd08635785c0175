// Kernel `none`: bare hardware (spec/scenario.md, "cpu, paging"). The scenario's registers, page
// tables and physical bytes go straight into the machine; the first exception ends the run with
// outcome `exception` (RIP at the faulting instruction), HLT at CPL 0 ends it with `halt`.

import { Machine } from '../machine.ts';
import type { CpuFault } from '../cpu/fault.ts';
import { InputError } from './errors.ts';
import { buildPageTables, type Range } from './page-tables.ts';
import { lookupLinear, TABLE_LEVEL_NAMES } from './lookup.ts';
import { applyRmpList, eventPsmash, eventRmpupdate, type PageResolver } from './rmp-setup.ts';
import { addressText, type AddressValue } from './numbers.ts';
import { eventRecord } from './event-record.ts';
import type { EventRecord, FaultRecord, RunRecord } from './record.ts';
import { GPR_NAMES, type EventSpec, type RegName, type Scenario } from './types.ts';
import { createMachine, explainFault, machineStats, rmpRange, type RunObserver } from './machine-setup.ts';

export interface NoneMachine {
  machine: Machine;
  cr3: number;
  tablePages: number[];
  resolver: PageResolver;
}

function plain(v: AddressValue, what: string): number | string {
  // Loading already rejected symbols under kernel none (there are no regions); keep the type honest.
  if (typeof v !== 'bigint') return `${what} ${addressText(v)}: kernel none has no regions`;
  return Number(v);
}

/** Build the bare machine: memory, RMP, physical bytes, page tables, RMP states, registers. */
export function buildNone(s: Scenario): NoneMachine {
  const cpuSpec = s.cpu!;
  const machine = createMachine(s);
  const { phys, rmp } = machine;
  // Pages the table builder must avoid (docs/scenarios.md, "Page-table area").
  const reserved: Range[] = [];
  for (const p of s.physical) {
    const pa = Number(p.pa as bigint);
    reserved.push({ start: pa, end: pa + Math.max(p.bytes.length, 1) });
  }
  for (const e of s.rmp) if (e.ref.kind === 'pa' && typeof e.ref.pa === 'bigint') {
    const pa = Number(e.ref.pa);
    const base = pa - (pa % e.sizeBytes);
    reserved.push({ start: base, end: base + e.sizeBytes });
  }
  for (const m of s.paging?.maps ?? []) reserved.push({ start: m.pa, end: m.pa + m.sizeBytes });
  for (const e of s.paging?.entries ?? []) reserved.push({ start: e.pa, end: e.pa + 8 });
  if (cpuSpec.cr3 !== undefined) {
    const root = Number(cpuSpec.cr3 & 0xffffffffff000n);
    reserved.push({ start: root, end: root + 4096 });
  }
  const placement = rmpRange(machine);
  if (placement !== null) reserved.push({ start: placement.base, end: placement.end + 1 });
  reserved.push({ start: 0, end: 4096 });

  for (const p of s.physical) phys.writeBytes(Number(p.pa as bigint), p.bytes);
  let cr3 = cpuSpec.cr3 === undefined ? 0 : Number(cpuSpec.cr3 & 0xffffffffff000n);
  let tablePages: number[] = [];
  if (s.paging !== undefined) {
    const built = buildPageTables(phys, s.paging, reserved, s.file, cpuSpec.cr3 === undefined ? undefined : cr3);
    if (cpuSpec.cr3 === undefined) cr3 = built.cr3;
    tablePages = built.tablePages;
  }
  const resolver: PageResolver = {
    physicalOfVirtual: (v) => `"page" needs a process; kernel none names pages by "pa" (${addressText(v)})`,
    physical: (v) => plain(v, 'pa'),
    tableOf: (v, level) => {
      const la = plain(v, 'va');
      if (typeof la === 'string') return la;
      const l = lookupLinear(phys, cr3, la % 2 ** 48);
      const t = l.tables[TABLE_LEVEL_NAMES.indexOf(level)];
      if (t === undefined) return `the walk of ${addressText(v)} never reaches a ${level} table: ${l.problem ?? 'it ends in a larger page'}`;
      return t;
    },
  };
  const cpu = machine.cpu;
  cpu.cr0 = cpuSpec.cr0;
  cpu.cr4 = cpuSpec.cr4;
  cpu.efer = cpuSpec.efer;
  cpu.cr3 = cpuSpec.cr3 ?? BigInt(cr3);
  cpu.cpl = cpuSpec.cpl;
  cpu.rflags = cpuSpec.rflags;
  cpu.rip = cpuSpec.rip;
  cpu.fsBase = cpuSpec.fsBase;
  cpu.gsBase = cpuSpec.gsBase;
  cpuSpec.gprs.forEach((v, i) => cpu.setReg(i, v));
  applyRmpList(rmp, s.rmp, resolver, s.file);
  return { machine, cr3, tablePages, resolver };
}

/** All registers a kernel-none result reports. */
export function cpuRegisters(machine: Machine): Partial<Record<RegName, bigint>> {
  const cpu = machine.cpu;
  const regs: Partial<Record<RegName, bigint>> = {};
  GPR_NAMES.forEach((name, i) => { regs[name] = cpu.getReg(i); });
  regs.rip = cpu.rip;
  regs.rflags = cpu.rflags;
  regs.cr0 = cpu.cr0;
  regs.cr2 = cpu.cr2;
  regs.cr3 = cpu.cr3;
  regs.cr4 = cpu.cr4;
  regs.efer = cpu.efer;
  regs.fsbase = cpu.fsBase;
  regs.gsbase = cpu.gsBase;
  return regs;
}

/** Fire one event; returns the sentence saying what it did. */
function fireEvent(ev: EventSpec, built: NoneMachine, s: Scenario, observer?: RunObserver): string {
  const a = ev.action;
  if (a.kind === 'rmpupdate') {
    const r = eventRmpupdate(built.machine.rmp, a.ref, a.state, built.resolver, s.file, `${ev.path}.do.rmpupdate`);
    observer?.event?.(`event ${ev.path}: ${r.why}`);
    return r.why;
  } else if (a.kind === 'psmash') {
    const r = eventPsmash(built.machine.rmp, a.pa, built.resolver, s.file, `${ev.path}.do`);
    observer?.event?.(`event ${ev.path}: ${r.why}`);
    return r.why;
  } else {
    throw new InputError(s.file, `${ev.path}.do`, `"${a.kind}" needs a process; kernel none has none`);
  }
}

/** Run a kernel-none scenario to its first exception, HLT, or budget. */
export function runNone(s: Scenario, built: NoneMachine, observer?: RunObserver): RunRecord {
  const { machine } = built;
  const cpu = machine.cpu;
  const faults: FaultRecord[] = [];
  const byInstructions = s.events.filter((e) => e.when.kind === 'instructions')
    .sort((a, b) => (a.when as { n: number }).n - (b.when as { n: number }).n);
  const byFault = s.events.filter((e) => e.when.kind === 'fault');
  let nextEvent = 0;
  // Kernel none has no handler, so no decisions: an event's place is the number of faults before it.
  const events: EventRecord[] = [];
  const fireRecorded = (ev: EventSpec): void => {
    const rec = eventRecord(ev, 'it did not complete', faults.length, 0);
    events.push(rec);
    rec.why = fireEvent(ev, built, s, observer);
  };
  const fireDue = (): void => {
    while (nextEvent < byInstructions.length && (byInstructions[nextEvent]!.when as { n: number }).n <= cpu.instructions) {
      fireRecorded(byInstructions[nextEvent++]!);
    }
  };
  observer?.attach?.(machine);
  let outcome: RunRecord['outcome'];
  try {
    for (;;) {
      fireDue();
      const limit = s.run.maxInstructions;
      if (cpu.instructions >= limit) {
        outcome = { kind: 'limit', message: `the instruction budget (run.maxInstructions = ${limit}) ran out` };
        break;
      }
      const nextAt = nextEvent < byInstructions.length ? (byInstructions[nextEvent]!.when as { n: number }).n : limit;
      const stop = cpu.run(Math.min(limit, nextAt) - cpu.instructions);
      if (stop.kind === 'limit') continue;
      if (stop.kind === 'halt') {
        outcome = { kind: 'halt', message: 'HLT at CPL 0 ends the run' };
        break;
      }
      if (stop.kind === 'fault') {
        const rec = recordFault(stop.fault, cpu.rip, machine);
        faults.push(rec);
        observer?.fault?.(rec);
        for (const ev of byFault) if ((ev.when as { n: number }).n === faults.length) fireRecorded(ev);
        outcome = { kind: 'exception', message: `#${stop.fault.name} at RIP 0x${cpu.rip.toString(16)} ends the run (kernel none)` };
        break;
      }
      if (stop.kind === 'syscall') {
        outcome = { kind: 'halt', message: 'SYSCALL with no kernel to take it (kernel none) ends the run' };
        break;
      }
      outcome = { kind: 'limit', message: `the run stopped (${stop.kind})` };
      break;
    }
  } finally {
    observer?.detach?.(machine);
  }
  return {
    outcome,
    faults,
    kernel: [],
    ...(s.events.length > 0 ? { events } : {}),
    regs: cpuRegisters(machine),
    stdout: '',
    stderr: '',
    stats: machineStats(machine),
    setup: { cr3: built.cr3, pageTables: built.tablePages },
  };
}

export function recordFault(f: CpuFault, rip: bigint, machine: Machine): FaultRecord {
  return {
    vector: f.vector,
    errorCode: f.errorCode >>> 0,
    address: f.vector === 14 ? f.address : 0n,
    rip,
    rmp: f.rmp,
    why: explainFault(f),
    cpl: machine.cpu.cpl,
  };
}

