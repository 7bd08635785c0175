// Public surface of the kernel module (docs/kernel.md, "API").

export { Kernel, KernelSetupError, LIVELOCK_REPEATS, STACK_TOP } from './kernel.ts';
export { ElfError, parseElf } from './elf.ts';
export type { ElfImage, ElfSegment } from './elf.ts';
export type { KernelAction } from './mm.ts';
export type { KernelMachine, KernelCpu, KernelMmu } from './machine-port.ts';
export type {
  DecisionFields, DecisionRecord, FaultFields, FaultRecord, KernelOptions, KernelTrace, MachineCounters, Outcome,
  OutcomeKind, Policy, ProcessInfo, ProcessRequest, RegionRequest, RegionSymbol, RunHooks, RunOptions, RunResult,
  RunStats, SyscallNote,
} from './types.ts';
export { GPR_NAMES, SIGNAL_NAMES, SiCode, Signal, type GprName } from './constants.ts';
