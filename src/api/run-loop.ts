// The facade's run loops: a bare machine (the CPU alone; SYSCALL goes to syscall hooks) and a
// process (the emulated kernel's run loop, src/kernel/kernel.ts). Both end every run with a typed
// Outcome (results.ts), bound every run by its budgets, and catch a hook's RunStop.

import type { Machine as CoreMachine } from '../machine.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { DecisionRecord, FaultRecord as KernelFaultRecord } from '../kernel/types.ts';
import { CpuFault, VECTOR_NAMES } from '../cpu/fault.ts';
import { machineStats } from '../scenario/machine-setup.ts';
import { hex } from '../scenario/numbers.ts';
import { HookPlumbing, RunStop } from './hook-plumbing.ts';
import type { FaultInfo, Outcome, RunResult, RunStats } from './results.ts';

export interface RunContext {
  core: CoreMachine;
  plumbing: HookPlumbing;
  maxInstructions: number;
  maxFaults: number;
  until: bigint | null;
}

export function faultInfo(f: CpuFault, rip: bigint): FaultInfo {
  return {
    vector: f.vector, name: VECTOR_NAMES[f.vector] ?? `vector ${f.vector}`, errorCode: f.errorCode >>> 0,
    address: f.vector === 14 ? BigInt.asUintN(64, f.address) : 0n, rip, rmp: f.rmp, why: f.why,
  };
}

function kernelFaultInfo(f: KernelFaultRecord): FaultInfo {
  return {
    vector: f.vector, name: VECTOR_NAMES[f.vector] ?? `vector ${f.vector}`, errorCode: f.errorCode,
    address: BigInt.asUintN(64, f.address), rip: f.rip, rmp: f.rmp, why: f.why, kernelMode: f.kernelMode,
  };
}

/** The machine's counters now minus those at the start of a run (machineStats): this run's share. */
function runStats(core: CoreMachine, start: RunStats): RunStats {
  const now = machineStats(core);
  return {
    instructions: now.instructions - start.instructions,
    walks: now.walks - start.walks,
    tlbHits: now.tlbHits - start.tlbHits,
    tlbMisses: now.tlbMisses - start.tlbMisses,
    rmpChecks: now.rmpChecks - start.rmpChecks,
  };
}

function stoppedOutcome(stop: RunStop, rip: bigint): Outcome {
  if (stop.by === 'exception' && stop.fault !== undefined) {
    const fault = faultInfo(stop.fault, rip);
    return { kind: 'stopped', by: 'exception', fault, message: `an exception hook stopped the run at #${fault.name} (RIP ${hex(rip)})` };
  }
  return { kind: 'stopped', by: stop.by, message: `a ${stop.by} hook stopped the run at RIP ${hex(rip)}` };
}

/**
 * Counts exceptions (retried ones too) against maxFaults, so an exception hook that always answers
 * 'retry' without fixing anything cannot hang the run. Installed only when exception hooks exist
 * (without them an exception ends a bare run, and the kernel counts its own).
 */
class FaultBudget {
  count = 0;
  constructor(readonly max: number) {}
}

export function runBare(ctx: RunContext): RunResult {
  const { core, plumbing } = ctx;
  const cpu = core.cpu;
  const start = machineStats(core);
  const faults: FaultInfo[] = [];
  const budget = new FaultBudget(ctx.maxFaults);
  plumbing.faultBudget = budget;
  cpu.stopAt = ctx.until;
  let outcome: Outcome;
  try {
    for (;;) {
      const remaining = ctx.maxInstructions - (cpu.instructions - start.instructions);
      if (remaining <= 0) {
        outcome = { kind: 'limit', budget: 'instructions', message: `the instruction budget (maxInstructions = ${ctx.maxInstructions}) ran out` };
        break;
      }
      const stop = cpu.run(remaining);
      if (stop.kind === 'limit') continue;
      if (stop.kind === 'halt') {
        outcome = { kind: 'halt', message: `HLT; RIP ${hex(cpu.rip)} is after it` };
        break;
      }
      if (stop.kind === 'stop-address') {
        outcome = { kind: 'until', message: `RIP reached ${hex(cpu.rip)}` };
        break;
      }
      if (stop.kind === 'hook') {
        const by = plumbing.pendingStop ?? 'instruction';
        outcome = { kind: 'stopped', by, message: `a ${by} hook stopped the run at RIP ${hex(cpu.rip)}` };
        break;
      }
      if (stop.kind === 'syscall') {
        if (plumbing.bareSyscall()) continue;
        outcome = { kind: 'syscall', message: `SYSCALL (RAX = ${cpu.getReg(0)}) with no kernel and no syscall hook; RIP ${hex(cpu.rip)} is after it` };
        break;
      }
      const fault = faultInfo(stop.fault, cpu.rip);
      faults.push(fault);
      outcome = { kind: 'exception', fault, message: `#${fault.name} at RIP ${hex(fault.rip)}${fault.why === '' ? '' : `: ${fault.why}`}` };
      break;
    }
  } catch (e) {
    if (!(e instanceof RunStop)) throw e;
    outcome = e.budget ? faultBudgetOutcome(ctx.maxFaults) : stoppedOutcome(e, cpu.rip);
    if (e.fault !== undefined && !e.budget) faults.push(faultInfo(e.fault, cpu.rip));
  } finally {
    cpu.stopAt = null;
    plumbing.faultBudget = null;
    plumbing.endRun();
  }
  return { outcome, rip: cpu.rip, faults, kernel: [], stdout: '', stderr: '', stats: runStats(core, start) };
}

function faultBudgetOutcome(max: number): Outcome {
  return { kind: 'limit', budget: 'faults', message: `the fault budget (maxFaults = ${max}) ran out: exception hooks kept retrying` };
}

export function runProcess(ctx: RunContext, kernel: Kernel, decisions: () => DecisionRecord[]): RunResult {
  const { core, plumbing } = ctx;
  const cpu = core.cpu;
  const start = machineStats(core);
  const faults: FaultInfo[] = [];
  plumbing.faultBudget = new FaultBudget(ctx.maxFaults);
  // `until` is the CPU's stop address; the kernel ends its run when the CPU stops there.
  cpu.stopAt = ctx.until;
  let outcome: Outcome;
  try {
    const r = kernel.run({
      maxInstructions: ctx.maxInstructions,
      maxFaults: ctx.maxFaults,
      hooks: { onFault: (_n, f) => void faults.push(kernelFaultInfo(f)) },
    });
    const o = r.outcome;
    // A hook inside an instruction asked to stop: the CPU returned 'hook' and the kernel ended its run.
    const by = plumbing.pendingStop;
    if (by !== null) outcome = { kind: 'stopped', by, message: `a ${by} hook stopped the run at RIP ${hex(cpu.rip)}` };
    else if (o.kind === 'limit' && ctx.until !== null && cpu.rip === ctx.until) outcome = { kind: 'until', message: `RIP reached ${hex(cpu.rip)}` };
    else switch (o.kind) {
      case 'exit':
        outcome = { kind: 'exit', exitCode: o.exitCode ?? 0, message: o.message };
        plumbing.exitSyscall();
        break;
      case 'signal':
        outcome = { kind: 'signal', signal: o.signal ?? `signal ${o.signo}`, siCode: o.siCode, siAddr: o.siAddr, message: o.message };
        break;
      case 'limit':
        outcome = { kind: 'limit', budget: /fault budget/.test(o.message) ? 'faults' : 'instructions', message: o.message };
        break;
      default:
        outcome = { kind: o.kind, message: o.message };
    }
  } catch (e) {
    if (!(e instanceof RunStop)) throw e;
    if (e.budget) outcome = faultBudgetOutcome(ctx.maxFaults);
    else outcome = stoppedOutcome(e, cpu.rip);
  } finally {
    cpu.stopAt = null;
    plumbing.faultBudget = null;
    plumbing.endRun();
  }
  const dec = new TextDecoder();
  return {
    outcome,
    rip: cpu.rip,
    faults,
    kernel: decisions().map((d) => ({ action: d.action, address: BigInt.asUintN(64, d.address), why: d.why })),
    stdout: dec.decode(kernel.output(1)),
    stderr: dec.decode(kernel.output(2)),
    stats: runStats(core, start),
  };
}

