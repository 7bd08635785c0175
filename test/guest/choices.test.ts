// The named [I] choices of the guest model (docs/guest.md, "Choices"), one test each where the
// other test files do not already pin them.
import { describe, expect, it } from 'vitest';
import { guest, region, thrown, PRIVATE_PA, TABLES_GPA } from './fixture.ts';
import { C_BIT, C_BIT_MASK, NpfBits, SIZE_4K } from '../../src/guest/constants.ts';
import { C_BIT_POSITION } from '../../src/cpu/cpuid.ts';
import { PTE_BITS } from '../../src/mmu/paging-bits.ts';
import { VmExitFault } from '../../src/guest/exits.ts';

const pfn = (pa: number): number => pa / SIZE_4K;

describe('named choices', () => {
  it('the C-bit is bit 51, as the CPU\'s CPUID Fn8000_001F_EBX[5:0] reports', () => {
    expect(C_BIT).toBe(51);
    expect(C_BIT_POSITION).toBe(C_BIT);
    expect(C_BIT_MASK).toBe(1n << 51n);
  });

  it('[I] a guest page-table access needs R and W in the current VMPL\'s mask (it is a write-type access)', () => {
    const g = guest({ vmpl: 1, regions: [region({ vmplPerms: [0x1f, 0x1f, 0, 0] })] });
    const ptGpa = g.tables!.tableGpaOf(0x3000, 3);
    g.rmp.setEntry(pfn(PRIVATE_PA + ptGpa), { vmpl: [0x1f, 0x01, 0, 0] }); // VMPL1: read only
    const e = thrown(() => g.mem.read8(0x3000));
    expect(e).toBeInstanceOf(VmExitFault);
    expect(e.exitInfo1).toBe(NpfBits.RMP | NpfBits.VMPL | NpfBits.PAGE | NpfBits.ENC | NpfBits.P | NpfBits.W | NpfBits.U);
  });

  it('[I] no A/D bit is written when the final access then fails its RMP check', () => {
    const g = guest();
    g.rmp.setState(PRIVATE_PA + 0x3000, { state: 'hypervisor' });
    thrown(() => g.mem.write8(0x3000, 1));
    const pte = g.phys.readU64(PRIVATE_PA + g.tables!.entryGpaOf(0x3000, 3));
    expect(pte & (PTE_BITS.A | PTE_BITS.D)).toBe(0n);
    const nestedLeaf = g.hv.npt.lookup(0x3000)!;
    expect(nestedLeaf.entry & (PTE_BITS.A | PTE_BITS.D)).toBe(0n);
  });

  it('[I] nested A/D: the nested leaf of a guest page-table page gets A and D (page-table accesses are writes)', () => {
    const g = guest();
    g.mem.read8(0x3000);
    const ptGpa = g.tables!.tableGpaOf(0x3000, 3);
    expect(g.hv.npt.lookup(ptGpa)!.entry & (PTE_BITS.A | PTE_BITS.D)).toBe(PTE_BITS.A | PTE_BITS.D);
    // The data page was only read: A without D.
    expect(g.hv.npt.lookup(0x3000)!.entry & (PTE_BITS.A | PTE_BITS.D)).toBe(PTE_BITS.A);
  });

  it('[A] with guest paging off every access is private (C=1): a shared frame fails Guest-Owned with ENC', () => {
    const g = guest({ paging: undefined });
    g.rmp.setState(PRIVATE_PA + 0x3000, { state: 'hypervisor' });
    const e = thrown(() => g.mem.read8(0x3000));
    expect(e.exitInfo1 & NpfBits.ENC).toBe(NpfBits.ENC);
    expect(e.detail.check).toBe('Guest-Owned');
  });

  it('[I] the guest page tables of a Guest-Invalid region are launched Validated (SNP_LAUNCH_UPDATE)', () => {
    const g = guest({ regions: [region({ rmpState: 'guest-invalid' })] });
    expect(g.rmp.entry(pfn(PRIVATE_PA + TABLES_GPA)).validated).toBe(true);
    expect(g.rmp.entry(pfn(PRIVATE_PA + 0x3000)).validated).toBe(false);
  });

  it('an instruction fetch is always C=1, even through a C=0 guest mapping', () => {
    const g = guest({ paging: { maps: [{ va: 0x3000, gpa: 0x3000, size: SIZE_4K, flags: PTE_BITS.RW }], tablesGpa: TABLES_GPA } });
    g.rmp.setState(PRIVATE_PA + 0x3000, { state: 'guest-invalid', asid: 1, gpa: 0x3000 });
    // A C=0 read is unchecked, but the fetch runs the C=1 chain and meets Validated=0.
    expect(g.mem.read8(0x3000)).toBe(0);
    expect(thrown(() => g.mem.fetch8(0x3000)).vector).toBe(29);
  });
});

describe('guest memory contract', () => {
  it('a write straddling two pages whose second page faults changes nothing', () => {
    const g = guest();
    g.rmp.setState(PRIVATE_PA + 0x4000, { state: 'hypervisor' });
    thrown(() => g.mem.write32(0x3ffe, 0xaabbccdd));
    expect(g.phys.readU32(PRIVATE_PA + 0x3ffc)).toBe(0);
  });

  it('a cross-page read assembles bytes from both pages', () => {
    const g = guest();
    g.phys.writeU32(PRIVATE_PA + 0x3ffe, 0x2211, 2);
    g.phys.writeU32(PRIVATE_PA + 0x4000, 0x4433, 2);
    expect(g.mem.read32(0x3ffe)).toBe(0x44332211);
  });

  it('a nested zap drops the cached translations of the guest (KVM flushes after kvm_zap_gfn_range)', () => {
    const g = guest();
    g.mem.read8(0x3000);
    g.hv.npt.zap(0x3000, SIZE_4K);
    g.hv.onNestedChange();
    expect(thrown(() => g.mem.read8(0x3000))).toBeInstanceOf(VmExitFault);
  });
});
