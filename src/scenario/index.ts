// Public surface of the scenario module (docs/architecture.md, `src/scenario`): what the CLI and
// the library API (`Machine.fromScenario`) use.

export { loadScenario, loadScenarioFile, scenarioFromJson, scenarioFromText } from './load.ts';
export { runScenario, prepareScenario, type PreparedScenario, type RunOptions, type ScenarioRun } from './run.ts';
export { checkExpectations, type ExpectContext } from './expect.ts';
export { toResult, formatReport, errorCodeBits, type ScenarioResult } from './result.ts';
export { InputError } from './errors.ts';
export type { RunObserver } from './machine-setup.ts';
export type { RunRecord, FaultRecord, KernelRecord, OutcomeRecord, RunStats } from './record.ts';
export type { Scenario, KernelPolicy, MachineSpec, ProcessSpec, RegionSpec, CpuSpec, PagingSpec, ExpectSpec } from './types.ts';
export { parseInteger, parseAddressValue, type AddressValue, type SymbolicAddress } from './numbers.ts';
export { haveGnuAssembler, haveNasm, assembleFlat, assembleProgram, AssemblerError } from './assemble.ts';
