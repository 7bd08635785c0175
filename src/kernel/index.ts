// Public surface of the kernel module (docs/kernel.md, "API").

export { Kernel, KernelSetupError, GPR_NAMES, LIVELOCK_REPEATS, STACK_TOP } from './kernel.ts';
export { ElfError, parseElf } from './elf.ts';
export type { ElfImage, ElfSegment } from './elf.ts';
export type { Policy, Decision } from './fault-handler.ts';
export type { KernelAction } from './mm.ts';
export type { KernelMachine, KernelCpu, KernelMmu, CpuStop } from './machine-port.ts';
export type {
  DecisionRecord, FaultRecord, KernelOptions, KernelTrace, Outcome, OutcomeKind, ProcessInfo, ProcessRequest,
  RegionRequest, RegionSymbol, RunHooks, RunOptions, RunResult, RunStats, SyscallNote,
} from './types.ts';
export { SIGNAL_NAMES, SiCode, Signal } from './constants.ts';
