// PVALIDATE and RMPADJUST executed by the CPU in guest code (Cpu.guestSnp, installed by
// GuestMachine.createCpu): every return code, CF on no change, the SIZEM #VMEXIT(NPF) with RIP at the
// instruction and KVM's resolution, a guest #PF from the translation of RAX, #GP(0) at CPL 3, and
// #UD in a guest that is not SNP-active. Expected values: spec/rmp.md §5.1, §5.4, §5.5 and the
// flag rule of src/cpu/system.ts (snpInstructionFlags), computed by hand in the comments.

import { describe, expect, it } from 'vitest';
import type { Cpu } from '../../src/cpu/cpu.ts';
import { C_BIT_MASK, NpfBits, SIZE_2M, SIZE_4K } from '../../src/guest/constants.ts';
import { VmExitFault } from '../../src/guest/exits.ts';
import type { GuestMachine } from '../../src/guest/guest-machine.ts';
import { PTE_BITS } from '../../src/mmu/paging-bits.ts';
import { assemble } from '../cpu/assemble.ts';
import { guest, identity, region, PRIVATE_PA, TABLES_GPA } from './fixture.ts';

const RAX = 0, RCX = 1, RDX = 2, RBX = 3;
const CODE_GPA = 0x10000;
const pfn = (pa: number): number => pa / SIZE_4K;

// BL := CF after the instruction, so the test sees the flag through a guest instruction too.
const [PV, RA, SIZEM_CODE] = assemble([
  'pvalidate; setc bl; hlt',
  'rmpadjust; setc bl; hlt',
  // mov eax,0x5000 (5 bytes); xor ecx,ecx (2); mov edx,1 (5): PVALIDATE sits at offset 12.
  'mov eax, 0x5000; xor ecx, ecx; mov edx, 1; pvalidate; setc bl; hlt',
]);

/** Write `code` at `gpa` in the guest's backing and return a CPU for the guest with RIP there. */
function load(g: GuestMachine, code: Uint8Array, gpa = CODE_GPA): Cpu {
  g.phys.writeBytes(g.hv.backing(gpa, g.hv.isPrivate(gpa)), code); // the backing the nested table maps
  const cpu = g.createCpu();
  cpu.rip = BigInt(gpa);
  return cpu;
}

/** Run one instruction of the guest with these RAX/RCX/RDX; expect it to reach HLT. */
function exec(cpu: Cpu, rax: bigint, rcx: bigint, rdx: bigint, gpa = CODE_GPA): { eax: bigint; flags: number; bl: bigint } {
  cpu.rip = BigInt(gpa);
  cpu.setReg(RAX, rax);
  cpu.setReg(RCX, rcx);
  cpu.setReg(RDX, rdx);
  cpu.setReg(RBX, 0xffn);
  cpu.rflags = 0x8d7n; // all six status flags set before, so every flag the instruction writes shows
  const r = cpu.run(100);
  if (r.kind !== 'halt') throw new Error(`expected HLT, stopped with ${r.kind}${r.kind === 'fault' ? ` ${r.fault.name} ${r.fault.why}` : ''}`);
  expect(cpu.rip).toBe(BigInt(gpa + 4 + 3 + 1)); // after the 4-byte instruction, SETC BL (3) and HLT (1)
  return { eax: cpu.getReg(RAX), flags: Number(cpu.rflags) & 0x8d5, bl: cpu.getReg(RBX) & 0xffn };
}

/** Guest-Invalid 4K region (the fixture's), with the code page validated so it can be fetched. */
function invalidGuestWithCode(code: Uint8Array): { g: GuestMachine; cpu: Cpu } {
  const g = guest({ regions: [region({ rmpState: 'guest-invalid' })] });
  g.rmp.setEntry(pfn(PRIVATE_PA + CODE_GPA), { validated: true });
  return { g, cpu: load(g, code) };
}

const attrs = (target: number, perms: number): bigint => BigInt(target | (perms << 8));

describe('PVALIDATE in guest code', () => {
  it('returns 0 with CF=0 when it validates, then 0 with CF=1 when nothing changes (§5.4, §7 case 40)', () => {
    const { g, cpu } = invalidGuestWithCode(PV);
    // EAX=0, CF=0: ZF|PF = 0x44; OF, AF, SF cleared from the preset 0x8d5.
    expect(exec(cpu, 0x3000n, 0n, 1n)).toEqual({ eax: 0n, flags: 0x44, bl: 0n });
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x3000)).validated).toBe(true);
    // Again: no change, CF=1: CF|ZF|PF = 0x45.
    expect(exec(cpu, 0x3000n, 0n, 1n)).toEqual({ eax: 0n, flags: 0x45, bl: 1n });
    // Rescind, then the next C=1 load from the page is #VC 0x404 (the CPU sees the new state).
    expect(exec(cpu, 0x3000n, 0n, 0n)).toEqual({ eax: 0n, flags: 0x44, bl: 0n });
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x3000)).validated).toBe(false);
  });

  it('returns 1 FAIL_INPUT for a misaligned RAX or size > 1: CF=0, no flag (1 has odd parity)', () => {
    const { g, cpu } = invalidGuestWithCode(PV);
    expect(exec(cpu, 0x3008n, 0n, 1n)).toEqual({ eax: 1n, flags: 0, bl: 0n });
    expect(exec(cpu, 0x3000n, 2n, 1n)).toEqual({ eax: 1n, flags: 0, bl: 0n });
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x3000)).validated).toBe(false);
  });

  it('returns 2 FAIL_PERMISSION at VMPL 1 [I] (2 = 0b10, odd parity: no flag)', () => {
    const g = guest({ vmpl: 1, regions: [region({ rmpState: 'guest-invalid', vmplPerms: [0x1f, 0x1f, 0, 0] })] });
    g.rmp.setEntry(pfn(PRIVATE_PA + CODE_GPA), { validated: true });
    const cpu = load(g, PV);
    expect(exec(cpu, 0x3000n, 0n, 1n)).toEqual({ eax: 2n, flags: 0, bl: 0n });
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x3000)).validated).toBe(false);
  });

  it('returns 6 FAIL_SIZEMISMATCH for a 2M request on 4K entries (6 = 0b110, even parity: PF) (§7 case 39)', () => {
    const { g, cpu } = invalidGuestWithCode(PV);
    expect(exec(cpu, 0x0n, 1n, 1n)).toEqual({ eax: 6n, flags: 0x04, bl: 0n });
    expect(g.rmp.entry(pfn(PRIVATE_PA)).validated).toBe(false);
  });

  it('a 4K request on a 2M RMP page exits with NPF RMP|SIZEM at the instruction; KVM PSMASHes and the retry succeeds (§7 case 38)', () => {
    // GPA 0..2M: one Guest-Invalid 2M RMP page under a 2M nested leaf; code in a validated 4K region
    // at GPA 0x200000; guest paging off (linear = guest physical).
    const g = guest({
      regions: [
        region({ rmpState: 'guest-invalid', rmpSize: SIZE_2M, hostPageSize: SIZE_2M }),
        region({ gpa: SIZE_2M, size: 0x20000, pa: 0x800000 }),
      ],
      paging: undefined,
    });
    const cpu = load(g, SIZEM_CODE, SIZE_2M);
    cpu.setReg(RBX, 0xffn);
    cpu.rflags = 0x203n;
    const r = cpu.run(100);
    if (r.kind !== 'fault' || !(r.fault instanceof VmExitFault)) throw new Error(`expected #VMEXIT(NPF), stopped with ${r.kind}`);
    const e = r.fault;
    expect(e.exitInfo1).toBe(NpfBits.RMP | NpfBits.SIZEM | NpfBits.FINAL | NpfBits.ENC | NpfBits.P | NpfBits.U);
    expect(e.exitInfo1).toBe(0xd80000005n); // bits 31, 35, 32, 34 and P|U (0x5), as code-case38 pins
    expect(e.exitInfo2).toBe(0x5000n);
    // Precise: the three instructions before retired, RIP names PVALIDATE, RAX/RBX/flags untouched.
    expect(cpu.rip).toBe(BigInt(SIZE_2M + 12));
    expect(cpu.instructions).toBe(3);
    expect(cpu.getReg(RAX)).toBe(0x5000n);
    expect(cpu.getReg(RBX)).toBe(0xffn);
    expect(cpu.rflags).toBe(0x246n); // xor ecx,ecx left ZF|PF (0x44) over the fixed bit and IF (0x202)
    expect(g.rmp.entry(pfn(PRIVATE_PA)).pageSize).toBe(1);
    // The hypervisor model answers every exit (PSMASH + zap, then 4K fault-ins); bounded, never a hang.
    const actions: string[] = [g.hv.npfInterception(e.exitInfo1, Number(e.exitInfo2)).kind];
    let stop = cpu.run(100);
    for (let i = 0; i < 16 && stop.kind === 'fault' && stop.fault instanceof VmExitFault; i++) {
      actions.push(g.hv.npfInterception(stop.fault.exitInfo1, Number(stop.fault.exitInfo2)).kind);
      stop = cpu.run(100);
    }
    expect(stop.kind).toBe('halt');
    expect(actions.every((a) => a === 'resume')).toBe(true);
    expect(g.hv.log.some((a) => a.action === 'psmash')).toBe(true);
    // Retried from the same RIP: EAX=0, CF=0 (BL=0); the 4K entry at GPA 0x5000 is now Validated.
    expect(cpu.getReg(RAX)).toBe(0n);
    expect(cpu.getReg(RBX)).toBe(0n);
    expect(cpu.rip).toBe(BigInt(SIZE_2M + 12 + 4 + 3 + 1));
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x5000))).toMatchObject({ validated: true, pageSize: 0 });
    expect(g.rmp.entry(pfn(PRIVATE_PA)).validated).toBe(false);
  });

  it('an unmapped RAX is a guest #PF at the instruction with CR2 = RAX', () => {
    const { cpu } = invalidGuestWithCode(PV);
    cpu.setReg(RAX, 0x40000000n);
    cpu.setReg(RCX, 0n);
    cpu.setReg(RDX, 1n);
    const r = cpu.run(100);
    expect(r.kind === 'fault' && r.fault.vector).toBe(14);
    expect(cpu.rip).toBe(BigInt(CODE_GPA));
    expect(cpu.cr2).toBe(0x40000000n);
    expect(cpu.getReg(RAX)).toBe(0x40000000n);
  });
});

describe('RMPADJUST in guest code', () => {
  it('returns 0 when VMPL0 grants VMPL1 R|W; CF=0', () => {
    const g = guest();
    const cpu = load(g, RA);
    expect(exec(cpu, 0x3000n, 0n, attrs(1, 0x03))).toEqual({ eax: 0n, flags: 0x44, bl: 0n });
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x3000)).vmpl).toEqual([0x1f, 0x03, 0, 0]);
  });

  it('returns 1 FAIL_INPUT for target VMPL 4, 2 FAIL_PERMISSION for target VMPL 0 at VMPL 0, 6 for 2M on 4K', () => {
    const g = guest();
    const cpu = load(g, RA);
    expect(exec(cpu, 0x3000n, 0n, attrs(4, 0x01))).toEqual({ eax: 1n, flags: 0, bl: 0n });
    expect(exec(cpu, 0x3000n, 0n, attrs(0, 0x01))).toEqual({ eax: 2n, flags: 0, bl: 0n });
    expect(exec(cpu, 0x0n, 1n, attrs(1, 0x01))).toEqual({ eax: 6n, flags: 0x04, bl: 0n });
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x3000)).vmpl).toEqual([0x1f, 0, 0, 0]);
  });
});

describe('privilege and context', () => {
  it('CPL 3 is #GP(0) at the instruction, nothing changes (spec/rmp.md §5.1)', () => {
    const g = guest({ regions: [region({ rmpState: 'guest-invalid' })], paging: { maps: identity(0x100000, PTE_BITS.RW | PTE_BITS.US | C_BIT_MASK), tablesGpa: TABLES_GPA } });
    g.rmp.setEntry(pfn(PRIVATE_PA + CODE_GPA), { validated: true });
    for (const [code, rdx] of [[PV, 1n], [RA, attrs(1, 0x01)]] as const) {
      const cpu = load(g, code);
      cpu.cpl = 3;
      cpu.setReg(RAX, 0x3000n);
      cpu.setReg(RDX, rdx);
      const r = cpu.run(100);
      expect(r.kind === 'fault' && [r.fault.vector, r.fault.errorCode]).toEqual([13, 0]);
      expect(cpu.rip).toBe(BigInt(CODE_GPA));
      expect(cpu.getReg(RAX)).toBe(0x3000n);
    }
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x3000))).toMatchObject({ validated: false, vmpl: [0x1f, 0, 0, 0] });
  });

  it('a guest that is not SNP-active gets no port: both are #UD at the instruction', () => {
    // Its memory is shared: the page tables and the code sit in the shared backing the nested table
    // maps (auto-placed apart from `pa`), so reaching the #UD also shows they were found there.
    const g = guest({ snpActive: false, regions: [region({ private: false, rmpState: 'hypervisor' })], paging: { maps: identity(0x100000, PTE_BITS.RW), tablesGpa: TABLES_GPA } });
    expect(g.hv.npt.lookup(CODE_GPA)!.spa).toBe(g.hv.backing(CODE_GPA, false));
    expect(g.hv.backing(CODE_GPA, false)).not.toBe(g.hv.backing(CODE_GPA, true));
    for (const code of [PV, RA]) {
      const cpu = load(g, code);
      expect(cpu.guestSnp).toBeNull();
      cpu.setReg(RAX, 0x3000n);
      const r = cpu.run(100);
      expect(r.kind === 'fault' && r.fault.vector).toBe(6);
      expect(cpu.rip).toBe(BigInt(CODE_GPA));
    }
  });

  it('an SNP-active guest CPU starts from the VMSA (CR0/CR3/CR4/EFER, CPL) with the port set', () => {
    const g = guest();
    g.vmsa.cpl = 0;
    const cr3 = g.vmsa.cr3;
    const cpu = g.createCpu();
    expect(cpu.guestSnp).not.toBeNull();
    expect(cpu.cr3).toBe(BigInt(cr3));
    expect(g.vmsa.cr3).toBe(cr3);
    expect(cpu.cr0 & 0x80000000n).toBe(0x80000000n);
  });
});
