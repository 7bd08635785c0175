// Guest RMP checks (spec/rmp.md §3.1, §3.2, §3.4): each check of the C=1 chain, its priority, the
// C=0 rules, the non-SNP rules, and the EXITINFO1 bits each produces.
import { describe, expect, it } from 'vitest';
import { guest, identity, region, thrown, PRIVATE_PA, TABLES_GPA } from './fixture.ts';
import { VmExitFault } from '../../src/guest/exits.ts';
import { C_BIT_MASK, NpfBits, SIZE_2M, SIZE_4K } from '../../src/guest/constants.ts';
import { PTE_BITS } from '../../src/mmu/paging-bits.ts';
import { GuestAccess } from '../../src/guest/walk.ts';

const RMP_FINAL_ENC = NpfBits.RMP | NpfBits.FINAL | NpfBits.ENC | NpfBits.P | NpfBits.U;
const pfn = (pa: number): number => pa / SIZE_4K;

function check(e: any): string {
  return e.detail?.check;
}

describe('C=1 chain for an SNP-active guest, in priority order', () => {
  it('all checks pass on a Guest-Valid page owned at the right GPA', () => {
    const g = guest();
    expect(g.mem.read32(0x3000)).toBe(0);
  });

  it('RMP-Covered: a frame above the RMP coverage → NPF RMP (ENC, FINAL)', () => {
    const g = guest();
    // Point GPA 0x3000 at 512 MiB: the default 1 MiB table covers (1 MiB - 16 KiB) / 16 pages = 252 MiB.
    g.hv.remap(0x3000, 0x20000000, SIZE_4K);
    expect(g.rmp.isCovered(0x20000000 / SIZE_4K)).toBe(false);
    const e = thrown(() => g.mem.read8(0x3000));
    expect(e).toBeInstanceOf(VmExitFault);
    expect(check(e)).toBe('RMP-Covered');
    expect(e.exitInfo1).toBe(RMP_FINAL_ENC);
    expect(e.exitInfo2).toBe(0x3000n);
  });

  it('Guest-Owned: a hypervisor (A=0) page → NPF RMP, and the write bit follows the access (§7 case 33)', () => {
    const g = guest();
    g.rmp.setState(PRIVATE_PA + 0x3000, { state: 'hypervisor' });
    const e = thrown(() => g.mem.write8(0x3008, 1));
    expect(check(e)).toBe('Guest-Owned');
    expect(e.exitInfo1).toBe(RMP_FINAL_ENC | NpfBits.W);
    expect(e.exitInfo2).toBe(0x3008n);
  });

  it('Guest-Owned: a page assigned to another ASID', () => {
    const g = guest();
    g.rmp.setState(PRIVATE_PA + 0x3000, { state: 'guest-valid', asid: 7, gpa: 0x3000 });
    expect(check(thrown(() => g.mem.read8(0x3000)))).toBe('Guest-Owned');
  });

  it('Reverse-Map: the frame is assigned at another GPA (§7 case 43)', () => {
    const g = guest();
    g.rmp.setState(PRIVATE_PA + 0x3000, { state: 'guest-valid', asid: 1, gpa: 0x5000 });
    const e = thrown(() => g.mem.read8(0x3000));
    expect(check(e)).toBe('Reverse-Map');
    expect(e.exitInfo1).toBe(RMP_FINAL_ENC);
  });

  it('Mutable: a Pre-Guest (Immutable) page', () => {
    const g = guest();
    g.rmp.setState(PRIVATE_PA + 0x3000, { state: 'pre-guest', asid: 1, gpa: 0x3000 });
    expect(check(thrown(() => g.mem.read8(0x3000)))).toBe('Mutable');
  });

  it('Page-Size: a 4K nested mapping over a 2M RMP page (§7 case 36)', () => {
    const g = guest({ regions: [region({ rmpSize: SIZE_2M })] });
    const e = thrown(() => g.mem.read8(0x3000));
    expect(check(e)).toBe('Page-Size');
    expect(e.exitInfo1 & NpfBits.RMP).toBe(NpfBits.RMP);
  });

  it('Page-Size: a 2M nested mapping over 4K RMP entries (§7 case 37)', () => {
    const g = guest({ regions: [region({ hostPageSize: SIZE_2M })], hv: { capAtRmpLevel: false } });
    expect(g.hv.npt.lookup(0x3000)!.size).toBe(SIZE_2M);
    expect(check(thrown(() => g.mem.read8(0x3000)))).toBe('Page-Size');
  });

  it('a 2M nested mapping over a 2M RMP page passes', () => {
    const g = guest({ regions: [region({ hostPageSize: SIZE_2M, rmpSize: SIZE_2M })] });
    expect(g.hv.npt.lookup(0x3000)!.size).toBe(SIZE_2M);
    expect(g.mem.read8(0x3000)).toBe(0);
  });

  it('Validated: Validated=0 → #VC 0x404 with CR2 = the guest VA (§7 case 32)', () => {
    const g = guest({ paging: { maps: [{ va: 0x7fff0000, gpa: 0x3000, size: SIZE_4K, flags: PTE_BITS.RW | C_BIT_MASK }], tablesGpa: TABLES_GPA } });
    g.rmp.setState(PRIVATE_PA + 0x3000, { state: 'guest-invalid', asid: 1, gpa: 0x3000 });
    const e = thrown(() => g.mem.read8(0x7fff0010));
    expect(e).not.toBeInstanceOf(VmExitFault);
    expect(e.vector).toBe(29);
    expect(e.errorCode).toBe(0x404);
    expect(e.address).toBe(0x7fff0010n);
  });

  it('priority: Page-Size (NPF) wins over Validated (#VC) (§3.2 "Priority" example)', () => {
    const g = guest({ regions: [region({ rmpSize: SIZE_2M, rmpState: 'guest-invalid' })], paging: undefined });
    const e = thrown(() => g.mem.read8(0x3000));
    expect(e).toBeInstanceOf(VmExitFault);
    expect(check(e)).toBe('Page-Size');
  });

  it('priority: Validated (#VC) wins over VMPL (NPF)', () => {
    const g = guest({ vmpl: 1, paging: undefined });
    g.rmp.setState(PRIVATE_PA + 0x3000, { state: 'guest-invalid', asid: 1, gpa: 0x3000 });
    // VMPL1 has no permission at all (RMPUPDATE leaves VMPL1..3 = 0), and the page is not validated.
    const e = thrown(() => g.mem.read8(0x3000));
    expect(e.vector).toBe(29);
  });

  it('VMPL: VMPL1 writes a page whose VMPL1 mask lacks W → NPF RMP|VMPL (§7 case 42)', () => {
    const g = guest({ vmpl: 1, paging: undefined, regions: [region({ vmplPerms: [0x1f, 0x0f, 0, 0] })] });
    g.rmp.setEntry(pfn(PRIVATE_PA + 0x3000), { vmpl: [0x1f, 0x01, 0, 0] }); // R only
    expect(g.mem.read8(0x3000)).toBe(0);
    const e = thrown(() => g.mem.write8(0x3000, 1));
    expect(check(e)).toBe('VMPL');
    expect(e.exitInfo1).toBe(RMP_FINAL_ENC | NpfBits.W | NpfBits.VMPL);
  });

  it('VMPL: a fetch needs Execute-Supervisor at CPL0 and Execute-User at CPL3', () => {
    const g = guest({ vmpl: 1, paging: undefined, regions: [region({ vmplPerms: [0x1f, 0x07, 0, 0] })] });
    // 0x07 = R|W|XU: a CPL0 fetch lacks XS.
    const e = thrown(() => g.mem.translate(0x3000, GuestAccess.Fetch));
    expect(check(e)).toBe('VMPL');
    expect(e.exitInfo1).toBe(RMP_FINAL_ENC | NpfBits.ID | NpfBits.VMPL);
    g.mem.setCpl(3);
    expect(g.mem.translate(0x3000, GuestAccess.Fetch)).toBe(PRIVATE_PA + 0x3000);
  });

  it('VMPL: a Write-without-Read mask fails even a write', () => {
    const g = guest({ vmpl: 1, paging: undefined, regions: [region({ vmplPerms: [0x1f, 0x1f, 0, 0] })] });
    g.rmp.setEntry(pfn(PRIVATE_PA + 0x3000), { vmpl: [0x1f, 0x02, 0, 0] });
    expect(check(thrown(() => g.mem.write8(0x3000, 1)))).toBe('VMPL');
  });
});

describe('C=0 accesses of an SNP-active guest', () => {
  const sharedMap = (flags: bigint) => ({ maps: [{ va: 0x3000, gpa: 0x3000, size: SIZE_4K, flags }, ...identity(0x1000)], tablesGpa: TABLES_GPA });

  it('a C=0 read of an assigned page is not checked: it returns the stored bytes (§7 case 35)', () => {
    const g = guest({ paging: sharedMap(PTE_BITS.RW) });
    g.phys.write8(PRIVATE_PA + 0x3000, 0xab);
    expect(g.mem.read8(0x3000)).toBe(0xab);
  });

  it('a C=0 write to an assigned page → NPF RMP, ENC=0 (§7 case 34)', () => {
    const g = guest({ paging: sharedMap(PTE_BITS.RW) });
    const e = thrown(() => g.mem.write8(0x3000, 1));
    expect(check(e)).toBe('Hypervisor-Owned');
    expect(e.exitInfo1).toBe(NpfBits.RMP | NpfBits.FINAL | NpfBits.P | NpfBits.W | NpfBits.U);
  });

  it('a C=0 write via a 2M nested mapping needs all 512 entries unassigned', () => {
    // A shared region (C=0 leaf) backed by a 2M-aligned shared frame block, mapped by a 2M nested leaf.
    const h = guest({
      regions: [region({ hostPageSize: SIZE_2M, rmpState: 'hypervisor', private: false, pa: 0x400000, sharedPa: 0x800000 }),
        region({ gpa: SIZE_2M, pa: 0xc00000, size: SIZE_2M })],
      paging: { maps: [{ va: 0x3000, gpa: 0x3000, size: SIZE_4K, flags: PTE_BITS.RW }, ...identity(0x1000).map((m) => ({ ...m, gpa: m.gpa + SIZE_2M }))], tablesGpa: 2 * SIZE_2M - 16 * SIZE_4K },
    });
    expect(h.hv.npt.lookup(0x3000)!.size).toBe(SIZE_2M);
    h.mem.write8(0x3000, 1); // all 512 shared-backing entries unassigned: passes
    // Assign one other frame of the shared backing's 2M region to a guest: the write now fails.
    h.rmp.setState(0x800000 + 0x1ff000, { state: 'guest-valid', asid: 9, gpa: 0 });
    const e = thrown(() => h.mem.write8(0x3000, 2));
    expect(check(e)).toBe('Hypervisor-Owned');
    expect(e.detail.entryPfn).toBe(pfn(0x800000 + 0x1ff000));
  });
});

describe('non-SNP guest (legacy/SEV with SNP_EN on)', () => {
  it('a write to an assigned page → NPF RMP; reads and fetches are unchecked (§7 case 44)', () => {
    const g = guest({ snpActive: false, regions: [region({ rmpState: 'hypervisor', private: false, pa: 0x400000, sharedPa: 0x400000 })] });
    g.rmp.setState(0x400000 + 0x3000, { state: 'guest-valid', asid: 5, gpa: 0x3000 });
    expect(g.mem.read8(0x3000)).toBe(0);
    expect(g.mem.translate(0x3000, GuestAccess.Fetch)).toBe(0x403000);
    const e = thrown(() => g.mem.write8(0x3000, 1));
    expect(check(e)).toBe('Hypervisor-Owned');
    expect(e.exitInfo1).toBe(NpfBits.RMP | NpfBits.FINAL | NpfBits.P | NpfBits.W | NpfBits.U);
  });

  it('its page-table accesses are checked Hypervisor-Owned too (PAGE)', () => {
    const g = guest({ snpActive: false, regions: [region({ rmpState: 'hypervisor', private: false, pa: 0x400000, sharedPa: 0x400000 })] });
    const ptGpa = g.tables!.tableGpaOf(0x3000, 3);
    g.rmp.setState(0x400000 + ptGpa, { state: 'guest-valid', asid: 5, gpa: ptGpa });
    const e = thrown(() => g.mem.read8(0x3000));
    expect(check(e)).toBe('Hypervisor-Owned');
    expect(e.exitInfo1).toBe(NpfBits.RMP | NpfBits.PAGE | NpfBits.P | NpfBits.W | NpfBits.U);
  });
});

describe('guest page-table accesses are always C=1', () => {
  it('a page-table page that is not the guest\'s → NPF RMP|PAGE|ENC even for a C=0 data access', () => {
    const g = guest({ paging: { maps: [{ va: 0x3000, gpa: 0x3000, size: SIZE_4K, flags: PTE_BITS.RW }], tablesGpa: TABLES_GPA } });
    const ptGpa = g.tables!.tableGpaOf(0x3000, 3);
    g.rmp.setState(PRIVATE_PA + ptGpa, { state: 'hypervisor' });
    const e = thrown(() => g.mem.read8(0x3000));
    expect(check(e)).toBe('Guest-Owned');
    expect(e.exitInfo1).toBe(NpfBits.RMP | NpfBits.PAGE | NpfBits.ENC | NpfBits.P | NpfBits.W | NpfBits.U);
    expect(e.exitInfo2).toBe(BigInt(ptGpa + 3 * 8));
  });

  it('an unvalidated page-table page → #VC 0x404 with CR2 = the address being translated [I]', () => {
    const g = guest();
    const ptGpa = g.tables!.tableGpaOf(0x3000, 3);
    g.rmp.setState(PRIVATE_PA + ptGpa, { state: 'guest-invalid', asid: 1, gpa: ptGpa });
    const e = thrown(() => g.mem.read8(0x3456));
    expect(e.vector).toBe(29);
    expect(e.address).toBe(0x3456n);
  });
});

describe('RMP changes and the TLB', () => {
  it('a passing translation is cached, and an RMP change drops it', () => {
    const g = guest();
    g.mem.read8(0x3000);
    g.rmp.setState(PRIVATE_PA + 0x3000, { state: 'hypervisor' });
    expect(check(thrown(() => g.mem.read8(0x3000)))).toBe('Guest-Owned');
  });
});
