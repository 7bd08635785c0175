// The guest's state: a VMSA-like record (AMD APM Vol.2 §15.35.3 "VMSA", Table B-4 "VMSA Layout,
// State Save Area for SEV-ES") holding what the model needs, plus the VMCB control fields the
// nested walk reads (ASID, nCR3, SEV enables; APM Appendix B, Table B-1 "VMCB Layout, Control Area").
//
// The guest-visible control registers follow the host rules of AMD APM Vol.2 §3.1: CR0.PG with
// CR4.PAE and EFER.LME/LMA select 4-level long-mode paging; this model runs only long-mode guests
// (or CR0.PG=0, where guest linear = guest physical). VMPL (0..3) is the privilege level inside the
// SNP guest (APM §15.35.7); SNP-active is VMCB SEV_FEATURES/SNP enable.

/** CR0/CR4/EFER bits the guest walk reads (AMD APM Vol.2 §3.1.1, §3.1.3, §3.1.7). */
export const Cr0 = { PE: 1 << 0, WP: 1 << 16, PG: 0x80000000 } as const;
export const Cr4 = { PAE: 1 << 5, PGE: 1 << 7, SMEP: 1 << 20, SMAP: 1 << 21 } as const;
export const Efer = { SCE: 1 << 0, LME: 1 << 8, LMA: 1 << 10, NXE: 1 << 11, SVME: 1 << 12 } as const;

export interface GuestState {
  /** Address-space identifier: tags the guest's TLB entries and must match RMP.ASID for private pages. */
  asid: number;
  /** SNP-active: C=1 accesses get the full RMP chain (spec/rmp.md §3.2). */
  snpActive: boolean;
  /** Virtual machine privilege level 0..3 (0 is the most privileged). */
  vmpl: number;
  /** Current privilege level inside the guest. */
  cpl: number;
  cr0: number;
  /** Guest CR3: guest physical address of the PML4 (bits 50:12; bit 51 is the C-bit, ignored). */
  cr3: number;
  cr4: number;
  efer: number;
  /** Nested CR3: system physical address of the nested PML4 (built by src/hv/npt.ts). */
  nCr3: number;
  /** RFLAGS.AC (lifts SMAP for explicit supervisor data accesses). */
  ac: boolean;
}

/** A VMSA-like record: the guest register state plus where the VMSA page lives. */
export interface Vmsa extends GuestState {
  /** System physical address of the VMSA page (SNP: checked by VMRUN, spec/rmp.md §3.3). */
  vmsaPa: number;
  rip: bigint;
  rflags: bigint;
  /** RAX..R15 in encoding order. */
  gprs: bigint[];
}

/** Defaults of a 64-bit guest kernel: CR0 PG|WP|NE|ET|MP|PE, CR4 PAE, EFER LME|LMA|NXE|SCE|SVME? (SVME is host-only: off). */
export const GUEST_DEFAULTS = {
  cr0: 0x80010033,
  cr4: Cr4.PAE,
  efer: Efer.LME | Efer.LMA | Efer.NXE | Efer.SCE,
} as const;

export function newVmsa(fields: Partial<Vmsa> & { asid: number; nCr3: number }): Vmsa {
  return {
    snpActive: true,
    vmpl: 0,
    cpl: 0,
    cr0: GUEST_DEFAULTS.cr0,
    cr3: 0,
    cr4: GUEST_DEFAULTS.cr4,
    efer: GUEST_DEFAULTS.efer,
    ac: false,
    vmsaPa: 0,
    rip: 0n,
    rflags: 0x2n,
    gprs: new Array<bigint>(16).fill(0n),
    ...fields,
  };
}
