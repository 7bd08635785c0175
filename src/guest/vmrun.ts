// VMRUN and #VMEXIT, modelled as far as the RMP checks of spec/rmp.md §3.3 need (AMD APM Vol.2
// §15.36.11 "VMRUN and VMSAVE/VMLOAD checks"). The size-dependent checks use 4K.
//
//   VMCB page (if given)           must be hypervisor-owned            else #GP(0)
//   VMSA of a non-SNP-active guest must be hypervisor-owned            else VMEXIT_INVALID
//   VMSA of an SNP-active guest    RMP-Covered, Guest-Owned, [Reverse-Map], Mutable, RMP.VMSA = 1
//                                                                      else VMEXIT_INVALID
// On success VMRUN marks the VMCB and the VMSA "in use" in their RMP entries (for every VM, SNP or
// not); #VMEXIT clears the marks. While a page is in use RMPUPDATE returns FAIL_INUSE and a host
// write through a writable translation takes an RMP #PF (src/rmp/table.ts setInUse).
//
// [I] Reverse-Map of the VMSA: the hardware checks the VMSA page's RMP GPA, but the model does not
// know which GPA a VMSA is meant to have (Linux's firmware-made VMSAs carry GPA 0xfffffffff000,
// spec/rmp.md §1.4). The check runs only when the caller gives `vmsaGpa`.

import { describeFields } from '../rmp/entry.ts';
import { SvmExit, SIZE_4K } from './constants.ts';
import type { GuestRmpPort } from './rmp-port.ts';

export interface VmrunTarget {
  asid: number;
  snpActive: boolean;
  /** SPA of the VMSA page (SEV-ES/SNP); omitted for a guest whose save area lives in the VMCB. */
  vmsaPa?: number;
  /** The GPA the VMSA page must be assigned at (enables the Reverse-Map check). */
  vmsaGpa?: number;
  /** SPA of the VMCB page. */
  vmcbPa?: number;
}

export type VmrunResult =
  | { ok: true }
  | { ok: false; kind: 'gp'; why: string }
  | { ok: false; kind: 'vmexit-invalid'; exitCode: number; why: string };

function entryText(rmp: GuestRmpPort, pfn: number): string {
  return rmp.isCovered(pfn) ? describeFields(rmp.entry(pfn)) : 'no RMP entry';
}

function hypervisorOwned(rmp: GuestRmpPort, pa: number): boolean {
  const pfn = Math.floor(pa / SIZE_4K);
  return !rmp.isCovered(pfn) || !rmp.entry(pfn).assigned;
}

/** The VMRUN checks; on success the in-use marks are set. */
export function vmrun(rmp: GuestRmpPort, t: VmrunTarget): VmrunResult {
  if (rmp.enabled) {
    if (t.vmcbPa !== undefined && !hypervisorOwned(rmp, t.vmcbPa)) {
      return { ok: false, kind: 'gp', why: `VMRUN: the VMCB page 0x${t.vmcbPa.toString(16)} is not hypervisor-owned (#GP(0)); ${entryText(rmp, t.vmcbPa / SIZE_4K)}` };
    }
    if (t.vmsaPa !== undefined) {
      const pfn = Math.floor(t.vmsaPa / SIZE_4K);
      const invalid = (why: string): VmrunResult => ({
        ok: false, kind: 'vmexit-invalid', exitCode: SvmExit.INVALID,
        why: `VMRUN: ${why} → VMEXIT_INVALID; VMSA page 0x${t.vmsaPa!.toString(16)}: ${entryText(rmp, pfn)}`,
      });
      if (!t.snpActive) {
        if (!hypervisorOwned(rmp, t.vmsaPa)) return invalid('the VMSA of a guest that is not SNP-active must be hypervisor-owned');
      } else {
        if (!rmp.isCovered(pfn)) return invalid('the VMSA page is not RMP-Covered');
        const e = rmp.entry(pfn);
        if (!e.assigned || e.asid !== t.asid) return invalid(`the VMSA page is not Guest-Owned by ASID ${t.asid}`);
        if (t.vmsaGpa !== undefined && e.gpa !== t.vmsaGpa - (t.vmsaGpa % SIZE_4K)) return invalid(`the VMSA page fails Reverse-Map (RMP GPA 0x${e.gpa.toString(16)}, expected 0x${t.vmsaGpa.toString(16)})`);
        if (e.immutable) return invalid('the VMSA page is Immutable (Mutable check)');
        if (!e.vmsa) return invalid('the VMSA page has RMP.VMSA = 0 (a VMPL0 RMPADJUST with the VMSA bit sets it)');
      }
    }
  }
  mark(rmp, t, true);
  return { ok: true };
}

/** #VMEXIT: the in-use marks are cleared. */
export function vmexit(rmp: GuestRmpPort, t: VmrunTarget): void {
  mark(rmp, t, false);
}

function mark(rmp: GuestRmpPort, t: VmrunTarget, on: boolean): void {
  if (!rmp.enabled) return;
  if (t.vmcbPa !== undefined) rmp.setInUse(Math.floor(t.vmcbPa / SIZE_4K), on ? { kind: 'vmcb', snpGuest: t.snpActive } : null);
  if (t.vmsaPa !== undefined) rmp.setInUse(Math.floor(t.vmsaPa / SIZE_4K), on ? { kind: 'vmsa', snpGuest: t.snpActive } : null);
}
