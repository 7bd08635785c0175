// The two guest SNP instructions (spec/rmp.md §5.1, §5.4, §5.5):
//   PVALIDATE  F2 0F 01 FF   RAX = guest VA, ECX = size (0 = 4K, 1 = 2M), EDX = 1 validate / 0 rescind
//   RMPADJUST  F3 0F 01 FE   RAX = guest VA, ECX = size, RDX = [7:0] target VMPL, [15:8] permission
//                            mask, [16] VMSA
// Both translate RAX through the guest page tables and the nested table (which may give a guest
// #PF or an NPF), check that the page belongs to this guest at this GPA and is mutable, then apply
// the size rules of the APM's "PVALIDATE/RMPADJUST Page Size Mismatch Combinations" table on the
// RMP page size [I, spec/rmp.md §5.4 last bullet]:
//   4K request on a 2M RMP page → #VMEXIT(NPF) with RMP and SIZEM (bits 31, 35)
//   2M request on 4K RMP pages  → EAX = 6 FAIL_SIZEMISMATCH, nothing changes
//
// They are functions of (guest memory, rax, rcx, rdx): the CPU calls them through guestSnpPort()
// (Cpu.guestSnp, set by GuestMachine.createCpu) when guest code executes the instructions, the
// step-mode runner and the tests call them directly. They return { eax, cf } or throw the exception /
// exit, with no partial effect; the CPU writes EAX and the flags (src/cpu/system.ts).
//
// Named choices ([I], docs/guest.md, each with a test in test/guest/instructions.test.ts):
// - PVALIDATE at VMPL ≠ 0 returns FAIL_PERMISSION (2) without translating (spec/rmp.md §9 item 7;
//   PVALIDATE is VMPL0-only per VeriSMo).
// - A page not owned by the guest (RMP-Covered, Guest-Owned, Reverse-Map or Mutable fails) gives
//   #VMEXIT(NPF) with RMP|FINAL|ENC|P|U, as a C=1 access would.
// - FAIL_INPUT: size > 1, RAX not aligned to the requested size, RMPADJUST target VMPL > 3 or a
//   permission mask with reserved bits 7:5 set.
// - RMPADJUST on a page with Validated = 0 returns FAIL_PERMISSION (2) (VeriSMo: "the page must be
//   validated").
// - The flags: CF as §5.4 says (PVALIDATE: 1 when Validated did not change; RMPADJUST: 0); ZF, SF,
//   PF from EAX, OF = AF = 0 (snpInstructionFlags in src/cpu/system.ts, the one definition).

import { CpuFault, Vector } from '../cpu/fault.ts';
import type { CpuGuestSnpPort, SnpInstructionResult } from '../cpu/rmp-port.ts';
import { RmpStatus } from '../rmp/codes.ts';
import { describeFields } from '../rmp/entry.ts';
import { NpfBits, SvmExit, RmpadjustAttr, SIZE_2M, SIZE_4K } from './constants.ts';
import { VmExitFault, describeExitInfo1 } from './exits.ts';
import type { GuestMemory } from './guest-memory.ts';
import { GuestCheck, GuestCheckFailure, GUEST_CHECK_NAMES } from './rmp-checks.ts';
import { checkOwnership } from './rmp-checks.ts';
import { OWNERSHIP_CHAIN, entryText } from './walk-trace.ts';

// The flag rule lives in the CPU (src/cpu/system.ts), which writes the flags when it executes the
// instructions; re-exported here for the step-mode runner and the tests.
export { snpInstructionFlags, SNP_INSTRUCTION_FLAGS_MASK } from '../cpu/system.ts';
export type { SnpInstructionResult };

const failure = new GuestCheckFailure();

/** #UD outside an SNP-active guest, #GP(0) above CPL 0, #GP(0) for a non-canonical RAX (§5.1 [I]). */
function checkContext(mem: GuestMemory, name: string, rax: bigint): number {
  const ctx = mem.ctx;
  if (!ctx.snpActive) throw new CpuFault(Vector.UD, 0, 0n, `${name} is only valid in an SNP-active guest (#UD)`);
  if (ctx.cpl !== 0) throw new CpuFault(Vector.GP, 0, 0n, `${name} at CPL ${ctx.cpl}: the instruction needs CPL 0 (#GP(0))`);
  const v = rax & 0xffffffffffffffffn;
  const top = v >> 47n;
  if (top !== 0n && top !== 0x1ffffn) {
    throw new CpuFault(Vector.GP, 0, 0n, `${name}: RAX 0x${v.toString(16)} is not a canonical address (#GP(0))`);
  }
  return Number(v & 0xffffffffffffn);
}

function ownershipExit(name: string, check: number, gpa: number, spa: number, extra: bigint): VmExitFault {
  const info = NpfBits.RMP | NpfBits.FINAL | NpfBits.ENC | NpfBits.P | NpfBits.U | extra;
  const entry = failure.entry === null ? 'no RMP entry (above the RMP coverage)' : `RMP entry of pfn 0x${failure.entryPfn.toString(16)}: ${describeFields(failure.entry)}`;
  const what = extra === NpfBits.SIZEM
    ? `a 4K ${name} on a page the RMP holds as one 2M page (Page_Size=1)`
    : `the ${GUEST_CHECK_NAMES[check]} check failed`;
  return new VmExitFault(SvmExit.NPF, info, BigInt(gpa),
    `#VMEXIT(NPF) (EXITINFO1 ${describeExitInfo1(info)}) from ${name} of GPA 0x${gpa.toString(16)} (SPA 0x${spa.toString(16)}): ${what}; ${entry}`,
    { check: GUEST_CHECK_NAMES[check], gpa, spa, entryPfn: failure.entryPfn, entry: failure.entry });
}

/**
 * Translate, then the ownership checks and the size rules shared by both instructions. Returns the
 * effective entry's pfn, or a number < 0 as a FAIL_SIZEMISMATCH marker.
 */
function locate(mem: GuestMemory, name: 'PVALIDATE' | 'RMPADJUST', va: number, size2M: boolean): number {
  const walk = mem.walk;
  const spa = walk.translateForRmpInstruction(va, mem.ctx.cpl);
  const gpa = walk.gpa;
  const check = checkOwnership(mem.rmp, spa, gpa, mem.ctx.asid, failure);
  if (walk.observer !== null) traceOwnership(mem, name, gpa, spa, check, size2M);
  if (check !== GuestCheck.OK) throw ownershipExit(name, check, gpa, spa, 0n);
  if (!size2M && failure.rmpIs2M) throw ownershipExit(name, GuestCheck.PAGE_SIZE, gpa, spa, NpfBits.SIZEM);
  if (size2M && !failure.rmpIs2M) return -1;
  return failure.entryPfn;
}

/** --trace rmp: the instruction's own checks (ownership, then the size rule), as one record. */
function traceOwnership(mem: GuestMemory, name: 'PVALIDATE' | 'RMPADJUST', gpa: number, spa: number, check: number, size2M: boolean): void {
  const obs = mem.walk.observer;
  if (obs === null || obs.rmpCheck === undefined) return;
  const sizeFails = check === GuestCheck.OK && size2M !== failure.rmpIs2M;
  obs.rmpCheck({
    access: name, role: 'final', gpa, spa, cBit: true, asid: mem.ctx.asid, vmpl: mem.ctx.vmpl,
    checkedAs: size2M ? SIZE_2M : SIZE_4K, chain: 'ownership', checks: [...OWNERSHIP_CHAIN], need: null,
    failed: check !== GuestCheck.OK ? GUEST_CHECK_NAMES[check]! : sizeFails ? 'Page-Size' : null,
    entryPfn: failure.entry === null ? null : failure.entryPfn, entry: entryText(failure.entry),
    result: check !== GuestCheck.OK ? 'NPF' : !sizeFails ? 'pass' : size2M ? 'FAIL_SIZEMISMATCH (6)' : 'NPF with SIZEM',
  });
}

function inputProblem(rcx: bigint, va: number): boolean {
  const size = rcx & 0xffffffffn;
  if (size > 1n) return true;
  return va % (size === 1n ? SIZE_2M : SIZE_4K) !== 0;
}

/** PVALIDATE (spec/rmp.md §5.4). */
export function pvalidate(mem: GuestMemory, rax: bigint, rcx: bigint, rdx: bigint): SnpInstructionResult {
  const va = checkContext(mem, 'PVALIDATE', rax);
  if (inputProblem(rcx, va)) return { eax: RmpStatus.FAIL_INPUT, cf: false };
  if (mem.ctx.vmpl !== 0) return { eax: RmpStatus.FAIL_PERMISSION, cf: false };
  const size2M = (rcx & 0xffffffffn) === 1n;
  const pfn = locate(mem, 'PVALIDATE', va, size2M);
  if (pfn < 0) return { eax: RmpStatus.FAIL_SIZEMISMATCH, cf: false };
  const validate = (rdx & 1n) === 1n;
  const e = failure.entry!;
  if (e.validated === validate) return { eax: RmpStatus.SUCCESS, cf: true };
  mem.rmp.setEntry(pfn, { validated: validate });
  // Flush the local vCPU's translations (spec/rmp.md §4: "flushing the local vCPU is a safe choice").
  mem.flushGuestTlb();
  return { eax: RmpStatus.SUCCESS, cf: false };
}

/** RMPADJUST (spec/rmp.md §5.5). */
export function rmpadjust(mem: GuestMemory, rax: bigint, rcx: bigint, rdx: bigint): SnpInstructionResult {
  const va = checkContext(mem, 'RMPADJUST', rax);
  const attrs = Number(rdx & 0x1ffffn);
  const target = attrs & RmpadjustAttr.TARGET_VMPL_MASK;
  const perms = (attrs >> RmpadjustAttr.PERM_SHIFT) & 0xff;
  const vmsa = (attrs & RmpadjustAttr.VMSA) !== 0;
  if (inputProblem(rcx, va) || target > 3 || (perms & 0xe0) !== 0) return { eax: RmpStatus.FAIL_INPUT, cf: false };
  const current = mem.ctx.vmpl;
  if (target <= current) return { eax: RmpStatus.FAIL_PERMISSION, cf: false };
  const size2M = (rcx & 0xffffffffn) === 1n;
  const pfn = locate(mem, 'RMPADJUST', va, size2M);
  if (pfn < 0) return { eax: RmpStatus.FAIL_SIZEMISMATCH, cf: false };
  const e = failure.entry!;
  if (!e.validated) return { eax: RmpStatus.FAIL_PERMISSION, cf: false };
  const own = e.vmpl[current]!;
  if ((perms & ~own) !== 0) return { eax: RmpStatus.FAIL_PERMISSION, cf: false };
  const masks: [number, number, number, number] = [e.vmpl[0], e.vmpl[1], e.vmpl[2], e.vmpl[3]];
  masks[target] = perms;
  // The VMSA bit is honoured only at VMPL0 (MSVC: "ignored when the current VMPL != 0").
  mem.rmp.setEntry(pfn, current === 0 ? { vmpl: masks, vmsa } : { vmpl: masks });
  mem.flushGuestTlb();
  return { eax: RmpStatus.SUCCESS, cf: false };
}

/**
 * The port the CPU calls for PVALIDATE / RMPADJUST in guest code (src/cpu/rmp-port.ts). It reads
 * `mem.ctx` at each call, so it follows a VMPL switch or another VMSA. Install it only for an
 * SNP-active guest: with Cpu.guestSnp null the CPU raises #UD, as hardware does outside one.
 */
export function guestSnpPort(mem: GuestMemory): CpuGuestSnpPort {
  return {
    pvalidate: (rax, rcx, rdx) => pvalidate(mem, rax, rcx, rdx),
    rmpadjust: (rax, rcx, rdx) => rmpadjust(mem, rax, rcx, rdx),
  };
}
