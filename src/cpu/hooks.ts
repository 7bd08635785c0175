// Hook types for Cpu.addHook (issue 9). Hooks see the precise pre-instruction state and fire on
// cached (pre-decoded) code too: when any hook is registered, Cpu.run takes a separate checked
// loop, so the fast loop pays nothing when none is (design.md, pattern 9). In that loop only the
// blocks an instruction hook's range meets are checked instruction by instruction (cpu.ts
// runHooked). A hook added from inside a hook first fires at the next dispatch of its kind; a hook
// removed from inside a hook does not fire again, not even later in the same dispatch
// (hook-lists.ts).
//
// 64-bit values cross this boundary as bigint, as every public boundary does (docs/architecture.md).

import type { CpuFault } from './fault.ts';
import type { Cpu } from './cpu.ts';

/** What a hook asks the run loop to do next. Returning nothing means 'continue'. */
export type HookAction = 'continue' | 'stop';

/**
 * What an exception hook asks: 'stop' (default) ends the run with the fault; 'retry' resumes
 * execution at the current RIP (the hook has fixed the cause, e.g. mapped memory, or moved RIP).
 */
export type ExceptionAction = 'stop' | 'retry';

/**
 * Fires before each instruction whose RIP lies in [begin, end] (inclusive, canonical 64-bit values).
 * A callback that writes `cpu.rip` skips the instruction; if it then answers 'stop' or throws
 * (anything thrown propagates out of run() untouched), the run ends with RIP at the written value.
 */
export interface InstructionHook {
  kind: 'instruction';
  begin: bigint;
  end: bigint;
  callback: (cpu: Cpu, rip: bigint) => HookAction | void;
}

/**
 * Fires each time the run loop dispatches a block: at a branch target, after an instruction that
 * ends a block (mode change, SYSCALL...), and where a straight-line run crosses a page or 64
 * instructions. RIP is the block's first instruction.
 */
export interface BlockHook {
  kind: 'block';
  callback: (cpu: Cpu, rip: bigint) => HookAction | void;
}

/** Fires when an instruction raises an exception, with the state of the faulting instruction. */
export interface ExceptionHook {
  kind: 'exception';
  callback: (cpu: Cpu, fault: CpuFault) => ExceptionAction | void;
}

export type Hook = InstructionHook | BlockHook | ExceptionHook;
