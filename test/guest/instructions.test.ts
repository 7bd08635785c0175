// PVALIDATE and RMPADJUST (spec/rmp.md §5.1, §5.4, §5.5): every return code, the CF rule, the size
// rules, and each named [I] choice of src/guest/instructions.ts.
import { describe, expect, it } from 'vitest';
import { guest, region, thrown, PRIVATE_PA } from './fixture.ts';
import { pvalidate, rmpadjust, snpInstructionFlags } from '../../src/guest/instructions.ts';
import { VmExitFault } from '../../src/guest/exits.ts';
import { NpfBits, SIZE_2M, SIZE_4K } from '../../src/guest/constants.ts';

const pfn = (pa: number): number => pa / SIZE_4K;
const invalidGuest = () => guest({ regions: [region({ rmpState: 'guest-invalid' })] });
// Guest paging off here: a 2M RMP page cannot hold validated page tables next to unvalidated data.
const invalid2M = () => guest({ regions: [region({ rmpState: 'guest-invalid', rmpSize: SIZE_2M, hostPageSize: SIZE_2M })], paging: undefined });

describe('PVALIDATE', () => {
  it('validates a Guest-Invalid 4K page: EAX=0, CF=0, Validated=1', () => {
    const g = invalidGuest();
    expect(pvalidate(g.mem, 0x3000n, 0n, 1n)).toEqual({ eax: 0, cf: false });
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x3000)).validated).toBe(true);
  });

  it('to the state the page already has: EAX=0, CF=1, no change (§7 case 40)', () => {
    const g = invalidGuest();
    pvalidate(g.mem, 0x3000n, 0n, 1n);
    expect(pvalidate(g.mem, 0x3000n, 0n, 1n)).toEqual({ eax: 0, cf: true });
    // Rescinding a page that is not validated is "no change" too.
    expect(pvalidate(g.mem, 0x4000n, 0n, 0n)).toEqual({ eax: 0, cf: true });
  });

  it('rescinds validation: Validated=0, and the next C=1 access takes #VC', () => {
    const g = guest();
    g.mem.read8(0x3000);
    expect(pvalidate(g.mem, 0x3000n, 0n, 0n)).toEqual({ eax: 0, cf: false });
    expect(thrown(() => g.mem.read8(0x3000)).vector).toBe(29);
  });

  it('a 2M request on 4K RMP entries: EAX=6 FAIL_SIZEMISMATCH, no exit, no change (§7 case 39)', () => {
    const g = invalidGuest();
    expect(pvalidate(g.mem, 0x0n, 1n, 1n)).toEqual({ eax: 6, cf: false });
    expect(g.rmp.entry(pfn(PRIVATE_PA)).validated).toBe(false);
  });

  it('a 4K request on a 2M RMP page: #VMEXIT(NPF) with RMP|SIZEM, EXITINFO2 = GPA (§7 case 38)', () => {
    const g = invalid2M();
    const e = thrown(() => pvalidate(g.mem, 0x5000n, 0n, 1n));
    expect(e).toBeInstanceOf(VmExitFault);
    expect(e.exitInfo1).toBe(NpfBits.RMP | NpfBits.SIZEM | NpfBits.FINAL | NpfBits.ENC | NpfBits.P | NpfBits.U);
    expect(e.exitInfo2).toBe(0x5000n);
    expect(g.rmp.entry(pfn(PRIVATE_PA)).validated).toBe(false);
  });

  it('a 2M request on a 2M RMP page validates the 2M entry', () => {
    const g = invalid2M();
    expect(pvalidate(g.mem, 0x0n, 1n, 1n)).toEqual({ eax: 0, cf: false });
    const e = g.rmp.entry(pfn(PRIVATE_PA));
    expect(e.validated).toBe(true);
    expect(e.pageSize).toBe(1);
  });

  it('after npf_interception PSMASHes and zaps, the retried 4K request succeeds (KVM resolution of case 38)', () => {
    const g = invalid2M();
    const first = thrown(() => pvalidate(g.mem, 0x5000n, 0n, 1n));
    const logStart = g.hv.log.length;
    expect(g.hv.npfInterception(first.exitInfo1, Number(first.exitInfo2))).toEqual({ kind: 'resume' });
    expect(g.hv.log.slice(logStart).map((a) => a.action)).toEqual(['spurious', 'psmash', 'zap']);
    expect(g.rmp.entry(pfn(PRIVATE_PA)).pageSize).toBe(0);
    // The retry finds the nested mapping zapped: a not-present NPF, which KVM answers by mapping 4K.
    const second = thrown(() => pvalidate(g.mem, 0x5000n, 0n, 1n));
    expect(second.exitInfo1 & NpfBits.P).toBe(0n);
    g.hv.npfInterception(second.exitInfo1, Number(second.exitInfo2));
    expect(g.hv.npt.lookup(0x5000)!.size).toBe(SIZE_4K);
    expect(pvalidate(g.mem, 0x5000n, 0n, 1n)).toEqual({ eax: 0, cf: false });
  });

  it('FAIL_INPUT (1): size > 1, or RAX not aligned to the requested size', () => {
    const g = invalidGuest();
    expect(pvalidate(g.mem, 0x3000n, 2n, 1n).eax).toBe(1);
    expect(pvalidate(g.mem, 0x3008n, 0n, 1n).eax).toBe(1);
    expect(pvalidate(g.mem, 0x1000n, 1n, 1n).eax).toBe(1);
  });

  it('[I] at VMPL 1: FAIL_PERMISSION (2), nothing changes', () => {
    const g = invalidGuest();
    g.vmsa.vmpl = 1;
    expect(pvalidate(g.mem, 0x3000n, 0n, 1n)).toEqual({ eax: 2, cf: false });
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x3000)).validated).toBe(false);
  });

  it('[I] a page the guest does not own: #VMEXIT(NPF) RMP (Guest-Owned)', () => {
    const g = invalidGuest();
    g.rmp.setState(PRIVATE_PA + 0x3000, { state: 'hypervisor' });
    const e = thrown(() => pvalidate(g.mem, 0x3000n, 0n, 1n));
    expect(e.exitInfo1).toBe(NpfBits.RMP | NpfBits.FINAL | NpfBits.ENC | NpfBits.P | NpfBits.U);
    expect(e.detail.check).toBe('Guest-Owned');
  });

  it('#UD outside an SNP-active guest, #GP(0) at CPL 3 or with a non-canonical RAX', () => {
    const g = invalidGuest();
    g.mem.setCpl(3);
    expect(thrown(() => pvalidate(g.mem, 0x3000n, 0n, 1n)).vector).toBe(13);
    g.mem.setCpl(0);
    expect(thrown(() => pvalidate(g.mem, 0x0000800000000000n, 0n, 1n)).vector).toBe(13);
    g.vmsa.snpActive = false;
    expect(thrown(() => pvalidate(g.mem, 0x3000n, 0n, 1n)).vector).toBe(6);
  });

  it('an unmapped RAX gives a guest #PF (CR2 = RAX)', () => {
    const g = invalidGuest();
    const e = thrown(() => pvalidate(g.mem, 0x40000000n, 0n, 1n));
    expect(e.vector).toBe(14);
    expect(e.address).toBe(0x40000000n);
  });

  it('flags: ZF/PF from EAX, CF from the result, OF=AF=SF=0', () => {
    // EAX=0, CF=1: CF|PF|ZF = 0x1|0x4|0x40 (0 has even parity).
    expect(snpInstructionFlags({ eax: 0, cf: true })).toBe(0x45);
    // EAX=6 = 0b110: two bits set → even parity → PF; not zero → no ZF.
    expect(snpInstructionFlags({ eax: 6, cf: false })).toBe(0x4);
    // EAX=1: odd parity → no PF.
    expect(snpInstructionFlags({ eax: 1, cf: false })).toBe(0);
  });
});

describe('RMPADJUST', () => {
  const attrs = (target: number, perms: number, vmsa = false) => BigInt(target | (perms << 8) | (vmsa ? 1 << 16 : 0));

  it('VMPL0 grants VMPL1 R|W: EAX=0 and the VMPL1 mask is set', () => {
    const g = guest();
    expect(rmpadjust(g.mem, 0x3000n, 0n, attrs(1, 0x03))).toEqual({ eax: 0, cf: false });
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x3000)).vmpl).toEqual([0x1f, 0x03, 0, 0]);
  });

  it('FAIL_PERMISSION (2) from VMPL1 targeting VMPL0 or VMPL1 (§7 case 41)', () => {
    const g = guest({ vmpl: 1, regions: [region({ vmplPerms: [0x1f, 0x1f, 0, 0] })] });
    expect(rmpadjust(g.mem, 0x3000n, 0n, attrs(0, 0x01)).eax).toBe(2);
    expect(rmpadjust(g.mem, 0x3000n, 0n, attrs(1, 0x01)).eax).toBe(2);
    expect(rmpadjust(g.mem, 0x3000n, 0n, attrs(2, 0x01)).eax).toBe(0);
  });

  it('FAIL_PERMISSION (2) when granting a permission the current VMPL lacks (§7 case 41)', () => {
    const g = guest({ vmpl: 1, regions: [region({ vmplPerms: [0x1f, 0x1f, 0, 0] })] });
    g.rmp.setEntry(pfn(PRIVATE_PA + 0x3000), { vmpl: [0x1f, 0x03, 0, 0] });
    expect(rmpadjust(g.mem, 0x3000n, 0n, attrs(2, 0x07)).eax).toBe(2);
    expect(rmpadjust(g.mem, 0x3000n, 0n, attrs(2, 0x01)).eax).toBe(0);
  });

  it('the VMSA bit is honoured at VMPL0 and ignored at VMPL1', () => {
    const g = guest({ regions: [region({ vmplPerms: [0x1f, 0x1f, 0, 0] })] });
    expect(rmpadjust(g.mem, 0x3000n, 0n, attrs(1, 0x01, true)).eax).toBe(0);
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x3000)).vmsa).toBe(true);
    g.vmsa.vmpl = 1;
    expect(rmpadjust(g.mem, 0x4000n, 0n, attrs(2, 0x01, true)).eax).toBe(0);
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x4000)).vmsa).toBe(false);
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x4000)).vmpl[2]).toBe(0x01);
  });

  it('size rules as PVALIDATE: 2M on 4K → 6; 4K on 2M → NPF SIZEM', () => {
    const g = guest();
    expect(rmpadjust(g.mem, 0x0n, 1n, attrs(1, 0x01)).eax).toBe(6);
    const h = guest({ regions: [region({ rmpSize: SIZE_2M, hostPageSize: SIZE_2M })], paging: undefined });
    const e = thrown(() => rmpadjust(h.mem, 0x5000n, 0n, attrs(1, 0x01)));
    expect(e.exitInfo1 & NpfBits.SIZEM).toBe(NpfBits.SIZEM);
    expect(rmpadjust(h.mem, 0x0n, 1n, attrs(1, 0x01)).eax).toBe(0);
    expect(h.rmp.entry(pfn(PRIVATE_PA)).vmpl[1]).toBe(0x01);
  });

  it('FAIL_INPUT (1): size > 1, misaligned RAX, target VMPL > 3, reserved permission bits', () => {
    const g = guest();
    expect(rmpadjust(g.mem, 0x3000n, 2n, attrs(1, 1)).eax).toBe(1);
    expect(rmpadjust(g.mem, 0x3001n, 0n, attrs(1, 1)).eax).toBe(1);
    expect(rmpadjust(g.mem, 0x3000n, 0n, attrs(4, 1)).eax).toBe(1);
    expect(rmpadjust(g.mem, 0x3000n, 0n, attrs(1, 0x20)).eax).toBe(1);
  });

  it('[I] FAIL_PERMISSION (2) on a page that is not validated', () => {
    const g = invalidGuest();
    expect(rmpadjust(g.mem, 0x3000n, 0n, attrs(1, 1)).eax).toBe(2);
  });

  it('a revoked permission takes effect on the next access of the lower VMPL (local TLB flushed)', () => {
    const g = guest({ regions: [region({ vmplPerms: [0x1f, 0x1f, 0, 0] })], paging: undefined });
    g.vmsa.vmpl = 1;
    g.mem.write8(0x3000, 1);
    g.vmsa.vmpl = 0;
    expect(rmpadjust(g.mem, 0x3000n, 0n, attrs(1, 0x01)).eax).toBe(0);
    g.vmsa.vmpl = 1;
    expect(thrown(() => g.mem.write8(0x3000, 2)).exitInfo1 & NpfBits.VMPL).toBe(NpfBits.VMPL);
  });
});
