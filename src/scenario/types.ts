// The loaded, validated form of a format-1 scenario (spec/scenario.md). Every default of the spec
// is already applied; symbolic addresses stay symbolic until the machine is built, because a
// region's physical address is known only then.

import { GPR_NAMES, type GprName } from '../kernel/constants.ts';
import { KERNEL_ACTIONS, type KernelAction } from '../kernel/mm.ts';
import type { MachineFeatures, MachineQuirks } from '../machine.ts';
import type { AddressValue } from './numbers.ts';

export type KernelPolicy = 'v7' | 'mainline' | 'none';

export { GPR_NAMES, type GprName };

/** Registers a scenario may set or expect beyond the GPRs. */
export const SPECIAL_REG_NAMES = ['rip', 'rflags', 'cr0', 'cr2', 'cr3', 'cr4', 'efer', 'fsbase', 'gsbase'] as const;
export type SpecialRegName = (typeof SPECIAL_REG_NAMES)[number];
export type RegName = GprName | SpecialRegName;
/** Every register a scenario may name, GPRs first. */
export const REG_NAMES: readonly RegName[] = [...GPR_NAMES, ...SPECIAL_REG_NAMES];

/** `machine.features` and `machine.quirks` are the machine's own options (src/machine.ts). */
export type Features = MachineFeatures;
export type Quirks = MachineQuirks;

export interface MachineSpec {
  memoryBytes: number;
  snp: boolean;
  /** RMP_BASE / RMP_END (inclusive); undefined: placed by the machine, covering all RAM. */
  rmp?: { base: number; end: number };
  rmpWalkReads: boolean;
  features: Features;
  quirks: Quirks;
}

export type RegionKind = 'anon' | 'thp' | 'hugetlb' | 'shared-file' | 'private-file';

export interface RegionSpec {
  name: string;
  /** Virtual address of the first byte. */
  at: number;
  size: number;
  prot: { read: boolean; write: boolean; exec: boolean };
  /** Host mapping size in bytes: 4096, 2 MiB or 1 GiB. */
  pageBytes: number;
  kind: RegionKind;
  /** Pinned physical address of the backing frames. */
  pa?: number;
  /** Initial bytes (from `hex`, or `asm` assembled at load time); the rest of the region is zero. */
  bytes?: Uint8Array;
}

export interface ProcessSpec {
  regions: RegionSpec[];
  entry: AddressValue;
  regs: Partial<Record<RegName, AddressValue>>;
  stdin: string;
}

export interface CpuSpec {
  cpl: number;
  rip: bigint;
  gprs: bigint[]; // 16, in encoding order (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15)
  rflags: bigint;
  cr0: bigint;
  /** Undefined: set by the paging builder. */
  cr3?: bigint;
  cr4: bigint;
  efer: bigint;
  fsBase: bigint;
  gsBase: bigint;
}

export const PTE_FLAG_NAMES = ['P', 'RW', 'US', 'PWT', 'PCD', 'A', 'D', 'G', 'NX'] as const;
export type PteFlagName = (typeof PTE_FLAG_NAMES)[number];

export interface PagingMap {
  va: number;
  pa: number;
  /** 4096, 2 MiB or 1 GiB. */
  sizeBytes: number;
  flags: PteFlagName[];
  /** Flags of the upper-level entries the map uses; absent levels default to P|RW|US. */
  levels: { pml4e?: PteFlagName[]; pdpte?: PteFlagName[]; pde?: PteFlagName[] };
}

export interface PagingSpec {
  maps: PagingMap[];
  entries: { pa: number; value: bigint }[];
}

export interface PhysicalBytes {
  pa: AddressValue;
  bytes: Uint8Array;
}

export const RMP_STATES = [
  'hypervisor', 'hv-fixed', 'firmware', 'reclaim', 'pre-guest', 'guest-invalid', 'guest-valid',
] as const;
export type RmpStateName = (typeof RMP_STATES)[number];

export type TableLevel = 'pml4' | 'pdpt' | 'pd' | 'pt';

/** How an `rmp` entry (or an rmpupdate event) names its page. */
export type PageRef =
  | { kind: 'page'; va: AddressValue }
  | { kind: 'pa'; pa: AddressValue }
  | { kind: 'tableOf'; va: AddressValue; level: TableLevel };

export interface RmpStateSpec {
  state: RmpStateName;
  asid: number;
  gpa: bigint;
  /** 4096 or 2 MiB. */
  sizeBytes: number;
  vmsa: boolean;
}

export interface RmpEntrySpec extends RmpStateSpec {
  ref: PageRef;
  /** JSON path, for error messages at build time. */
  path: string;
}

export type EventWhen =
  | { kind: 'fault'; n: number }
  | { kind: 'instructions'; n: number }
  | { kind: 'before-handler' };

export type EventAction =
  | { kind: 'rmpupdate'; ref: PageRef; state: RmpStateSpec }
  | { kind: 'psmash'; pa: AddressValue }
  | { kind: 'unmap'; region: string }
  | { kind: 'munmap'; region: string }
  | { kind: 'remap'; region: string; to: AddressValue };

export interface EventSpec {
  when: EventWhen;
  action: EventAction;
  path: string;
}

/** The kernel's outcomes (src/kernel/types.ts), and kernel none's: an exception or HLT ends its run. */
export const OUTCOME_KINDS = ['exit', 'signal', 'livelock', 'oops', 'exception', 'halt', 'limit'] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

/** `expect.kernel` names the kernel's own decisions. */
export { KERNEL_ACTIONS, type KernelAction };

export interface ExpectedFault {
  vector?: number;
  errorCode?: number;
  address?: AddressValue;
  rip?: AddressValue;
  rmp?: boolean;
}

export interface ExpectSpec {
  outcome?: OutcomeKind;
  exitCode?: number;
  signal?: string;
  siCode?: string;
  siAddr?: AddressValue;
  faults?: ExpectedFault[];
  kernel?: KernelAction[];
  regs?: Partial<Record<RegName, AddressValue>>;
  memory?: { at: AddressValue; bytes: Uint8Array }[];
  stdout?: string;
  stderr?: string;
}

export interface Scenario {
  /** Where it came from (a path, or "<inline>"). */
  file: string;
  name: string;
  notes?: string;
  kernel: KernelPolicy;
  machine: MachineSpec;
  process?: ProcessSpec;
  cpu?: CpuSpec;
  paging?: PagingSpec;
  physical: PhysicalBytes[];
  rmp: RmpEntrySpec[];
  events: EventSpec[];
  run: { maxInstructions: number; maxFaults: number };
  expect: ExpectSpec;
}
