import { describe, expect, it } from 'vitest';
import { guest, identity, region, thrown, PRIVATE_PA, TABLES_GPA } from './fixture.ts';
import { GuestAccess } from '../../src/guest/walk.ts';
import { VmExitFault } from '../../src/guest/exits.ts';
import { C_BIT_MASK, NpfBits, SIZE_2M, SIZE_4K } from '../../src/guest/constants.ts';
import { PTE_BITS } from '../../src/mmu/paging-bits.ts';
import { CpuFault } from '../../src/cpu/fault.ts';

describe('the 2D walk, passing paths', () => {
  it('translates a private 4K page and makes 24 memory references on a cold 4K/4K walk', () => {
    const g = guest();
    g.mem.tlb.enabled = false;
    const before = g.mem.walk.stats.memRefs;
    const spa = g.mem.translate(0x5123, GuestAccess.Read);
    // gva 0x5123 → gpa 0x5123 (identity) → spa PRIVATE_PA + 0x5123.
    expect(spa).toBe(PRIVATE_PA + 0x5123);
    // 4 guest levels × (4 nested + 1 guest entry) + 4 nested for the final GPA = 24.
    expect(g.mem.walk.stats.memRefs - before).toBe(24);
  });

  it('writes and reads back through guest memory, and the TLB serves the second access', () => {
    const g = guest();
    g.mem.write32(0x3000, 0xdeadbeef);
    expect(g.phys.readU32(PRIVATE_PA + 0x3000)).toBe(0xdeadbeef);
    const walks = g.mem.walk.stats.walks;
    expect(g.mem.read32(0x3000)).toBe(0xdeadbeef);
    expect(g.mem.walk.stats.walks).toBe(walks + 1); // the read kind is a separate TLB slot
    g.mem.read32(0x3004);
    expect(g.mem.walk.stats.walks).toBe(walks + 1); // hit
  });

  it('sets the guest A bits on every level and D on the leaf for a write', () => {
    const g = guest();
    g.mem.write8(0x7000, 1);
    const tables = g.tables!;
    const pteSpa = PRIVATE_PA + tables.entryGpaOf(0x7000, 3);
    const pte = g.phys.readU64(pteSpa);
    expect(pte & PTE_BITS.A).toBe(PTE_BITS.A);
    expect(pte & PTE_BITS.D).toBe(PTE_BITS.D);
    const pml4e = g.phys.readU64(PRIVATE_PA + tables.entryGpaOf(0x7000, 0));
    expect(pml4e & PTE_BITS.A).toBe(PTE_BITS.A);
    expect(pml4e & PTE_BITS.D).toBe(0n); // D only on the leaf
  });

  it('with guest paging off, guest linear = guest physical', () => {
    const g = guest({ paging: undefined });
    expect(g.mem.translate(0x1abc, GuestAccess.Write)).toBe(PRIVATE_PA + 0x1abc);
  });
});

describe('nested faults (EXITINFO1 FINAL / PAGE)', () => {
  it('a final GPA with no nested mapping exits NPF with FINAL, U, ENC and EXITINFO2 = GPA', () => {
    const g = guest();
    g.hv.npt.zap(0x9000, SIZE_4K);
    g.mem.tlb.flushAll();
    const e = thrown(() => g.mem.read8(0x9010));
    expect(e).toBeInstanceOf(VmExitFault);
    // not present: P=0; read: W=0; nested accesses are user: U; C=1: ENC; final: FINAL.
    expect(e.exitInfo1).toBe(NpfBits.FINAL | NpfBits.ENC | NpfBits.U);
    expect(e.exitInfo2).toBe(0x9010n);
  });

  it('a guest page-table page with no nested mapping exits NPF with PAGE|W|U|ENC and the table GPA', () => {
    const g = guest();
    const ptGpa = g.tables!.tableGpaOf(0x9000, 3);
    g.hv.npt.zap(ptGpa, SIZE_4K);
    g.mem.tlb.flushAll();
    const e = thrown(() => g.mem.read8(0x9010));
    expect(e).toBeInstanceOf(VmExitFault);
    // Page-table accesses are user writes at the nested level: PAGE|W|U (+ENC, always C=1).
    expect(e.exitInfo1).toBe(NpfBits.PAGE | NpfBits.W | NpfBits.U | NpfBits.ENC);
    // EXITINFO2 = GPA of the PTE that was being read: table + index(0x9)*8.
    expect(e.exitInfo2).toBe(BigInt(ptGpa + 9 * 8));
  });

  it('a write through a read-only nested leaf exits with P|W|U|FINAL|ENC', () => {
    const g = guest();
    g.hv.npt.map(0xa000, PRIVATE_PA + 0xa000, SIZE_4K, 0x5n /* P|US */);
    g.mem.tlb.flushAll();
    const e = thrown(() => g.mem.write8(0xa000, 1));
    expect(e.exitInfo1).toBe(NpfBits.P | NpfBits.W | NpfBits.U | NpfBits.FINAL | NpfBits.ENC);
  });
});

describe('guest #PF', () => {
  it('a not-present guest PTE is a guest #PF with CR2 = gva, not an exit', () => {
    const g = guest({ paging: { maps: identity(0x10000), tablesGpa: TABLES_GPA } });
    const e = thrown(() => g.mem.write8(0x20000, 1));
    expect(e).toBeInstanceOf(CpuFault);
    expect(e).not.toBeInstanceOf(VmExitFault);
    expect(e.vector).toBe(14);
    // The PT for 0x20000 exists (same 2M as 0x0..0x10000) but its PTE is zero: W (bit 1) only.
    expect(e.errorCode).toBe(0x2);
    expect(e.address).toBe(0x20000n);
  });

  it('a user write to a supervisor page gives #PF P|W|U', () => {
    const g = guest();
    g.mem.setCpl(3);
    const e = thrown(() => g.mem.write8(0x3000, 1));
    expect(e.vector).toBe(14);
    expect(e.errorCode).toBe(0x7);
  });

  it('a reserved GPA bit (bit 48) in a guest PTE gives #PF with RSVD', () => {
    const g = guest({ paging: { maps: [{ va: 0x4000, gpa: 0x4000, size: SIZE_4K, flags: PTE_BITS.RW | C_BIT_MASK | (1n << 48n) }, ...identity(0x1000)], tablesGpa: TABLES_GPA } });
    const e = thrown(() => g.mem.read8(0x4000));
    expect(e.errorCode).toBe(0x9); // P|RSVD
  });
});

describe('the TLB is tagged by ASID', () => {
  it('an entry cached for ASID 1 is not used for ASID 2', () => {
    const g = guest();
    g.mem.read8(0x3000);
    const walks = g.mem.walk.stats.walks;
    g.mem.read8(0x3000);
    expect(g.mem.walk.stats.walks).toBe(walks);
    // Same TLB, another guest context with ASID 2 and the same nested root: a miss.
    g.mem.setContext({ ...g.vmsa, asid: 2 });
    g.rmp.setState(PRIVATE_PA + 0x3000, { state: 'guest-valid', asid: 2, gpa: 0x3000 });
    thrown(() => g.mem.read8(0x3000)); // the page tables still belong to ASID 1: NPF Guest-Owned
    expect(g.mem.walk.stats.walks).toBe(walks + 1);
  });
});

void region; void SIZE_2M;
