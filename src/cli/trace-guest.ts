// --trace for guest scenarios (docs/cli.md "Tracing", docs/guest.md "Tracing"): the same kinds,
// sink and line shapes as the host's Tracer (trace.ts), fed by the guest runner's observer
// (src/guest/run-trace.ts) and the guest memory's walk observer (src/guest/walk-trace.ts).
//
//   insn    guest instructions (code mode, the host's InsnTracer reading bytes through a
//           side-effect-free 2D lookup), or each completed step (step mode)
//   mmu     each 2D walk, each nested sub-walk (GPA → SPA), TLB hits/misses with the ASID, A/D writes
//   rmp     each guest RMP check: access, C-bit, the chain, the result, the failing check and entry
//   fault   each #VMEXIT (qemu's "vmexit(code, info1, info2, rip)" with EXITINFO1 decoded) and
//           each guest exception (qemu's -d int "v=.. e=.. cpl=.. IP=.. CR2=..")
//   kernel  the hypervisor model's decisions (npf_interception and what it did) and scenario events
//
// Only the parts a kind asks for are installed: without mmu and rmp the guest memory gets no
// observer, without insn the CPU is not wrapped.

import type { GuestScenario } from '../guest/scenario.ts';
import type { GuestRunObserver, GuestWhere } from '../guest/run-trace.ts';
import { describeStep } from '../guest/run-trace.ts';
import { peekGuestBytes } from '../guest/peek.ts';
import { sizeText, type GuestRmpCheckTrace, type GuestWalkObserver, type GuestWalkTrace, type NestedWalkTrace } from '../guest/walk-trace.ts';
import { hex16, InsnTracer } from './trace-insn.ts';
import type { TraceKind, TraceSink } from './trace.ts';

const h = (v: number | bigint): string => `0x${v.toString(16)}`;
const hex8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');

/** "IP=<rip>" in code mode, "step=<n>" in step mode. */
function whereText(w: GuestWhere): string {
  return w.rip !== null ? `IP=${hex16(w.rip)}` : `step=${w.step ?? '-'}`;
}

export function nestedLine(t: NestedWalkTrace): string {
  const path = t.levels.map((l) => `${l.name}=${h(l.value)}`).join(' ');
  const end = t.spa !== null ? `spa ${h(t.spa)} ${sizeText(t.size)}` : `NPF: ${t.fault}`;
  return `nested ${t.kind.padEnd(5)} gpa ${h(t.gpa)} (${t.role === 'final' ? 'final GPA' : `guest ${t.role}`}): ${path} -> ${end}`;
}

export function walk2dLine(t: GuestWalkTrace): string {
  const head = `walk2d ${t.access} ${h(t.gva)} cpl=${t.cpl} asid=${t.asid} ${t.cr3 === null ? 'paging off (gva = gpa)' : `cr3=${h(t.cr3)}`} ncr3=${h(t.nCr3)}`;
  const path = t.levels.map((l) => `${l.name}=${h(l.value)}`).join(' ');
  let end: string;
  if (t.fault === null) {
    end = `gpa ${h(t.gpa ?? 0)} C=${t.cBit ? 1 : 0} (guest ${sizeText(t.guestPageSize)}) -> spa ${h(t.spa ?? 0)} (nested ${sizeText(t.nestedPageSize)})`;
  } else if (t.fault.kind === 'npf') {
    end = `#VMEXIT(NPF) EXITINFO1=${h(t.fault.code)} EXITINFO2=${h(t.fault.address)}`;
  } else {
    end = `${t.fault.kind === 'vc' ? '#VC' : '#PF'} ${h(t.fault.code)} CR2=${h(t.fault.address)}`;
  }
  return `${head}: ${path}${path ? ' ' : ''}-> ${end}, ${t.memRefs} refs`;
}

export function guestRmpLine(c: GuestRmpCheckTrace): string {
  const what = c.access === 'page' ? `guest page-table access (${c.role})` : c.access === 'PVALIDATE' || c.access === 'RMPADJUST' ? c.access : `guest ${c.access}, ${c.role}`;
  const head = `RMP ${what} gpa ${h(c.gpa)} spa ${h(c.spa)} C=${c.cBit ? 1 : 0} as ${sizeText(c.checkedAs)}`;
  if (c.chain === 'none') return `${head}: not checked (${c.access === 'read' ? 'C=0 reads are' : 'this access is'} not RMP-checked, spec/rmp.md §3.2)`;
  const chain = c.chain === 'C=1'
    ? `C=1 chain (ASID ${c.asid}, VMPL${c.vmpl} needs ${c.need})`
    : c.chain === 'ownership' ? `ownership chain + size rule (ASID ${c.asid})` : 'Hypervisor-Owned';
  if (c.failed === null) return `${head}: ${chain}: pass`;
  const entry = c.entry === null ? 'no RMP entry (above the RMP coverage)' : `pfn ${h(c.entryPfn ?? 0)}: ${c.entry}`;
  return `${head}: ${chain}: FAIL ${c.failed} -> ${c.result}; ${entry}`;
}

/**
 * The observer a guest run gets for these trace kinds. `scenario` names the steps (step mode).
 * Returns undefined when no kind applies, so the run installs nothing.
 */
export function guestTraceObserver(kinds: ReadonlySet<TraceKind>, sink: TraceSink, scenario: GuestScenario): GuestRunObserver | undefined {
  const obs: {
    -readonly [K in keyof GuestRunObserver]: GuestRunObserver[K];
  } = {};
  if (kinds.has('mmu') || kinds.has('rmp')) {
    const memory: GuestWalkObserver = {};
    if (kinds.has('mmu')) {
      memory.tlb = (e) => sink.emit('mmu', `tlb ${e.hit ? 'hit ' : 'miss'} ${e.access} ${h(e.gva)} asid=${e.asid} ${e.user ? 'user' : 'supervisor'}`, { type: 'tlb', ...e });
      memory.nested = (t) => sink.emit('mmu', nestedLine(t), { type: 'nested', ...t });
      memory.walk = (t) => sink.emit('mmu', walk2dLine(t), { type: 'walk2d', ...t });
      memory.adWrite = (a) => sink.emit('mmu', `A/D write ${a.stage} ${a.name} @ ${h(a.entryAddress)}: ${h(a.before)} -> ${h(a.after)}`, { type: 'ad-write', ...a });
    }
    if (kinds.has('rmp')) memory.rmpCheck = (c) => sink.emit('rmp', guestRmpLine(c), { type: 'guest-check', ...c });
    obs.memory = memory;
  }
  if (kinds.has('insn')) {
    obs.cpu = (cpu, m) => {
      const tracer = new InsnTracer({ cpu, phys: m.phys }, sink, (rip, n) => peekGuestBytes(m.phys, m.hv.npt, m.vmsa, Number(BigInt.asUintN(48, rip)), n));
      tracer.attach();
      return () => tracer.detach();
    };
    obs.step = (t) => {
      const r = t.result;
      const shown = r === null ? 'done' : r.value !== undefined ? `value ${r.value}` : `EAX=${r.eax} CF=${r.cf ? 1 : 0}`;
      sink.emit('insn', `step ${t.index}: ${t.text} -> ${shown}`, { type: 'step', index: t.index, text: t.text, result: r });
    };
  }
  const stepFaulted = (w: GuestWhere): void => {
    if (!kinds.has('insn') || w.step === null || w.rip !== null) return;
    const step = scenario.steps[w.step];
    if (step === undefined) return;
    const text = describeStep(step);
    sink.emit('insn', `step ${w.step}: ${text}  (faulted: not completed)`, { type: 'step', index: w.step, text, result: null, faulted: true });
  };
  if (kinds.has('fault') || kinds.has('insn')) {
    obs.exit = (t) => {
      stepFaulted(t);
      if (!kinds.has('fault')) return;
      // qemu's cpu_vmexit log line: vmexit(exit_code, exit_info_1, exit_info_2, rip)!
      const ip = t.rip !== null ? hex16(t.rip) : `step ${t.step}`;
      const text = `vmexit(${hex8(t.exitCode)}, ${hex16(t.exitInfo1)}, ${hex16(t.exitInfo2)}, ${ip})! ${t.exitCode === 0x400 ? 'NPF' : 'exit'} ${t.bits} cpl=${t.cpl}: ${t.why}`;
      sink.emit('fault', text, { type: 'vmexit', ...t });
    };
    obs.exception = (t) => {
      stepFaulted(t);
      if (!kinds.has('fault')) return;
      const cr2 = t.vector === 14 || t.vector === 29 ? ` CR2=${hex16(t.address)}` : '';
      const name = /^[A-Z]+$/.test(t.name) ? `#${t.name}` : t.name;
      const text = `v=${t.vector.toString(16).padStart(2, '0')} e=${t.errorCode.toString(16).padStart(4, '0')} cpl=${t.cpl} ${whereText(t)}${cr2} ${name}: ${t.why}`;
      sink.emit('fault', text, { type: 'exception', ...t });
    };
  }
  if (kinds.has('kernel')) {
    obs.decision = (d) => sink.emit('kernel', `${d.action}${d.gpa === null ? '' : ` at GPA ${h(d.gpa)}`}: ${d.why}`, { ...d });
    obs.event = (text) => sink.emit('event', text, { text });
  }
  return Object.keys(obs).length === 0 ? undefined : obs;
}
