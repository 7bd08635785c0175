// The emulated kernel's #PF path, shaped like arch/x86/mm/fault.c:
//
//   exc_page_fault → handle_page_fault
//     ├─ fault_in_kernel_space(address) → do_kern_addr_fault
//     │     spurious_kernel_fault() accepts only error code WRITE|PROT or INSTR|PROT exactly, so an
//     │     RMP #PF (bit 31) is never spurious → bad_area_nosemaphore → kernelmode_fixup_or_oops → oops
//     └─ do_user_addr_fault
//           RSVD → pgtable_bad (oops)
//           [v7 only] X86_PF_RMP → handle_user_rmp_page_fault: UNMAP / RETRY return, SPLIT goes on
//           find_vma → none: bad_area (SIGSEGV SEGV_MAPERR, or -EFAULT for a kernel uaccess)
//           access_error → bad_area_access_error (SIGSEGV SEGV_ACCERR, or -EFAULT)
//           handle_mm_fault (mm.ts) → demand / cow / spurious / split
//
// The two policies differ only where spec/rmp.md §6.2 (v7) and §6.4 (mainline) say they do: mainline
// has no RMP code on the user path at all.

import { PfErr } from '../cpu/fault.ts';
import { SIZE_4K, TASK_SIZE_MAX, type SiCodeName } from './constants.ts';
import { DirectMapFault } from './kernel-memory.ts';
import { hex, type AddressSpace, type KernelAction } from './mm.ts';
import { describeFlags, isPresent, leafFrame, LEVEL_NAMES, levelBytes } from './page-tables.ts';
import type { KernelRmpPort } from './rmp-port.ts';
import type { DecisionRecord, Policy } from './types.ts';
import { protString, type Vma } from './vma.ts';

export type HandlerResult =
  /** Return from the fault: the instruction (or the kernel's copy) re-executes. */
  | { kind: 'resume'; decision: DecisionRecord }
  /** User mode: force a signal. */
  | { kind: 'signal'; signo: number; siCode: SiCodeName; siAddr: bigint; decision: DecisionRecord }
  /** Kernel-mode uaccess: the exception-table fixup makes the copy return -EFAULT. */
  | { kind: 'efault'; decision: DecisionRecord }
  /** Kernel mode, no fixup: oops. */
  | { kind: 'oops'; message: string; decision: DecisionRecord };

export interface PageFault {
  errorCode: number;
  /** CR2, sign-extended. */
  address: bigint;
  rip: bigint;
}

/** v7's return codes (RMP_PF_SPLIT = 0, RMP_PF_RETRY = 1, RMP_PF_UNMAP = 2). */
type V7Verdict =
  | { kind: 'split'; why: string }
  | { kind: 'retry'; why: string }
  | { kind: 'unmap'; why: string }
  | { kind: 'sigbus'; why: string };

const SIGSEGV = 11;
const SIGBUS = 7;

/** PG_LEVEL_4K = 1, PG_LEVEL_2M = 2, PG_LEVEL_1G = 3 (arch/x86/include/asm/pgtable_types.h). */
const PG_LEVEL_NAMES: Record<number, string> = { 1: '4K', 2: '2M', 3: '1G' };

export class FaultHandler {
  constructor(
    private readonly policy: Policy,
    private readonly mm: AddressSpace,
    private readonly rmp: KernelRmpPort,
  ) {}

  /**
   * Handle one #PF. `userMode` is false for faults raised by the kernel's own uaccess (copy_to_user
   * and friends, error code U=0 on a user address).
   */
  handle(f: PageFault, userMode: boolean): HandlerResult {
    const address = f.address;
    const err = f.errorCode >>> 0;
    const isKernelAddress = address >= BigInt(TASK_SIZE_MAX);
    if (isKernelAddress) return this.doKernAddrFault(f, userMode);
    const va = Number(address);
    const d = (action: KernelAction, why: string): DecisionRecord => ({ action, address, why });

    if (err & PfErr.RSVD) {
      const why = `pgtable_bad: the walk of ${hex(va)} met a reserved bit (error code ${hex(err)}): corrupted page table`;
      return { kind: 'oops', message: why, decision: d('oops', why) };
    }

    let split = false;
    let splitWhy = '';
    if (this.policy === 'v7' && (err & PfErr.RMP) !== 0) {
      const verdict = this.handleUserRmpPageFault(va);
      switch (verdict.kind) {
        case 'unmap':
          return { kind: 'resume', decision: d('unmap', verdict.why) };
        case 'retry':
          return { kind: 'resume', decision: d('retry', verdict.why) };
        case 'sigbus':
          if (userMode) return { kind: 'signal', signo: SIGBUS, siCode: 'BUS_ADRERR', siAddr: address, decision: d('sigbus', verdict.why) };
          return {
            kind: 'efault',
            decision: d('efault', `${verdict.why}; the access was the kernel's uaccess, so do_sigbus → kernelmode_fixup_or_oops applies the exception fixup and the copy returns -EFAULT`),
          };
        case 'split':
          split = true;
          splitWhy = verdict.why;
          break;
      }
    }

    const vma = this.mm.vmas.find(va);
    if (vma === undefined) {
      return this.badArea(f, userMode, 'SEGV_MAPERR', `bad_area: no VMA covers ${hex(va)}`);
    }
    const accessWhy = accessError(err, vma);
    if (accessWhy !== null) {
      return this.badArea(f, userMode, 'SEGV_ACCERR', `bad_area_access_error: ${accessWhy}`);
    }
    let r;
    try {
      r = this.mm.handleMmFault(vma, va, (err & PfErr.W) !== 0, split);
    } catch (e) {
      if (split && e instanceof DirectMapFault) {
        e.interrupted = { action: 'split', address, why: `${splitWhy}; then handle_mm_fault faulted on a kernel write (${e.what})` };
      }
      throw e;
    }
    if (split) {
      return { kind: 'resume', decision: d('split', `${splitWhy}; then ${r.why}`) };
    }
    switch (r.action) {
      case 'oom':
        if (userMode) return { kind: 'signal', signo: SIGBUS, siCode: 'BUS_ADRERR', siAddr: address, decision: d('sigbus', `handle_mm_fault ran out of memory: ${r.why}`) };
        return { kind: 'efault', decision: d('efault', `handle_mm_fault ran out of memory: ${r.why}`) };
      case 'demand':
      case 'cow':
      case 'spurious':
        return { kind: 'resume', decision: d(r.action, r.why) };
      default:
        return { kind: 'resume', decision: d('spurious', r.why) };
    }
  }

  /**
   * v7 handle_user_rmp_page_fault (spec/rmp.md §6.2): walk the current page table
   * (lookup_address_in_pgd), compute the faulting 4K pfn, look its RMP entry up, decide.
   */
  private handleUserRmpPageFault(va: number): V7Verdict {
    const ref = this.mm.tables.lookup(va);
    if (ref === null) {
      return { kind: 'unmap', why: `handle_user_rmp_page_fault: lookup_address_in_pgd found no entry for ${hex(va)} (an upper-level entry is none): RMP_PF_UNMAP, re-execute` };
    }
    if (!isPresent(ref.value)) {
      return { kind: 'unmap', why: `handle_user_rmp_page_fault: the ${LEVEL_NAMES[ref.level]} for ${hex(va)} is not present (${hex(ref.value)}): RMP_PF_UNMAP, re-execute` };
    }
    const bytes = levelBytes(ref.level);
    // pfn = pte_pfn | PFN_DOWN(address & (page_level_size(level) - 1)) for 2M and 1G mappings.
    const pfn = leafFrame(ref.value, ref.level) / SIZE_4K + Math.floor((va % bytes) / SIZE_4K);
    const { ret, level: rmpLevel } = this.rmp.lookupV7(pfn);
    const hostLevel = ref.level; // PG_LEVEL_4K = 1 ... PG_LEVEL_1G = 3, the same numbering
    const entry = this.rmp.describe(pfn);
    if (ret !== 0) {
      const cause = ret > 0
        ? `the RMP entry of pfn ${hex(pfn)} is assigned: ${entry};`
        : `snp_lookup_rmpentry(pfn ${hex(pfn)}) failed with ${ret}, which v7's caller treats like "assigned"`;
      return { kind: 'sigbus', why: `handle_user_rmp_page_fault: ${cause}: "Fatal RMP page fault, terminating process", do_sigbus (BUS_ADRERR at ${hex(va)})` };
    }
    if (hostLevel > rmpLevel) {
      return {
        kind: 'split',
        why: `handle_user_rmp_page_fault: pfn ${hex(pfn)} is unassigned, ${entry}, but the host maps ${hex(va)} with a ${PG_LEVEL_NAMES[hostLevel]} ${LEVEL_NAMES[ref.level]} (${describeFlags(ref.value, ref.level)}), above the RMP level ${PG_LEVEL_NAMES[rmpLevel] ?? rmpLevel}: RMP_PF_SPLIT, FAULT_FLAG_PAGE_SPLIT set`,
      };
    }
    return {
      kind: 'retry',
      why: `handle_user_rmp_page_fault: pfn ${hex(pfn)} is unassigned, ${entry}, and the host mapping level ${PG_LEVEL_NAMES[hostLevel]} is not above the RMP level ${PG_LEVEL_NAMES[rmpLevel] ?? rmpLevel}: RMP_PF_RETRY, re-execute`,
    };
  }

  private badArea(f: PageFault, userMode: boolean, siCode: 'SEGV_MAPERR' | 'SEGV_ACCERR', why: string): HandlerResult {
    const address = f.address;
    if (userMode) return { kind: 'signal', signo: SIGSEGV, siCode, siAddr: address, decision: { action: 'sigsegv', address, why } };
    return { kind: 'efault', decision: { action: 'efault', address, why: `${why}; the access was the kernel's uaccess, so the exception fixup makes it return -EFAULT` } };
  }

  /** do_kern_addr_fault: an RMP #PF on a kernel address is never spurious; no fixup → oops. */
  private doKernAddrFault(f: PageFault, userMode: boolean): HandlerResult {
    const address = f.address;
    const err = f.errorCode >>> 0;
    if (userMode) {
      return { kind: 'signal', signo: SIGSEGV, siCode: 'SEGV_MAPERR', siAddr: address, decision: { action: 'sigsegv', address, why: `bad_area_nosemaphore: user access to kernel address ${hex(address)}` } };
    }
    const lines = [
      `BUG: unable to handle page fault for address: ${hex(address)}`,
      `#PF: supervisor ${err & PfErr.W ? 'write' : 'read'} access in kernel mode`,
      // show_fault_oops prints error_code(0x%04lx): the whole value, at least four digits; the
      // "Oops: %04lx" line of __die() (below) is the one that shows only the low 16 bits (spec/rmp.md §3.4).
      `#PF: error_code(0x${err.toString(16).padStart(4, '0')})${err & PfErr.RMP ? ' - RMP violation' : ''}`,
    ];
    let why = `do_kern_addr_fault: kernel-mode fault at ${hex(address)} with error code ${hex(err)}`;
    if (err & PfErr.RMP) {
      why += `; spurious_kernel_fault() rejects it because bit 31 (RMP) breaks the WRITE|PROT equality, bad_area_nosemaphore → kernelmode_fixup_or_oops finds no fixup`;
      const pfn = directMapPfn(address);
      if (pfn !== null) {
        lines.push(...this.rmp.dump(pfn));
        why += `; pfn ${hex(pfn)}: ${this.rmp.describe(pfn)}`;
      }
    }
    lines.push(`Oops: ${hex(err & 0xffff).slice(2).padStart(4, '0')} [#1] SMP NOPTI`);
    return { kind: 'oops', message: lines.join('\n'), decision: { action: 'oops', address, why } };
  }
}

/** The pfn behind a direct-map address (snp_dump_hva_rmpentry walks the direct map), or null. */
function directMapPfn(address: bigint): number | null {
  const base = 0xffff888000000000n;
  if (address < base || address >= base + (1n << 46n)) return null;
  return Number((address - base) >> 12n);
}

/**
 * access_error (arch/x86/mm/fault.c): true when the VMA forbids the access. Returns a sentence, or
 * null when the access is allowed.
 *   write            → the VMA must have VM_WRITE
 *   read, present    → always an error (a protection fault on a readable page: here, an RMP read-type
 *                      fault, or a fetch from an NX page)
 *   read, not present → the VMA must be accessible (not PROT_NONE)
 */
export function accessError(err: number, vma: Vma): string | null {
  if (err & PfErr.PK) return 'protection-key violation';
  if (err & PfErr.W) {
    return vma.prot.write ? null : `write to VMA "${vma.name}" (${protString(vma.prot)}) without VM_WRITE`;
  }
  if (err & PfErr.P) {
    return `read-type fault with P=1 (error code ${hex(err)}) in VMA "${vma.name}" (${protString(vma.prot)}): access_error's "read, present" rule`;
  }
  if (!vma.prot.read && !vma.prot.write && !vma.prot.exec) return `VMA "${vma.name}" is PROT_NONE`;
  return null;
}
