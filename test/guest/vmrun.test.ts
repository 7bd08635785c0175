// VMRUN/#VMEXIT RMP checks (spec/rmp.md §3.3).
import { describe, expect, it } from 'vitest';
import { guest } from './fixture.ts';
import { vmrun, vmexit } from '../../src/guest/vmrun.ts';
import { encodeRmpState } from '../../src/rmp/entry.ts';

const VMSA_PA = 0x1000000;
const VMCB_PA = 0x1001000;

describe('VMRUN checks', () => {
  it('an SNP-active guest\'s VMSA needs RMP.VMSA = 1: without it VMEXIT_INVALID (-1)', () => {
    const g = guest();
    g.rmp.setState(VMSA_PA, { state: 'guest-valid', asid: 1, gpa: 0x1f000 });
    const r = vmrun(g.rmp, { asid: 1, snpActive: true, vmsaPa: VMSA_PA });
    expect(r).toMatchObject({ ok: false, kind: 'vmexit-invalid', exitCode: -1 });
  });

  it('with RMP.VMSA = 1 it runs, and the VMSA is in use until #VMEXIT (RMPUPDATE → FAIL_INUSE)', () => {
    const g = guest();
    g.rmp.setState(VMSA_PA, { state: 'guest-valid', asid: 1, gpa: 0x1f000, vmsa: true });
    expect(vmrun(g.rmp, { asid: 1, snpActive: true, vmsaPa: VMSA_PA, vmcbPa: VMCB_PA })).toEqual({ ok: true });
    const toShared = encodeRmpState({ gpa: 0, assigned: false, pageSize: 0, immutable: false, asid: 0 });
    expect(g.rmp.rmpupdate(VMSA_PA, toShared)).toBe(3); // FAIL_INUSE
    expect(g.rmp.inUseMark(VMCB_PA / 4096)).toEqual({ kind: 'vmcb', snpGuest: true });
    vmexit(g.rmp, { asid: 1, snpActive: true, vmsaPa: VMSA_PA, vmcbPa: VMCB_PA });
    expect(g.rmp.inUseMark(VMCB_PA / 4096)).toBeUndefined();
    expect(g.rmp.rmpupdate(VMSA_PA, toShared)).toBe(0);
  });

  it('the VMSA must be owned by the guest\'s ASID, mutable, and (when given) at its GPA', () => {
    const g = guest();
    g.rmp.setState(VMSA_PA, { state: 'guest-valid', asid: 2, gpa: 0x1f000, vmsa: true });
    expect(vmrun(g.rmp, { asid: 1, snpActive: true, vmsaPa: VMSA_PA })).toMatchObject({ kind: 'vmexit-invalid' });
    g.rmp.setState(VMSA_PA, { state: 'pre-guest', asid: 1, gpa: 0x1f000, vmsa: true });
    expect(vmrun(g.rmp, { asid: 1, snpActive: true, vmsaPa: VMSA_PA })).toMatchObject({ kind: 'vmexit-invalid' });
    g.rmp.setState(VMSA_PA, { state: 'guest-valid', asid: 1, gpa: 0x1f000, vmsa: true });
    expect(vmrun(g.rmp, { asid: 1, snpActive: true, vmsaPa: VMSA_PA, vmsaGpa: 0x2f000 })).toMatchObject({ kind: 'vmexit-invalid' });
    expect(vmrun(g.rmp, { asid: 1, snpActive: true, vmsaPa: VMSA_PA, vmsaGpa: 0x1f000 })).toEqual({ ok: true });
  });

  it('a non-SNP guest\'s VMSA must be hypervisor-owned; a VMCB that is not gives #GP(0)', () => {
    const g = guest();
    g.rmp.setState(VMSA_PA, { state: 'guest-valid', asid: 1, gpa: 0x1f000 });
    expect(vmrun(g.rmp, { asid: 1, snpActive: false, vmsaPa: VMSA_PA })).toMatchObject({ kind: 'vmexit-invalid' });
    g.rmp.setState(VMCB_PA, { state: 'firmware' });
    expect(vmrun(g.rmp, { asid: 1, snpActive: false, vmcbPa: VMCB_PA })).toMatchObject({ kind: 'gp' });
  });
});
