// The public hook vocabulary (docs/api.md, "Hooks"): one kind per thing a researcher wants to watch
// or steer, each with its event type, its options and what its callback may answer.
//
// Every callback gets (event, machine). 64-bit values are bigint. Answers:
// - nothing: carry on;
// - 'stop': end the run. Hooks that fire between instructions (instruction, block, fetch, exception,
//   and syscall on a bare machine) stop it right there: RIP names the instruction that has not run
//   (for an exception: the faulting one; for a bare syscall: the one after SYSCALL, which has
//   executed). Hooks that fire
//   inside an instruction or inside the kernel (read, write, walk, rmp-check, kernel-decision, and
//   syscall under a kernel) stop it at the next instruction boundary: the instruction completes (or
//   its exception is delivered) and the run ends before the next one;
// - 'retry' (exception hooks only): the hook has dealt with the cause (mapped memory, changed the
//   RMP, moved RIP) and the CPU resumes at the current RIP instead of delivering the exception.

import type { WalkTrace, RmpCheckTrace } from '../mmu/walk-trace.ts';
import type { CpuFault } from '../cpu/fault.ts';
import type { DecisionFields, FaultFields } from '../kernel/types.ts';
import type { Machine } from './machine.ts';

export type HookReply = 'stop' | undefined | void;
export type ExceptionReply = 'stop' | 'retry' | undefined | void;

/** Before an instruction runs (its RIP lies in the hook's range). State is the pre-instruction state. */
export interface InstructionEvent {
  rip: bigint;
}

/** When execution enters a basic block (a branch target, a fall-through after a block end, the run's start). */
export interface BlockEvent {
  rip: bigint;
}

export type MemoryAccessName = 'read' | 'write' | 'fetch';

/**
 * A data access or an instruction fetch by the CPU. Reads fire after the value is read, writes
 * before it is written, fetches before the instruction runs (one event per instruction, `size` = its length).
 */
export interface MemoryEvent {
  access: MemoryAccessName;
  /** Linear address, canonical 64-bit. */
  address: bigint;
  /** System physical address of the first byte. */
  physical: number;
  /** Bytes accessed (1, 2, 4, 8; for fetch, the instruction length). */
  size: number;
  /** The value read or about to be written (0n for fetch). */
  value: bigint;
  /** RIP of the instruction making the access. */
  rip: bigint;
}

/** A page walk the MMU made for a real access (not for a TLB hit): every level, A/D writes, RMP checks, the fault. */
export interface WalkEvent extends WalkTrace {
  /** RIP of the instruction the walk is for (for a code fetch: the first instruction of the block fetched). */
  rip: bigint;
}

/** Which access an RMP check was for: the final data check, a walk's entry read, or its A/D write (spec/rmp.md §3.2, §9 item 3). */
export type RmpTableAccessName = 'none' | 'entry-read' | 'ad-write';

/**
 * One RMP check the MMU made (spec/rmp.md §3): the final data check and the walk's table checks.
 * `access` and `table` are names here (the MMU's trace keeps them as numbers).
 */
export interface RmpCheckEvent extends Omit<RmpCheckTrace, 'access' | 'table'> {
  /** The access the check is for (for a table access: 'read' for an entry read, 'write' for an A/D write). */
  access: MemoryAccessName;
  /** 'none' for the final check of the data or fetch; else the walk's page-table access. */
  table: RmpTableAccessName;
  /** True when the check failed (then `failure` says which check, on which pfn, with which entry). */
  failed: boolean;
  /** RIP of the instruction the access is for. */
  rip: bigint;
}

/** An exception the CPU raised, before anyone (kernel or run loop) handles it. CR2 is already set for #PF. */
export interface ExceptionEvent extends FaultFields {
  /** 'PF', 'GP', 'UD'... */
  name: string;
  /** The exception itself; `rip` is the faulting instruction's, none of whose effects are applied. */
  fault: CpuFault;
}

/** A decision of the emulated kernel's fault handler (spec/scenario.md `expect.kernel`). */
export interface KernelDecisionEvent extends DecisionFields {
  /** The fault the decision answers. */
  fault: FaultFields;
}

/**
 * A SYSCALL, always after the instruction has executed (AMD APM Vol.3 "SYSCALL"): `machine.regs.rip`
 * is `nextRip`, RCX holds the return RIP and R11 the RFLAGS. Under a kernel it fires after the
 * kernel handled the call (`handled` true, `result` set; a hook may still change RAX); exit and
 * exit_group fire once the process has ended (no `result`; run() only: runScenario() does not report
 * them). On a bare machine it fires instead of a kernel (`handled` false): the hook emulates the
 * call by setting registers. A bare SYSCALL with no syscall hook ends the run.
 */
export interface SyscallEvent {
  nr: number;
  /** Linux name ('write', 'exit'...) when the emulated kernel knows the number, else "syscall <nr>"; bare machines too. */
  name: string;
  /** rdi, rsi, rdx, r10, r8, r9. */
  args: bigint[];
  handled: boolean;
  result?: bigint;
  /** The SYSCALL instruction's own address (its 2-byte encoding 0F 05 ends at nextRip). */
  rip: bigint;
  /** Where execution continues: the instruction after SYSCALL (= RCX). */
  nextRip: bigint;
}

/** Inclusive range [begin, end] over the hook's address space; both default to the whole space. */
export interface RangeOptions {
  begin?: bigint | number;
  end?: bigint | number;
}

export interface MemoryHookOptions extends RangeOptions {
  /** Which address the range is about: the linear address (default) or the physical one. */
  space?: 'linear' | 'physical';
}

export interface RmpCheckHookOptions extends RangeOptions {
  /** Only checks that fail (default false). The range is over the checked system physical address. */
  failedOnly?: boolean;
}

/** Event, options and answer of each hook kind. */
export interface HookKinds {
  instruction: { event: InstructionEvent; options: RangeOptions; reply: HookReply };
  block: { event: BlockEvent; options: Record<string, never>; reply: HookReply };
  read: { event: MemoryEvent; options: MemoryHookOptions; reply: HookReply };
  write: { event: MemoryEvent; options: MemoryHookOptions; reply: HookReply };
  fetch: { event: MemoryEvent; options: MemoryHookOptions; reply: HookReply };
  walk: { event: WalkEvent; options: RangeOptions; reply: HookReply };
  'rmp-check': { event: RmpCheckEvent; options: RmpCheckHookOptions; reply: HookReply };
  exception: { event: ExceptionEvent; options: Record<string, never>; reply: ExceptionReply };
  'kernel-decision': { event: KernelDecisionEvent; options: Record<string, never>; reply: HookReply };
  syscall: { event: SyscallEvent; options: Record<string, never>; reply: HookReply };
}

export type HookKind = keyof HookKinds;
export const HOOK_KINDS: readonly HookKind[] = [
  'instruction', 'block', 'read', 'write', 'fetch', 'walk', 'rmp-check', 'exception', 'kernel-decision', 'syscall',
];

export type HookCallback<K extends HookKind> = (event: HookKinds[K]['event'], machine: Machine) => HookKinds[K]['reply'];

/** What `machine.hooks.add` returns: switch it on and off at run time, or remove it. */
export interface HookHandle {
  readonly id: number;
  readonly kind: HookKind;
  /** On by default; a disabled hook costs nothing. */
  enabled: boolean;
  /** Times the callback ran. */
  readonly calls: number;
  remove(): void;
}
