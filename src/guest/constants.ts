// Guest-mode constants: the C-bit, the #VMEXIT(NPF) EXITINFO1 bits, the SVM exit codes the model
// produces, the #VC error codes, and what CPUID Fn8000_001F reports.
//
// Sources: AMD APM Vol.2 §15.25.6 (nested page faults: EXITINFO1 holds a #PF-style error code,
// EXITINFO2 the faulting GPA), §15.34.1 (CPUID Fn8000_001F), §15.36.10 (RMP bits of EXITINFO1);
// Linux arch/x86/include/asm/kvm_host.h (PFERR_GUEST_*_MASK), arch/x86/include/uapi/asm/svm.h
// (SVM_EXIT_NPF = 0x400, SVM_EXIT_INVALID = -1, SVM_EXIT_NOT_VALIDATED = 0x404 as a #VC code).
// spec/rmp.md §3.4 tabulates the bits.

/**
 * Position of the C-bit (encryption bit) in guest page-table entries and guest physical addresses.
 * Reported by CPUID Fn8000_001F_EBX[5:0] (AMD APM Vol.2 §15.34.1), which the CPU module answers
 * (src/cpu/cpuid.ts C_BIT_POSITION; test/guest/choices.test.ts keeps the two equal). Bit 51 of a
 * guest PTE is therefore not an address bit.
 */
export const C_BIT = 51;
/** The C-bit as a mask over a 64-bit guest paging entry or guest physical address. */
export const C_BIT_MASK = 1n << BigInt(C_BIT);

/**
 * Guest physical addresses are 48 bits wide in this model ([I], docs/guest.md): bits 50:48 of a
 * guest paging entry are reserved (a guest #PF with RSVD), bit 51 is the C-bit. System physical
 * addresses in nested entries are 48 bits too: bits 51:48 of a nested entry are reserved (an NPF
 * with RSVD).
 */
export const GUEST_PHYS_BITS = 48;
export const HOST_PHYS_BITS = 48;

/**
 * EXITINFO1 bits of #VMEXIT(NPF). The low bits are the #PF error-code bits with their NPF meaning
 * (AMD APM Vol.2 §15.25.6); bits 31-37 come from the RMP checks (§15.36.10; KVM's PFERR_GUEST_*).
 * Values are bigint because EXITINFO1 is 64 bits wide.
 */
export const NpfBits = {
  P: 1n << 0n, // the nested entry was present (protection-type fault)
  W: 1n << 1n, // write access
  U: 1n << 2n, // user access: every nested access is a user access (§15.25.5)
  RSV: 1n << 3n, // reserved bit set in a nested entry
  ID: 1n << 4n, // instruction fetch
  RMP: 1n << 31n, // RMP (or VMPL) check failed        PFERR_GUEST_RMP_MASK
  FINAL: 1n << 32n, // fault on the final GPA→SPA step PFERR_GUEST_FINAL_MASK
  PAGE: 1n << 33n, // fault translating a guest page-table access PFERR_GUEST_PAGE_MASK
  ENC: 1n << 34n, // the guest's effective C-bit was 1  PFERR_GUEST_ENC_MASK
  SIZEM: 1n << 35n, // PVALIDATE/RMPADJUST page-size mismatch PFERR_GUEST_SIZEM_MASK
  VMPL: 1n << 36n, // VMPL permission check failed      PFERR_GUEST_VMPL_MASK
} as const;

/** SVM exit codes the model produces (Linux uapi/asm/svm.h). */
export const SvmExit = {
  NPF: 0x400,
  /** VMRUN consistency-check failure (SVM_EXIT_ERR / VMEXIT_INVALID = -1). */
  INVALID: -1,
} as const;

/** #VC error codes (the SVM exit code the access would have produced; spec/rmp.md §3.4). */
export const VcCode = {
  /** PAGE_NOT_VALIDATED: a C=1 access to an RMP entry with Validated = 0. */
  NOT_VALIDATED: 0x404,
} as const;

/** RMPADJUST RDX bits (spec/rmp.md §5.1; Linux RMPADJUST_VMSA_PAGE_BIT = BIT(16)). */
export const RmpadjustAttr = {
  TARGET_VMPL_MASK: 0xff,
  PERM_SHIFT: 8,
  VMSA: 1 << 16,
} as const;

export const SIZE_4K = 0x1000;
export const SIZE_2M = 0x200000;
export const SIZE_1G = 0x40000000;
