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

/** What PVALIDATE and RMPADJUST return: the EAX code and rFLAGS.CF (spec/rmp.md §5.4, §5.5). */
export interface SnpInstructionResult {
  /** The return code; the CPU writes it to EAX, zero-extending into RAX. */
  eax: number;
  /** rFLAGS.CF: PVALIDATE sets it when Validated did not change. */
  cf: boolean;
}

/**
 * The guest side of the SNP instructions: what the CPU calls for PVALIDATE (F2 0F 01 FF) and
 * RMPADJUST (F3 0F 01 FE) while it runs an SNP-active guest (src/guest/instructions.ts provides it).
 * The CPU has already checked CPL 0; the port translates RAX through the guest's two-dimensional
 * walk and applies the RMP rules. It throws a CpuFault (guest #PF, #VC, #GP, or a VmExitFault for
 * #VMEXIT(NPF)) with no partial effect, so the CPU reports the exception at the instruction.
 * Cpu.guestSnp is null on the host and in a guest that is not SNP-active: both instructions #UD
 * there (spec/rmp.md §5.1).
 */
export interface CpuGuestSnpPort {
  /** PVALIDATE: RAX = guest virtual address, RCX = size (0 = 4K, 1 = 2M), RDX bit 0 = validate. */
  pvalidate(rax: bigint, rcx: bigint, rdx: bigint): SnpInstructionResult;
  /** RMPADJUST: RAX = guest VA, RCX = size, RDX = [7:0] target VMPL, [15:8] permissions, [16] VMSA. */
  rmpadjust(rax: bigint, rcx: bigint, rdx: bigint): SnpInstructionResult;
}
