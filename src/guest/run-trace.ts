// The observer of a guest scenario run (`runGuestScenario(s, { observer })`): what `--trace`
// shows for a guest (docs/cli.md "Tracing", docs/guest.md "Tracing"). Every member is optional;
// with no observer the runner installs nothing (the walk's observer slot stays null) and the CPU's
// run loop is not wrapped.

import type { Cpu } from '../cpu/cpu.ts';
import { hex } from '../scenario/numbers.ts';
import type { GuestMachine } from './guest-machine.ts';
import type { GuestAction, GuestStep } from './scenario.ts';
import type { GuestWalkObserver } from './walk-trace.ts';

/** Where the guest was when something happened: its RIP (code mode) or the step index (step mode). */
export interface GuestWhere {
  rip: bigint | null;
  step: number | null;
  cpl: number;
}

/** A #VMEXIT (AMD APM Vol.2 §15.6 "#VMEXIT"): exit code, EXITINFO1/2, and the decoded bits. */
export interface GuestExitTrace extends GuestWhere {
  exitCode: number;
  exitInfo1: bigint;
  exitInfo2: bigint;
  /** EXITINFO1's set bits by name ("RMP|FINAL|ENC|P|W|U"). */
  bits: string;
  why: string;
}

/** A guest exception (#PF, #VC, #GP, #UD): vector, error code, CR2 for #PF/#VC. */
export interface GuestExceptionTrace extends GuestWhere {
  vector: number;
  name: string;
  errorCode: number;
  address: bigint;
  why: string;
}

/** A decision of the hypervisor model, the VMM or the guest's #VC handler (the `hv` result list). */
export interface GuestDecisionTrace {
  action: string;
  /** The GPA it concerns, or null. */
  gpa: number | null;
  why: string;
}

/** One completed step (step mode). */
export interface GuestStepTrace {
  index: number;
  step: GuestStep;
  text: string;
  result: { value?: string; eax?: number; cf?: boolean } | null;
}

export interface GuestRunObserver {
  /** Installed on the guest's memory for the run: walks, nested sub-walks, TLB, A/D, RMP checks. */
  readonly memory?: GuestWalkObserver;
  /** The guest CPU exists (code mode): attach to it; the function returned detaches. */
  cpu?(cpu: Cpu, m: GuestMachine): () => void;
  step?(t: GuestStepTrace): void;
  exit?(t: GuestExitTrace): void;
  exception?(t: GuestExceptionTrace): void;
  decision?(t: GuestDecisionTrace): void;
  /** A scenario event about to fire, in words. */
  event?(text: string, action: GuestAction): void;
}

/** A step in words, for the trace. */
export function describeStep(s: GuestStep): string {
  switch (s.kind) {
    case 'read': return `read ${s.size} byte(s) at ${hex(s.va)}`;
    case 'write': return `write ${s.size} byte(s) ${hex(s.value)} at ${hex(s.va)}`;
    case 'fetch': return `fetch at ${hex(s.va)}`;
    case 'pvalidate': return `PVALIDATE ${hex(s.va)} ${s.size === 1 ? '2M' : '4K'} ${s.validate ? 'validate' : 'rescind'}`;
    case 'rmpadjust': return `RMPADJUST ${hex(s.va)} ${s.size === 1 ? '2M' : '4K'} VMPL${s.vmpl} perms ${hex(s.perms)}${s.vmsa ? ' VMSA' : ''}`;
    case 'vmpl': return `switch to VMPL${s.vmpl}`;
    default: return `switch to CPL ${s.cpl}`;
  }
}

/** A scenario event's action in words, for the trace. */
export function describeAction(a: GuestAction): string {
  switch (a.kind) {
    case 'convert': return `the VMM converts GPA ${hex(a.gpa)} (+${hex(a.size)}) to ${a.toPrivate ? 'private' : 'shared'}`;
    case 'psmash': return `PSMASH ${hex(a.pa)}`;
    case 'rmpupdate': return `RMPUPDATE ${hex(a.pa)} to ${a.state}`;
    case 'remap': return `the hypervisor remaps GPA ${hex(a.gpa)} to SPA ${hex(a.to)} (+${hex(a.size)})`;
    case 'zap': return `the hypervisor zaps GPA ${hex(a.gpa)} (+${hex(a.size)})`;
    default: return `pfn ${hex(Math.floor(a.pa / 4096))} busy for ${a.accesses} access(es), ${a.instructions} instruction(s)`;
  }
}
