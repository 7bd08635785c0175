// What the CPU needs from the RMP module (src/rmp/table.ts, docs/architecture.md "RmpTable").
// The CPU depends on this small interface, not on the table class, so it can run without SNP
// (NO_RMP) and so src/machine.ts can adapt the table's exact signatures in one place.

export interface RmpReadResult {
  /** EAX return code (spec/rmp.md §5.6). */
  code: number;
  /** The 16-byte architectural entry view when code is 0. */
  bytes?: Uint8Array;
}

export interface CpuRmpPort {
  /** SYSCFG.SNP_EN: when false the SNP instructions raise #UD. */
  readonly enabled: boolean;
  /** True when this MSR belongs to the RMP module (SYSCFG, RMP_BASE, RMP_END...). */
  ownsMsr(msr: number): boolean;
  /** RDMSR of an owned MSR. May throw a CpuFault (#GP). */
  readMsr(msr: number): bigint;
  /** WRMSR of an owned MSR. May throw a CpuFault (#GP). */
  writeMsr(msr: number, value: bigint): void;
  /** RMPUPDATE (spec/rmp.md §5.2): returns the EAX code. */
  rmpupdate(spa: number, state: Uint8Array): number;
  /** PSMASH (spec/rmp.md §5.3): returns the EAX code. */
  psmash(spa: number): number;
  /** RMPREAD (spec/rmp.md §5.6). */
  rmpread(spa: number): RmpReadResult;
}

/** MSR numbers the RMP module owns (spec/rmp.md §1.1). */
export const RMP_MSRS = {
  SYSCFG: 0xc0010010,
  RMP_BASE: 0xc0010132,
  RMP_END: 0xc0010133,
} as const;
