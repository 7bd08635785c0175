// Constants of the RMP: MSR numbers and bits (spec/rmp.md §1.1) and the SNP instructions'
// EAX return codes (spec/rmp.md §5.1; Linux arch/x86/include/asm/sev.h).

export const Msr = {
  SYSCFG: 0xc0010010,
  RMP_BASE: 0xc0010132,
  RMP_END: 0xc0010133,
} as const;

/** SYSCFG bits (Linux msr-index.h). */
export const Syscfg = {
  /** Bit 19 MtrrFixDramModEn (MFDM): Linux sets it on every CPU before SNP_EN. */
  MFDM: 1n << 19n,
  /** Bit 23 MemEncryptionModEn. */
  MEM_ENCRYPT: 1n << 23n,
  /** Bit 24 SecureNestedPagingEn. */
  SNP_EN: 1n << 24n,
  /** Bit 25 VMPLEn. */
  VMPL_EN: 1n << 25n,
} as const;

/** RMP_BASE and RMP_END+1 are 8 KB aligned; Linux masks with GENMASK(51,13) (RMP_ADDR_MASK). */
export const RMP_ADDR_ALIGN = 0x2000;
/** Physical addresses are below 2^52 (MSR bits 63:52 are reserved). */
export const PHYS_ADDR_LIMIT = 2 ** 52;

/** EAX return codes of RMPUPDATE, PSMASH, RMPREAD (and later PVALIDATE/RMPADJUST). */
export const RmpStatus = {
  SUCCESS: 0,
  FAIL_INPUT: 1,
  FAIL_PERMISSION: 2,
  FAIL_INUSE: 3,
  /** RMPUPDATE 4K/2M conflict; mainline Linux RMPUPDATE_FAIL_OVERLAP = 4 (v6/v7 wrote 7). */
  FAIL_OVERLAP: 4,
  /** PVALIDATE/RMPADJUST size mismatch (guest mode). */
  FAIL_SIZEMISMATCH: 6,
  /**
   * PSMASH on an entry that is not an assigned 2 MB page: 7 per Microsoft's intrinsic docs (2025+).
   * An early AMD Linux RFC used 4 (FAIL_BADADDR); spec/rmp.md §9 item 1. Choice [I], see docs/rmp.md.
   */
  PSMASH_FAIL_NOT_2M: 7,
} as const;

export const RMP_STATUS_NAMES: Record<number, string> = {
  0: 'SUCCESS',
  1: 'FAIL_INPUT',
  2: 'FAIL_PERMISSION',
  3: 'FAIL_INUSE',
  4: 'FAIL_OVERLAP',
  6: 'FAIL_SIZEMISMATCH',
  7: 'FAIL_NOT_2M (page does not meet the requirements for expansion)',
};

/** The instruction was executed with SNP disabled: the CPU raises #UD and writes no EAX [I] (§5.1). */
export const RMP_RAISE_UD = -1;
