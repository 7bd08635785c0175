// The contract between the CPU and the MMU: how an instruction reaches memory by linear address.
//
// Linear addresses cross this boundary as JS numbers holding the low 48 bits, unsigned
// (0 <= la < 2^48). The CPU checks canonical form before it calls in (a non-canonical address is
// #GP, or #SS for stack accesses, never #PF: AMD APM Vol.2 §5.3.1). CR2 is reported sign-extended
// (fault.ts, canonicalAddress).
//
// Every method either completes the whole access or throws a CpuFault and changes nothing:
// a multi-byte access that crosses a page translates both pages before it writes a byte.

export const Access = {
  Read: 0,
  Write: 1,
  Fetch: 2,
} as const;
export type AccessKind = (typeof Access)[keyof typeof Access];

export interface LinearMemory {
  /** Current privilege level (0..3); CPL 3 accesses are user accesses. */
  setCpl(cpl: number): void;
  /** RFLAGS.AC, which lifts SMAP for explicit supervisor data accesses. */
  setAlignmentCheck(ac: boolean): void;
  /**
   * New control state. Flushes the TLB as the manual says: a CR3 write flushes non-global entries,
   * a change of CR0.WP/PG, CR4 (PGE, SMEP, SMAP, PAE...) or EFER.NXE flushes everything.
   */
  setControlRegisters(cr0: number, cr3: number, cr4: number, efer: number): void;
  /** INVLPG: drop the translation for `la`, whatever its page size. */
  invlpg(la: number): void;

  read8(la: number): number;
  read16(la: number): number;
  /** Unsigned 32-bit value. */
  read32(la: number): number;
  /** Returns the low 32 bits (unsigned); the high 32 bits are left in `high32`. */
  read64(la: number): number;
  /** Upper half of the last read64 (unsigned). */
  high32: number;

  write8(la: number, value: number): void;
  write16(la: number, value: number): void;
  write32(la: number, value: number): void;
  write64(la: number, lo: number, hi: number): void;

  /**
   * Check that an access of `length` bytes at `la` would succeed (all pages, all checks, RMP
   * included), setting A/D bits as the access would. Used before read-modify-write and other
   * multi-step instructions so they fault before any effect.
   */
  probe(la: number, length: number, access: AccessKind): void;

  /** Translate for one access kind (full checks, A/D, TLB fill); returns the physical address. */
  translate(la: number, access: AccessKind): number;
}
