// Public surface of guest mode (docs/guest.md): SNP guests with nested paging, the guest RMP checks,
// PVALIDATE/RMPADJUST, VMRUN's checks, guest scenarios. The KVM-shaped hypervisor is in src/hv.

export { C_BIT, C_BIT_MASK, NpfBits, SvmExit, VcCode, RmpadjustAttr, SIZE_4K, SIZE_2M, SIZE_1G } from './constants.ts';
export { newVmsa, GUEST_DEFAULTS, Cr0, Cr4, Efer } from './context.ts';
export type { GuestState, Vmsa } from './context.ts';
export type { GuestRmpPort } from './rmp-port.ts';
export { GuestCheck, GUEST_CHECK_NAMES, checkOwnership, checkPrivateAccess, checkHypervisorOwned } from './rmp-checks.ts';
export { NestedWalk, GuestAccess } from './walk.ts';
export { GuestTlb } from './guest-tlb.ts';
export { GuestMemory } from './guest-memory.ts';
export { pvalidate, rmpadjust, guestSnpPort, snpInstructionFlags, SNP_INSTRUCTION_FLAGS_MASK } from './instructions.ts';
export type { SnpInstructionResult } from './instructions.ts';
export { vmrun, vmexit } from './vmrun.ts';
export type { VmrunTarget, VmrunResult } from './vmrun.ts';
export { VmExitFault, describeExitInfo1 } from './exits.ts';
export { GuestPageTables } from './guest-tables.ts';
export { GuestMachine } from './guest-machine.ts';
export type { GuestMachineConfig, GuestRegionConfig } from './guest-machine.ts';
export { parseGuestScenario, GUEST_OUTCOMES, HV_ACTIONS } from './scenario.ts';
export type { GuestScenario, GuestStep, GuestAction, GuestEvent, GuestExpect, GuestOutcomeKind } from './scenario.ts';
export { runGuestScenario, loadGuestScenario } from './scenario-run.ts';
export type { GuestScenarioResult, GuestRunOptions, GuestExitRecord, GuestFaultRecord } from './scenario-run.ts';
export type { GuestRunObserver, GuestExitTrace, GuestExceptionTrace, GuestDecisionTrace, GuestStepTrace, GuestWhere } from './run-trace.ts';
export type {
  GuestWalkObserver, GuestWalkTrace, NestedWalkTrace, GuestLevelTrace, GuestTlbTrace, GuestAdWriteTrace, GuestRmpCheckTrace,
} from './walk-trace.ts';
export { peekGuestBytes, peekTranslate } from './peek.ts';
export { formatGuestReport, isGuestScenarioJson } from './report.ts';
