// Architectural exceptions, raised anywhere below the CPU's run loop and delivered in one place.
//
// A fault is thrown as a CpuFault (not an Error: no stack capture on the hot path). The run loop
// catches it with the instruction's pre-execution state intact (precise exceptions, design.md
// pattern 8): RIP still points at the faulting instruction and none of its effects are applied.

/** Exception vectors (AMD APM Vol.2 §8.2, Intel SDM Vol.3A §6.3.1). */
export const Vector = {
  DE: 0, // divide error
  DB: 1,
  BP: 3, // INT3
  OF: 4, // overflow (INT 4; INTO is invalid in 64-bit mode)
  UD: 6, // invalid opcode
  NM: 7,
  DF: 8,
  TS: 10,
  NP: 11,
  SS: 12, // stack-segment fault (non-canonical stack access)
  GP: 13, // general protection
  PF: 14, // page fault
  MF: 16,
  AC: 17,
  VC: 29, // SEV-ES/SNP VMM communication exception (#VC)
} as const;

export const VECTOR_NAMES: Record<number, string> = {
  0: 'DE', 1: 'DB', 3: 'BP', 4: 'OF', 6: 'UD', 7: 'NM', 8: 'DF', 10: 'TS', 11: 'NP', 12: 'SS', 13: 'GP',
  14: 'PF', 16: 'MF', 17: 'AC', 29: 'VC',
};

/** #PF error-code bits (AMD APM Vol.2 §8.4.2; RMP bit 31 from §15.36.10, Linux X86_PF_RMP). */
export const PfErr = {
  P: 1 << 0, // 0 = not-present page, 1 = protection violation
  W: 1 << 1, // the access was a write
  U: 1 << 2, // the access was made in user mode (CPL 3)
  RSVD: 1 << 3, // a reserved bit was set in a paging-structure entry
  ID: 1 << 4, // instruction fetch (reported when NX or SMEP is enabled)
  PK: 1 << 5, // protection-key violation
  SS: 1 << 6, // shadow-stack access
  RMP: 0x80000000, // RMP violation (bit 31); kept as an unsigned number
} as const;

export class CpuFault {
  constructor(
    /** Exception vector. */
    readonly vector: number,
    /** Error code (unsigned 32-bit number), or 0 for exceptions without one. */
    readonly errorCode: number = 0,
    /** CR2 for #PF: the faulting linear address, sign-extended to 64 bits. 0n otherwise. */
    readonly address: bigint = 0n,
    /** A sentence a person can act on: which check failed, where, with which entry. */
    readonly why: string = '',
    /** True when bit 31 (RMP) is set in a #PF error code. */
    readonly rmp: boolean = false,
    /** Extra machine-readable detail (the walk trace, the failing RMP entry...). */
    readonly detail?: unknown,
  ) {}

  get name(): string {
    return VECTOR_NAMES[this.vector] ?? `vector ${this.vector}`;
  }
}

/** Sign-extend a 48-bit linear address (held as an unsigned number < 2^48) to 64 bits. */
export function canonicalAddress(la48: number): bigint {
  const v = BigInt(la48);
  return v >= 0x800000000000n ? v | 0xffff000000000000n : v;
}
