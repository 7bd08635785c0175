// Running a guest scenario (scenario.ts parses it; docs/guest.md documents it): build the machine,
// run the guest — a list of steps, or real guest code through the CPU — hand every #VMEXIT to the
// KVM-shaped hypervisor model, answer memory-fault exits as the scenario says, fire events, detect
// livelocks, and check `expect`.
//
// The vCPU loop:
//   VMRUN (the §3.3 checks; a failure ends the run with outcome "vmrun-failed")
//   run the guest (one step, or the CPU until it stops)
//   ├─ completes / HLT           → next step / outcome "halt"
//   ├─ guest #PF/#GP/#UD         → outcome "exception" (there is no guest kernel to deliver it to)
//   ├─ #VC 0x404                 → onVc "stop": outcome "exception"; "pvalidate": the guest's #VC
//   │                              handler PVALIDATEs the 4K page at CR2, then the guest resumes
//   └─ #VMEXIT(NPF)              → #VMEXIT clears the in-use marks; exit events fire; the model's
//                                  npf_interception runs; a memory-fault exit is converted (or stops
//                                  the run); then VMRUN again and resume
// Livelock: the same exit (EXITINFO1, EXITINFO2) 8 times in a row while the hypervisor changes
// nothing (spurious, rmp-spurious, warn), or the same #VC while the handler changes nothing —
// detected, never waited out. run.maxExits bounds exits plus exceptions.
//
// Tracing (run-trace.ts): an observer, when given, sees every #VMEXIT, guest exception, hypervisor
// decision (npf_interception and what the model logged), scenario event and step; its `memory`
// part is installed on the guest's memory (walks, TLB, A/D, RMP checks) and `cpu` attaches to the
// guest CPU. Without one, nothing is installed.
//
// Guest code and PVALIDATE/RMPADJUST: the CPU executes them itself through its guest port
// (Cpu.guestSnp, installed by GuestMachine.createCpu for an SNP-active guest), so an NPF, #VC, #PF or
// #GP they raise reaches this loop like any other fault, with RIP at the instruction.

import type { Cpu } from '../cpu/cpu.ts';
import { CpuFault } from '../cpu/fault.ts';
import { InputError } from '../scenario/errors.ts';
import { parseJsonText, readJsonFile } from '../scenario/load.ts';
import { encodeRmpState } from '../rmp/entry.ts';
import { entryForState, stateNameOf } from '../rmp/states.ts';
import { RMP_STATUS_NAMES } from '../rmp/codes.ts';
import type { HvAction } from '../hv/kvm.ts';
import { hex } from '../scenario/numbers.ts';
import { NpfBits, SIZE_4K, SvmExit } from './constants.ts';
import { VmExitFault, describeExitInfo1 } from './exits.ts';
import { GuestMachine } from './guest-machine.ts';
import { pvalidate, rmpadjust } from './instructions.ts';
import { vmexit, vmrun, type VmrunTarget } from './vmrun.ts';
import { isGuestScenarioJson } from './report.ts';
import { describeAction, describeStep, type GuestRunObserver, type GuestWhere } from './run-trace.ts';
import { parseGuestScenario, REG_NAMES, type GuestAction, type GuestOutcomeKind, type GuestScenario, type GuestStep } from './scenario.ts';

export interface GuestExitRecord {
  exitCode: string;
  exitInfo1: string;
  exitInfo2: string;
  bits: string;
  /** Step index, or the guest RIP in code mode. */
  at: string;
  why: string;
}

export interface GuestFaultRecord {
  vector: number;
  errorCode: string;
  address: string;
  at: string;
  why: string;
}

export interface GuestScenarioResult {
  name: string;
  file: string;
  outcome: { kind: GuestOutcomeKind; message: string };
  exits: GuestExitRecord[];
  faults: GuestFaultRecord[];
  /** Handler decisions in order: the hypervisor's, the VMM's conversions, the guest #VC handler's, events. */
  hv: { action: string; gpa: string; why: string }[];
  steps: { index: number; result: { value?: string; eax?: number; cf?: boolean } | null }[];
  /** Final guest registers in code mode. */
  regs?: Record<string, string>;
  stats: { instructions: number; walks: number; tlbHits: number; tlbMisses: number; rmpChecks: number; memRefs: number };
  expect: { passed: boolean; mismatches: string[] };
}

const LIVELOCK_REPEATS = 8;
const NO_CHANGE = new Set(['spurious', 'rmp-spurious', 'warn']);
type Outcome = GuestScenarioResult['outcome'];

/** What the loop does after a thrown exit or exception was handled. */
type Next = { resume: true } | { resume: false; outcome: Outcome };
const RESUME: Next = { resume: true };

class GuestRun {
  readonly m: GuestMachine;
  readonly exits: GuestExitRecord[] = [];
  readonly faults: GuestFaultRecord[] = [];
  readonly steps: GuestScenarioResult['steps'] = [];
  readonly target: VmrunTarget;
  private lastExitKey = '';
  private exitRepeats = 0;
  /** Page the guest's #VC handler must validate before the guest resumes (-1: none). */
  pendingVcPage = -1;
  private lastVcAddress = -1n;
  private vcRepeats = 0;
  private lastHandlerChanged = true;
  readonly setupActions: number;
  /** hv.log entries already reported to the observer. */
  private reported = 0;
  /** The step under way (step mode), for traces. */
  private currentStep: number | null = null;

  constructor(readonly s: GuestScenario, readonly obs: GuestRunObserver | null = null) {
    try {
      this.m = new GuestMachine({
        memoryBytes: s.memoryBytes, snpEnabled: s.snpEnabled, asid: s.asid, snpActive: s.snpActive, vmpl: s.vmpl,
        hv: { capAtRmpLevel: s.capAtRmpLevel }, regions: s.regions, paging: s.paging, populate: false,
      });
    } catch (e) {
      // parseGuestScenario checks the layout; what only building finds out (the host pool too
      // fragmented for an aligned backing, more than 16 guest table pages) is still the input's fault.
      if (e instanceof RangeError) throw new InputError(s.file, /page tables/.test(e.message) ? 'guest.paging' : 'guest.memory', e.message);
      throw e;
    }
    const m = this.m;
    for (const e of s.rmp) {
      m.rmp.setState(e.pa, { state: e.state, asid: e.asid, gpa: e.gpa, size: e.size, vmsa: e.vmsa });
      if (e.vmpl !== undefined) m.rmp.setEntry(e.pa / SIZE_4K, { vmpl: [...e.vmpl] });
    }
    if (s.populate) m.hv.populate();
    for (const n of s.nested) m.hv.npt.map(n.gpa, n.pa, n.size, n.flags ?? 0x7n);
    m.mem.tlb.flushAll();
    m.mem.setCpl(s.cpl);
    this.setupActions = m.hv.log.length;
    this.reported = this.setupActions;
    this.target = { asid: s.asid, snpActive: s.snpActive, vmsaPa: s.vmsa?.pa, vmsaGpa: s.vmsa?.gpa };
    if (obs?.memory !== undefined) m.mem.observe(obs.memory);
  }

  // ------------------------------------------------------------------ tracing

  /** Report the hypervisor's log entries made since the last report. */
  private reportDecisions(): void {
    const log = this.m.hv.log;
    if (this.obs?.decision !== undefined) for (let i = this.reported; i < log.length; i++) this.obs.decision({ ...log[i]! });
    this.reported = log.length;
  }

  private where(): GuestWhere {
    return { rip: this.cpu !== null ? this.cpu.rip : null, step: this.currentStep, cpl: this.m.vmsa.cpl };
  }

  /** Fire a scenario event's action, telling the observer first and its log entries after. */
  fire(when: string, a: GuestAction): void {
    this.obs?.event?.(`${when}: ${describeAction(a)}`, a);
    runAction(this.m, a);
    this.reportDecisions();
  }

  /** VMRUN; null when it succeeded. */
  enter(): Next | null {
    const r = vmrun(this.m.rmp, this.target);
    if (!r.ok) this.obs?.decision?.({ action: 'vmrun-failed', gpa: this.s.vmsa?.gpa ?? null, why: r.why });
    return r.ok ? null : { resume: false, outcome: { kind: 'vmrun-failed', message: r.why } };
  }

  /** Run the guest's #VC handler if one is pending. Throws like any guest code. */
  runVcHandler(): void {
    if (this.pendingVcPage < 0) return;
    const page = this.pendingVcPage;
    const r = pvalidate(this.m.mem, BigInt(page), 0n, 1n);
    this.m.hv.log.push({ action: 'vc-pvalidate', gpa: this.m.mem.walk.gpa, why: `the guest's #VC handler ran PVALIDATE(0x${page.toString(16)}, 4K, validate) → EAX=${r.eax}, CF=${r.cf ? 1 : 0}` });
    this.lastHandlerChanged = r.eax === 0 && !r.cf;
    this.pendingVcPage = -1;
    this.reportDecisions();
  }

  /** Handle whatever the guest threw (an exit or an exception); `at` names where. */
  handle(e: unknown, at: string): Next {
    vmexit(this.m.rmp, this.target);
    if (e instanceof VmExitFault) return this.handleExit(e, at);
    if (e instanceof CpuFault) return this.handleException(e, at);
    throw e;
  }

  private handleExit(e: VmExitFault, at: string): Next {
    const { m, s } = this;
    this.exits.push({ exitCode: hex(e.exitCode), exitInfo1: hex(e.exitInfo1), exitInfo2: hex(e.exitInfo2), bits: describeExitInfo1(e.exitInfo1), at, why: e.why });
    const obs = this.obs;
    obs?.exit?.({ ...this.where(), exitCode: e.exitCode, exitInfo1: e.exitInfo1, exitInfo2: e.exitInfo2, bits: describeExitInfo1(e.exitInfo1), why: e.why });
    for (const ev of s.events) if ('exit' in ev.when && ev.when.exit === this.exits.length) this.fire(`at exit ${this.exits.length}`, ev.action);
    const before = m.hv.log.length;
    if (e.exitCode === SvmExit.NPF) obs?.decision?.({ action: 'npf_interception', gpa: Number(e.exitInfo2), why: npfInterceptionWhy(e.exitInfo1, s.snpActive) });
    const r = e.exitCode === SvmExit.NPF ? m.hv.npfInterception(e.exitInfo1, Number(e.exitInfo2)) : { kind: 'resume' as const };
    this.reportDecisions();
    if (r.kind === 'memory-fault') {
      if (s.onMemoryFault === 'stop') {
        return { resume: false, outcome: { kind: 'memory-fault', message: `KVM_EXIT_MEMORY_FAULT for GPA ${hex(r.gpa)} (${r.toPrivate ? 'to private' : 'to shared'}); the scenario stops there` } };
      }
      m.hv.convert(r.gpa, r.size, r.toPrivate);
      this.reportDecisions();
    }
    const changed = m.hv.log.slice(before).some((a) => !NO_CHANGE.has(a.action));
    const key = `${e.exitInfo1}:${e.exitInfo2}`;
    this.exitRepeats = changed ? 0 : key === this.lastExitKey ? this.exitRepeats + 1 : 1;
    this.lastExitKey = changed ? '' : key;
    if (this.exitRepeats >= LIVELOCK_REPEATS) {
      return { resume: false, outcome: { kind: 'livelock', message: `the same #VMEXIT(NPF) (EXITINFO1 ${hex(e.exitInfo1)}, GPA ${hex(e.exitInfo2)}) repeated ${LIVELOCK_REPEATS} times while the hypervisor changed nothing: ${m.hv.log[m.hv.log.length - 1]?.why ?? ''}` } };
    }
    return this.budget();
  }

  private handleException(e: CpuFault, at: string): Next {
    this.faults.push({ vector: e.vector, errorCode: hex(e.errorCode), address: hex(e.address), at, why: e.why });
    this.obs?.exception?.({ ...this.where(), vector: e.vector, name: e.name, errorCode: e.errorCode, address: e.address, why: e.why });
    if (e.vector === 29 && this.s.onVc === 'pvalidate' && this.pendingVcPage < 0) {
      this.vcRepeats = e.address === this.lastVcAddress && !this.lastHandlerChanged ? this.vcRepeats + 1 : 1;
      this.lastVcAddress = e.address;
      if (this.vcRepeats >= LIVELOCK_REPEATS) {
        return { resume: false, outcome: { kind: 'livelock', message: `the same #VC 0x404 at ${hex(e.address)} repeated ${LIVELOCK_REPEATS} times although the guest's handler validated the page at CR2: ${e.why}` } };
      }
      this.pendingVcPage = Number(e.address & 0xfffffffff000n);
      return this.budget();
    }
    return { resume: false, outcome: { kind: 'exception', message: `guest ${e.name}${this.pendingVcPage >= 0 ? ' inside the #VC handler' : ''}: ${e.why}` } };
  }

  private budget(): Next {
    if (this.exits.length + this.faults.length >= this.s.maxExits) {
      return { resume: false, outcome: { kind: 'limit', message: `run.maxExits (${this.s.maxExits}) exits and exceptions taken` } };
    }
    return RESUME;
  }

  // ------------------------------------------------------------------ step mode

  runSteps(): Outcome {
    const { s, m } = this;
    for (let i = 0; i < s.steps.length; i++) {
      this.currentStep = i;
      for (const ev of s.events) if ('step' in ev.when && ev.when.step === i) this.fire(`before step ${i}`, ev.action);
      for (;;) {
        const failed = this.enter();
        if (failed !== null && !failed.resume) return failed.outcome;
        try {
          this.runVcHandler();
          const result = execute(m, s.steps[i]!);
          this.steps.push({ index: i, result });
          this.obs?.step?.({ index: i, step: s.steps[i]!, text: describeStep(s.steps[i]!), result });
          vmexit(m.rmp, this.target);
          break;
        } catch (e) {
          const next = this.handle(e, `step ${i}`);
          if (!next.resume) return next.outcome;
        }
      }
    }
    return { kind: 'done', message: `all ${s.steps.length} steps completed` };
  }

  // ------------------------------------------------------------------ code mode (through the CPU)

  readonly cpu: Cpu | null = null;

  runCode(): Outcome {
    const { s, m } = this;
    const code = s.code!;
    for (const b of code.bytes) {
      for (let k = 0; k < b.hex.length; k++) {
        const gpa = b.gpa + k;
        const spa = m.hv.backing(gpa, m.hv.isPrivate(gpa)); // the backing the nested table maps (GuestMachine)
        if (spa < 0) throw new RangeError(`guest.code at GPA 0x${gpa.toString(16)} lies outside every guest region`);
        m.phys.write8(spa, b.hex[k]!);
      }
    }
    const cpu = m.createCpu();
    (this as { cpu: Cpu | null }).cpu = cpu;
    const detach = this.obs?.cpu?.(cpu, m);
    try {
      return this.runCpu(cpu, code);
    } finally {
      detach?.();
    }
  }

  private runCpu(cpu: Cpu, code: NonNullable<GuestScenario['code']>): Outcome {
    for (const [i, val] of code.regs) cpu.setReg(i, val);
    if (code.rflags !== undefined) cpu.rflags = code.rflags;
    cpu.rip = code.rip;
    const m0 = cpu.instructions;
    for (;;) {
      const failed = this.enter();
      if (failed !== null && !failed.resume) return failed.outcome;
      const at = () => `rip ${hex(cpu.rip)}`;
      try {
        this.runVcHandler();
      } catch (e) {
        const next = this.handle(e, at());
        if (!next.resume) return next.outcome;
        continue;
      }
      const left = code.maxInstructions - (cpu.instructions - m0);
      const stop = left <= 0 ? { kind: 'limit' as const } : cpu.run(left);
      vmexit(this.m.rmp, this.target);
      if (stop.kind === 'halt') return { kind: 'halt', message: `the guest executed HLT (RIP is now ${hex(cpu.rip)}, after it)` };
      if (stop.kind === 'limit') return { kind: 'limit', message: `guest.cpu.maxInstructions (${code.maxInstructions}) instructions ran` };
      if (stop.kind !== 'fault') return { kind: 'exception', message: `the guest stopped with "${stop.kind}", which a guest scenario does not handle (there is no guest kernel)` };
      const next = this.handle(stop.fault, at());
      if (!next.resume) return next.outcome;
    }
  }
}

/** What npf_interception() will do with this exit (svm.c; src/hv/kvm.ts), for `--trace kernel`. */
function npfInterceptionWhy(info: bigint, snpActive: boolean): string {
  const priv = snpActive && (info & NpfBits.ENC) !== 0n;
  const rmp = (info & NpfBits.RMP) !== 0n;
  return `EXITINFO1 ${hex(info)} (${describeExitInfo1(info)}): a ${priv ? 'private (ENC=1)' : 'shared (ENC=0)'} access; kvm_mmu_page_fault` +
    (rmp ? ', then, unless that exits to the VMM, sev_handle_rmp_fault (RMP=1)' : '');
}

export interface GuestRunOptions {
  /** Sees the run as it happens (--trace); none: nothing is installed. */
  observer?: GuestRunObserver;
}

export function runGuestScenario(s: GuestScenario, opts: GuestRunOptions = {}): GuestScenarioResult {
  const run = new GuestRun(s, opts.observer ?? null);
  const m = run.m;
  let outcome: Outcome;
  try {
    outcome = s.code !== undefined ? run.runCode() : run.runSteps();
  } finally {
    m.mem.observe(null);
  }
  const hv = m.hv.log.slice(run.setupActions).map((a) => ({ action: a.action, gpa: hex(a.gpa), why: a.why }));
  const walk = m.mem.walk.stats;
  const result: GuestScenarioResult = {
    name: s.name, file: s.file, outcome, exits: run.exits, faults: run.faults, hv, steps: run.steps,
    stats: { instructions: run.cpu?.instructions ?? 0, walks: walk.walks, tlbHits: m.mem.tlb.hits, tlbMisses: m.mem.tlb.misses, rmpChecks: walk.rmpChecks, memRefs: walk.memRefs },
    expect: { passed: true, mismatches: [] },
  };
  if (run.cpu !== null) {
    const regs: Record<string, string> = { rip: hex(run.cpu.rip), rflags: hex(run.cpu.rflags) };
    REG_NAMES.forEach((n, i) => (regs[n] = hex(run.cpu!.getReg(i))));
    result.regs = regs;
  }
  result.expect = checkExpect(s, result, m);
  return result;
}

function execute(m: GuestMachine, step: GuestStep): { value?: string; eax?: number; cf?: boolean } | null {
  const mem = m.mem;
  switch (step.kind) {
    case 'read': {
      let v: bigint;
      if (step.size === 8) {
        const lo = mem.read64(step.va);
        v = (BigInt(mem.high32) << 32n) | BigInt(lo);
      } else v = BigInt(step.size === 1 ? mem.read8(step.va) : step.size === 2 ? mem.read16(step.va) : mem.read32(step.va));
      return { value: hex(v) };
    }
    case 'write':
      if (step.size === 8) mem.write64(step.va, Number(step.value & 0xffffffffn), Number(step.value >> 32n));
      else if (step.size === 4) mem.write32(step.va, Number(step.value));
      else if (step.size === 2) mem.write16(step.va, Number(step.value));
      else mem.write8(step.va, Number(step.value));
      return null;
    case 'fetch':
      return { value: hex(mem.fetch8(step.va)) };
    case 'pvalidate': {
      const r = pvalidate(mem, step.va, BigInt(step.size), step.validate ? 1n : 0n);
      return { eax: r.eax, cf: r.cf };
    }
    case 'rmpadjust': {
      const rdx = BigInt(step.vmpl | (step.perms << 8) | (step.vmsa ? 1 << 16 : 0));
      const r = rmpadjust(mem, step.va, BigInt(step.size), rdx);
      return { eax: r.eax, cf: r.cf };
    }
    case 'vmpl':
      // Another VMSA of the same guest runs (each VMPL has its own VMSA). The model keeps one
      // context and flushes its translations on the switch.
      m.vmsa.vmpl = step.vmpl;
      mem.flushGuestTlb();
      return null;
    default:
      mem.setCpl(step.cpl);
      return null;
  }
}

function runAction(m: GuestMachine, a: GuestAction): void {
  const log = (action: HvAction['action'], gpa: number, why: string) => m.hv.log.push({ action, gpa, why });
  switch (a.kind) {
    case 'convert':
      m.hv.convert(a.gpa, a.size, a.toPrivate);
      return;
    case 'psmash': {
      const ret = m.rmp.psmash(a.pa);
      log(ret === 0 ? 'psmash' : 'psmash-failed', 0, `event: PSMASH 0x${a.pa.toString(16)} → ${RMP_STATUS_NAMES[ret] ?? ret}`);
      return;
    }
    case 'rmpupdate': {
      const e = entryForState({ state: a.state, asid: a.asid, gpa: a.gpa, size: a.size });
      const ret = m.rmp.rmpupdate(a.pa, encodeRmpState({ gpa: e.gpa, assigned: e.assigned, pageSize: e.pageSize, immutable: e.immutable, asid: e.asid }));
      log(ret === 0 ? 'rmpupdate' : 'rmpupdate-failed', a.gpa ?? 0, `event: RMPUPDATE 0x${a.pa.toString(16)} to ${a.state} → ${RMP_STATUS_NAMES[ret] ?? ret}`);
      return;
    }
    case 'remap':
      m.hv.remap(a.gpa, a.to, a.size);
      log('remap', a.gpa, `event: the hypervisor remapped GPA 0x${a.gpa.toString(16)} to SPA 0x${a.to.toString(16)} (${a.size / 1024}K)`);
      return;
    case 'zap': {
      const n = m.hv.npt.zap(a.gpa, a.size);
      m.mem.tlb.flushAll();
      log('zap', a.gpa, `event: zapped ${n} nested leaf(s) from GPA 0x${a.gpa.toString(16)}`);
      return;
    }
    default:
      m.rmp.injectBusy(Math.floor(a.pa / SIZE_4K), { accesses: a.accesses, instructions: a.instructions });
      log('busy', 0, `event: pfn 0x${(a.pa / SIZE_4K).toString(16)} busy for ${a.accesses} access(es) and ${a.instructions} RMPUPDATE/PSMASH(es), as if another CPU were updating it`);
  }
}

function checkExpect(s: GuestScenario, r: GuestScenarioResult, m: GuestMachine): { passed: boolean; mismatches: string[] } {
  const x = s.expect;
  const bad: string[] = [];
  const prefixOnly = r.outcome.kind === 'livelock' || r.outcome.kind === 'limit';
  if (x.outcome !== undefined && x.outcome !== r.outcome.kind) bad.push(`outcome: expected ${x.outcome}, got ${r.outcome.kind} (${r.outcome.message})`);
  const compareList = <E, A>(name: string, want: E[], got: A[], cmp: (w: E, g: A) => string | null): void => {
    if (prefixOnly ? got.length < want.length : got.length !== want.length) {
      bad.push(`${name}: expected ${want.length}${prefixOnly ? ' or more' : ''} entries, got ${got.length}`);
    }
    for (let i = 0; i < Math.min(want.length, got.length); i++) {
      const d = cmp(want[i]!, got[i]!);
      if (d !== null) bad.push(`${name}[${i}]: ${d}`);
    }
  };
  if (x.exits !== undefined) {
    compareList('exits', x.exits, r.exits, (w, g) => {
      const parts: string[] = [];
      if (w.exitCode !== undefined && BigInt(w.exitCode) !== BigInt(g.exitCode)) parts.push(`exitCode expected ${hex(w.exitCode)}, got ${g.exitCode}`);
      if (w.exitInfo1 !== undefined && w.exitInfo1 !== BigInt(g.exitInfo1)) parts.push(`exitInfo1 expected ${hex(w.exitInfo1)} (${describeExitInfo1(w.exitInfo1)}), got ${g.exitInfo1} (${g.bits})`);
      if (w.exitInfo2 !== undefined && w.exitInfo2 !== BigInt(g.exitInfo2)) parts.push(`exitInfo2 expected ${hex(w.exitInfo2)}, got ${g.exitInfo2}`);
      return parts.length === 0 ? null : parts.join('; ');
    });
  }
  if (x.faults !== undefined) {
    compareList('faults', x.faults, r.faults, (w, g) => {
      const parts: string[] = [];
      if (w.vector !== undefined && w.vector !== g.vector) parts.push(`vector expected ${w.vector}, got ${g.vector}`);
      if (w.errorCode !== undefined && BigInt(w.errorCode) !== BigInt(g.errorCode)) parts.push(`errorCode expected ${hex(w.errorCode)}, got ${g.errorCode}`);
      if (w.address !== undefined && w.address !== BigInt(g.address)) parts.push(`address expected ${hex(w.address)}, got ${g.address}`);
      return parts.length === 0 ? null : parts.join('; ');
    });
  }
  if (x.hv !== undefined) compareList('hv', x.hv, r.hv, (w, g) => (w === g.action ? null : `expected ${w}, got ${g.action} (${g.why})`));
  if (x.steps !== undefined) {
    x.steps.forEach((w, i) => {
      if (w === null) return;
      const g = r.steps.find((st) => st.index === i)?.result;
      if (g === undefined || g === null) {
        bad.push(`steps[${i}]: expected a result, but the step ${g === null ? 'has none' : 'did not complete'}`);
        return;
      }
      if (w.value !== undefined && (g.value === undefined || BigInt(g.value) !== w.value)) bad.push(`steps[${i}].value: expected ${hex(w.value)}, got ${g.value}`);
      if (w.eax !== undefined && w.eax !== g.eax) bad.push(`steps[${i}].eax: expected ${w.eax}, got ${g.eax}`);
      if (w.cf !== undefined && w.cf !== g.cf) bad.push(`steps[${i}].cf: expected ${w.cf}, got ${g.cf}`);
    });
    if (x.steps.length < r.steps.length && x.steps.length === 0 && r.steps.length > 0) bad.push(`steps: expected none to complete, ${r.steps.length} did`);
  }
  if (x.rmp !== undefined) {
    for (const w of x.rmp) {
      const pfn = w.pa / SIZE_4K;
      const at = `rmp 0x${w.pa.toString(16)}`;
      if (!m.rmp.isCovered(pfn)) {
        bad.push(`${at}: no RMP entry covers it`);
        continue;
      }
      const e = m.rmp.entry(pfn);
      if (w.state !== undefined && stateNameOf(e) !== w.state) bad.push(`${at}.state: expected ${w.state}, got ${stateNameOf(e)}`);
      if (w.validated !== undefined && e.validated !== w.validated) bad.push(`${at}.validated: expected ${w.validated}, got ${e.validated}`);
      if (w.size !== undefined && (e.pageSize === 1 ? '2M' : '4K') !== w.size) bad.push(`${at}.size: expected ${w.size}, got ${e.pageSize === 1 ? '2M' : '4K'}`);
      if (w.vmsa !== undefined && e.vmsa !== w.vmsa) bad.push(`${at}.vmsa: expected ${w.vmsa}, got ${e.vmsa}`);
      if (w.vmpl !== undefined && w.vmpl.some((v, k) => v !== e.vmpl[k])) bad.push(`${at}.vmpl: expected [${w.vmpl.join(',')}], got [${e.vmpl.join(',')}]`);
    }
  }
  if (x.memory !== undefined) {
    const bytes = (b: ArrayLike<number>) => Array.from(b, (v) => v.toString(16).padStart(2, '0')).join(' ');
    for (const w of x.memory) {
      const got = m.phys.readBytes(w.pa, w.hex.length);
      if (got.some((b, k) => b !== w.hex[k])) bad.push(`memory 0x${w.pa.toString(16)}: expected ${bytes(w.hex)}, got ${bytes(got)}`);
    }
  }
  if (x.regs !== undefined || x.rip !== undefined) {
    if (r.regs === undefined) bad.push('regs: the scenario ran no guest code');
    else {
      for (const [i, want] of x.regs ?? []) {
        const got = BigInt(r.regs[REG_NAMES[i]!]!);
        if (got !== BigInt.asUintN(64, want)) bad.push(`regs.${REG_NAMES[i]}: expected ${hex(want)}, got ${hex(got)}`);
      }
      if (x.rip !== undefined && BigInt(r.regs.rip!) !== x.rip) bad.push(`regs.rip: expected ${hex(x.rip)}, got ${r.regs.rip}`);
    }
  }
  return { passed: bad.length === 0, mismatches: bad };
}

export { parseGuestScenario } from './scenario.ts';

/**
 * The library's way in (docs/guest.md "Library"): a guest scenario from a parsed JSON object, JSON
 * text (a string starting with "{"), or a file path, validated exactly as `snpemu scenario` does.
 * `runGuestScenario(loadGuestScenario(path))` is the result the CLI prints with --json for that
 * path. Throws InputError (the file, the JSON path, the problem); a document without a `guest`
 * section is a host scenario, for `Machine.fromScenario`.
 */
export function loadGuestScenario(input: unknown, file?: string): GuestScenario {
  let json: unknown = input;
  let name = file ?? '<inline>';
  if (typeof input === 'string') {
    if (input.trimStart().startsWith('{')) json = parseJsonText(input, name);
    else {
      name = input;
      json = readJsonFile(input);
    }
  }
  if (!isGuestScenarioJson(json)) {
    throw new InputError(name, '', 'not a guest scenario (no "guest" section); host scenarios are run with Machine.fromScenario(...).runScenario()');
  }
  return parseGuestScenario(json, name);
}
