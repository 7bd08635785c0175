// snpemu as a library (docs/api.md). The facade `Machine` covers what a script needs; the module
// classes underneath are exported for anything it does not.

export { Machine, MachineError, Snapshot } from './api/machine.ts';
export type { MachineConfig, ProcessSpec, RegionSpec, ProcessSymbols } from './api/machine.ts';
export type { RunLimits, RunResult, Outcome, OutcomeKind, FaultInfo, KernelDecision, RunStats } from './api/results.ts';
export { HOOK_KINDS } from './api/hooks.ts';
export type {
  HookKind, HookKinds, HookCallback, HookHandle, HookReply, ExceptionReply, InstructionEvent, BlockEvent,
  MemoryEvent, MemoryAccessName, WalkEvent, RmpCheckEvent, ExceptionEvent, KernelDecisionEvent, SyscallEvent,
  RangeOptions, MemoryHookOptions, RmpCheckHookOptions, RmpTableAccessName,
} from './api/hooks.ts';
export { MAX_INSTRUCTIONS, MAX_FAULTS } from './api/validate.ts';
export type { HookRegistry } from './api/hook-registry.ts';
export { REGISTER_NAMES, GPR_NAMES, RegisterNameError, RegisterValueError } from './api/registers.ts';
export type { RegisterName, GprName, Registers } from './api/registers.ts';
export { MapError, PTE_FLAG_NAMES } from './api/paging.ts';
export type { MapRequest, PageSize, PteFlagName } from './api/paging.ts';
export { SnapshotMismatchError } from './api/snapshot.ts';
export type { ScenarioResult } from './api/scenario-machine.ts';

// The modules underneath (docs/architecture.md).
export { Machine as CoreMachine } from './machine.ts';
export type { MachineOptions as CoreMachineOptions, MachineFeatures, MachineQuirks } from './machine.ts';
export { PhysicalMemory } from './mem/physical.ts';
export { CpuFault, Vector, PfErr, VECTOR_NAMES } from './cpu/fault.ts';
export { Access } from './mmu/linear-memory.ts';
export type { WalkTrace, RmpCheckTrace, LevelTrace, WalkFault } from './mmu/walk-trace.ts';
export { RmpTable, PAGE_STATES, RmpStateError, stateNameOf } from './rmp/index.ts';
export type { RmpEntry, PageStateName, PageStateSpec } from './rmp/index.ts';
export { Kernel, KernelSetupError } from './kernel/kernel.ts';
export { loadScenario } from './scenario/load.ts';
export { runScenario } from './scenario/run.ts';
export { InputError } from './scenario/errors.ts';

// Guest mode (docs/guest.md "Library"): SNP guests under the KVM-shaped hypervisor model. Guest
// scenarios run on their own machine, not through the facade: Machine.fromScenario refuses them.
export {
  loadGuestScenario, parseGuestScenario, runGuestScenario, formatGuestReport, isGuestScenarioJson, GUEST_OUTCOMES,
  HV_ACTIONS, GuestMachine,
} from './guest/index.ts';
export type {
  GuestScenario, GuestScenarioResult, GuestExitRecord, GuestFaultRecord, GuestRunOptions, GuestOutcomeKind, GuestStep,
  GuestAction, GuestEvent, GuestExpect, GuestMachineConfig, GuestRegionConfig, GuestRunObserver, GuestExitTrace,
  GuestExceptionTrace, GuestDecisionTrace, GuestStepTrace, GuestWhere, GuestWalkObserver, GuestWalkTrace, NestedWalkTrace,
  GuestRmpCheckTrace,
} from './guest/index.ts';
