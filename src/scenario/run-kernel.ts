// Kernels `v7` and `mainline`: the scenario's process runs as a user process of the emulated Linux
// host (src/kernel). Regions are mapped and populated before the first instruction; then the
// scenario's physical bytes and RMP states are applied, and events are wired to the kernel's run
// hooks (spec/scenario.md, "process", "events").

import type { Machine } from '../machine.ts';
import { Kernel, KernelSetupError } from '../kernel/kernel.ts';
import type { KernelTrace, ProcessInfo, RunResult } from '../kernel/types.ts';
import { InputError } from './errors.ts';
import type { ExpectContext } from './expect.ts';
import { lookupLinear, readLinear, TABLE_LEVEL_NAMES } from './lookup.ts';
import { createMachine, type RunObserver } from './machine-setup.ts';
import { addressText, type AddressValue } from './numbers.ts';
import { eventRecord } from './event-record.ts';
import type { EventRecord, RunRecord } from './record.ts';
import { applyRmpList, eventPsmash, eventRmpupdate, type PageResolver } from './rmp-setup.ts';
import type { EventSpec, Scenario } from './types.ts';
import { syscallNoteTrace } from './syscall-notes.ts';

export interface ProcessMachine {
  machine: Machine;
  kernel: Kernel;
  info: ProcessInfo;
  resolver: PageResolver;
  /**
   * Where the kernel's trace goes (decisions, syscalls). The kernel fixes its trace object at
   * construction, so it gets a forwarder to this slot: set it any time (the library API does);
   * runProcess points it at its observer for the run when the observer traces kernel decisions.
   */
  setKernelTrace(trace: KernelTrace): void;
  /**
   * The run's own listener for handler decisions (runProcess numbers them against the faults, for the
   * result's `kernel[i].fault` and the events' positions). Independent of setKernelTrace.
   */
  setDecisionListener(listener: KernelTrace['decision'] | undefined): void;
  /** A value with symbols resolved to virtual addresses. */
  resolve(v: AddressValue): bigint;
  expectContext(): ExpectContext;
}

const LOW48 = 2 ** 48;

export function buildProcess(s: Scenario): ProcessMachine {
  const proc = s.process!;
  const machine = createMachine(s);
  const reserved: { pa: number; bytes: number }[] = [];
  // Physical bytes and RMP pages named by `pa` keep the kernel's frame allocator away.
  for (const p of s.physical) if (typeof p.pa === 'bigint') reserved.push({ pa: Number(p.pa), bytes: Math.max(1, p.bytes.length) });
  for (const e of s.rmp) if (e.ref.kind === 'pa' && typeof e.ref.pa === 'bigint') reserved.push({ pa: Number(e.ref.pa), bytes: e.sizeBytes });
  let traceTarget: KernelTrace = {};
  let decisionListener: KernelTrace['decision'] | undefined;
  const kernel = new Kernel(machine, {
    policy: s.kernel as 'v7' | 'mainline',
    reserved,
    features: { nx: s.machine.features.nx, smep: s.machine.features.smep, smap: s.machine.features.smap },
    trace: {
      decision: (d, f) => {
        decisionListener?.(d, f);
        traceTarget.decision?.(d, f);
      },
      syscall: (note) => traceTarget.syscall?.(note),
    },
  });
  const regionVa = new Map(proc.regions.map((r) => [r.name, r.at]));
  const resolve = (v: AddressValue): bigint => (typeof v === 'bigint' ? v : BigInt(regionVa.get(v.symbol)!) + v.offset);
  const regs: Record<string, bigint> = {};
  for (const [name, v] of Object.entries(proc.regs)) if (v !== undefined) regs[name] = resolve(v);
  let info: ProcessInfo;
  try {
    info = kernel.createProcess({
      regions: proc.regions.map((r) => ({
        name: r.name, at: r.at, size: r.size, prot: r.prot, pageBytes: r.pageBytes, kind: r.kind, pa: r.pa, bytes: r.bytes,
      })),
      entry: resolve(proc.entry),
      regs,
      stdin: proc.stdin,
    });
  } catch (e) {
    // The kernel refuses setups it cannot build (out of frames, a pinned pa beyond RAM...).
    if (e instanceof KernelSetupError) throw new InputError(s.file, 'process', e.message);
    throw e;
  }
  const cr3 = (): number => Number(machine.cpu.cr3 & 0xffffffffff000n);
  const resolver: PageResolver = {
    physicalOfVirtual: (v) => {
      const va = resolve(v);
      const l = lookupLinear(machine.phys, cr3(), Number(BigInt.asUintN(48, va)));
      return l.pa ?? `${addressText(v)} is not mapped: ${l.problem}`;
    },
    physical: (v) => {
      if (typeof v === 'bigint') return Number(v);
      const sym = info.symbols.get(v.symbol);
      if (sym === undefined) return `no region "${v.symbol}"`;
      return sym.pa + Number(v.offset);
    },
    tableOf: (v, level) => {
      const l = lookupLinear(machine.phys, cr3(), Number(BigInt.asUintN(48, resolve(v))));
      const t = l.tables[TABLE_LEVEL_NAMES.indexOf(level)];
      return t ?? `the walk of ${addressText(v)} never reaches a ${level} table: ${l.problem ?? 'a larger page maps it'}`;
    },
  };
  for (const p of s.physical) {
    const pa = resolver.physical(p.pa);
    if (typeof pa === 'string') throw new InputError(s.file, 'physical', pa);
    machine.phys.writeBytes(pa, p.bytes);
  }
  applyRmpList(machine.rmp, s.rmp, resolver, s.file);
  return {
    machine,
    kernel,
    info,
    resolver,
    setKernelTrace: (trace) => {
      traceTarget = trace;
    },
    setDecisionListener: (listener) => {
      decisionListener = listener;
    },
    resolve,
    expectContext: () => ({
      resolve,
      readMemory: (at, n) => readLinear(machine.phys, cr3(), Number(BigInt.asUintN(48, at)) % LOW48, n),
    }),
  };
}

/** Fire one event; returns the sentence saying what it did. */
function fire(ev: EventSpec, built: ProcessMachine, s: Scenario, observer?: RunObserver): string {
  const a = ev.action;
  const path = `${ev.path}.do`;
  let text: string;
  switch (a.kind) {
    case 'rmpupdate':
      text = eventRmpupdate(built.machine.rmp, a.ref, a.state, built.resolver, s.file, `${path}.rmpupdate`).why;
      break;
    case 'psmash':
      text = eventPsmash(built.machine.rmp, a.pa, built.resolver, s.file, path).why;
      break;
    case 'unmap':
      built.kernel.unmapRegion(a.region);
      text = `zapped the page-table entries of ${a.region} (the VMA stays)`;
      break;
    case 'munmap':
      built.kernel.munmapRegion(a.region);
      text = `munmap(${a.region}): the VMA and its mappings are gone`;
      break;
    default: {
      const to = built.resolver.physical(a.to);
      if (typeof to === 'string') throw new InputError(s.file, `${path}.remap.to`, to);
      built.kernel.remapRegion(a.region, to);
      text = `remapped ${a.region} onto frames from 0x${to.toString(16)}`;
    }
  }
  observer?.event?.(`${ev.path} (${ev.when.kind === 'before-handler' ? 'before the handler' : ev.when.kind === 'fault' ? `at fault ${ev.when.n}` : `after ${ev.when.n} instructions`}): ${text}`);
  return text;
}

export function runProcess(s: Scenario, built: ProcessMachine, observer?: RunObserver): RunRecord {
  const byInstructions = s.events.filter((e) => e.when.kind === 'instructions');
  const byFault = s.events.filter((e) => e.when.kind === 'fault');
  const beforeHandler = s.events.filter((e) => e.when.kind === 'before-handler');
  let handlerFired = false;
  // Where each event and decision falls among the faults, for the result and the readable report.
  let faultsSoFar = 0;
  const faultNumber = new Map<object, number>();
  const decisionFaults: number[] = [];
  const events: EventRecord[] = [];
  const fireRecorded = (ev: EventSpec): void => {
    // Placed where it started: what it causes (a kernel write that oopses, say) comes after it.
    const rec = eventRecord(ev, 'it did not complete: the run ended while it ran', faultsSoFar, decisionFaults.length);
    events.push(rec);
    rec.why = fire(ev, built, s, observer);
  };
  built.setDecisionListener((_d, f) => decisionFaults.push(faultNumber.get(f) ?? faultsSoFar));
  observer?.attach?.(built.machine);
  if (observer?.kernel !== undefined) {
    built.setKernelTrace({ decision: (d) => observer.kernel!(d), syscall: syscallNoteTrace(built.machine, (k) => observer.kernel!(k)) });
  }
  let result: RunResult;
  try {
    // The kernel's marks count retirements; mark 0 fires inside the run, before the first instruction,
    // so what such an event causes (an oops, say) is part of the result.
    result = built.kernel.run({
      maxInstructions: s.run.maxInstructions,
      maxFaults: s.run.maxFaults,
      hooks: {
        instructionMarks: [...new Set(byInstructions.map((e) => (e.when as { n: number }).n))].sort((a, b) => a - b),
        afterInstructions: (count) => {
          for (const ev of byInstructions) if ((ev.when as { n: number }).n === count) fireRecorded(ev);
        },
        onFault: (n, fault) => {
          faultsSoFar = n;
          faultNumber.set(fault, n);
          observer?.fault?.(fault);
          for (const ev of byFault) if ((ev.when as { n: number }).n === n) fireRecorded(ev);
        },
        beforeHandler: () => {
          if (handlerFired) return;
          handlerFired = true;
          for (const ev of beforeHandler) fireRecorded(ev);
        },
      },
    });
  } finally {
    built.setDecisionListener(undefined);
    observer?.detach?.(built.machine);
  }
  const record: RunRecord = {
    outcome: { ...result.outcome },
    faults: result.faults.map((f) => ({ ...f })),
    kernel: result.kernel.map((k, i) => (decisionFaults[i] === undefined ? { ...k } : { ...k, fault: decisionFaults[i] })),
    regs: result.regs,
    stdout: result.stdout,
    stderr: result.stderr,
    stats: {
      instructions: result.stats.instructions,
      walks: result.stats.walks,
      tlbHits: result.stats.tlbHits,
      tlbMisses: result.stats.tlbMisses,
      rmpChecks: result.stats.rmpChecks,
    },
    setup: {
      cr3: Number(built.machine.cpu.cr3),
      regions: [...built.info.symbols.values()].map((r) => ({ name: r.name, va: r.va, pa: r.pa })),
    },
  };
  if (s.events.length > 0) record.events = events;
  return record;
}
