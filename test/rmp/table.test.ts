// MSRs, placement, coverage and enabling (spec/rmp.md §1.1, §1.2).
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/mem/physical.ts';
import { RmpTable } from '../../src/rmp/table.ts';
import { Msr, Syscfg } from '../../src/rmp/codes.ts';
import { Access } from '../../src/mmu/linear-memory.ts';
import { TableAccess } from '../../src/rmp/host-check.ts';
import { makeRmp, MIB, PAGE } from './setup.ts';

function fresh(mem = 64 * MIB): RmpTable {
  return new RmpTable(new PhysicalMemory(mem));
}

describe('RMP MSRs (spec/rmp.md §1.1)', () => {
  it('reads back RMP_BASE and RMP_END and accepts 8 KB alignment', () => {
    const t = fresh();
    expect(t.writeMsr(Msr.RMP_BASE, 0x3f00000n)).toBeNull();
    expect(t.writeMsr(Msr.RMP_END, 0x3ffffffn)).toBeNull();
    expect(t.readMsr(Msr.RMP_BASE)).toBe(0x3f00000n);
    expect(t.readMsr(Msr.RMP_END)).toBe(0x3ffffffn);
  });

  it('#GP for RMP_BASE not 8 KB-aligned and RMP_END+1 not 8 KB-aligned', () => {
    const t = fresh();
    expect(t.writeMsr(Msr.RMP_BASE, 0x3f01000n)).toMatch(/not 8 KB-aligned/);
    expect(t.writeMsr(Msr.RMP_END, 0x3ffefffn)).toMatch(/RMP_END\+1 = 0x3fff000 is not 8 KB-aligned/);
    expect(t.writeMsr(Msr.RMP_BASE, 1n << 52n)).toMatch(/bits above 51/);
    expect(t.readMsr(Msr.RMP_BASE)).toBe(0n);
  });

  it('coverage = (RMP_END+1 - RMP_BASE - 16 KB) / 16 pages: base 0x100000 covering 4 GB needs RMP_END 0x1103fff', () => {
    // §1.2 example: 4 GB / 4 KB = 0x100000 pages × 16 = 0x1000000 bytes + 0x4000 → end = 0x100000 + 0x1004000 - 1.
    const t = fresh(32 * MIB);
    t.writeMsr(Msr.RMP_BASE, 0x100000n);
    t.writeMsr(Msr.RMP_END, 0x1103fffn);
    expect(t.coveredPages).toBe(0x100000);
    expect(t.coveredBytes).toBe(4 * 1024 * MIB);
  });

  it('SNP_EN needs a table; once set, SYSCFG writes are ignored and RMP_BASE/END writes #GP', () => {
    const t = fresh();
    expect(t.writeMsr(Msr.SYSCFG, Syscfg.SNP_EN)).toMatch(/no room for entries/);
    expect(t.enabled).toBe(false);
    t.writeMsr(Msr.RMP_BASE, 0x3f00000n);
    t.writeMsr(Msr.RMP_END, 0x3ffffffn);
    expect(t.writeMsr(Msr.SYSCFG, Syscfg.SNP_EN | Syscfg.MFDM)).toBeNull();
    expect(t.enabled).toBe(true);
    // §1.1: after SNP_EN = 1, SYSCFG writes are ignored (no #GP, no change).
    expect(t.writeMsr(Msr.SYSCFG, 0n)).toBeNull();
    expect(t.readMsr(Msr.SYSCFG)).toBe(Syscfg.SNP_EN | Syscfg.MFDM);
    expect(t.enabled).toBe(true);
    expect(t.writeMsr(Msr.RMP_BASE, 0x2000000n)).toMatch(/cannot change/);
  });

  it('says which MSRs it owns and refuses others', () => {
    const t = fresh();
    expect(t.handlesMsr(0xc0010010)).toBe(true);
    expect(t.handlesMsr(0xc0000080)).toBe(false);
    expect(() => t.readMsr(0xc0000080)).toThrow(/not an RMP MSR/);
  });
});

describe('placement and enabling', () => {
  it('default placement for 64 MiB: 16384 entries + 16 KiB rounded to 1 MiB, at the top: 0x3f00000-0x3ffffff', () => {
    expect(RmpTable.defaultPlacement(64 * MIB)).toEqual({ base: 0x3f00000, end: 0x3ffffff });
  });

  it('default placement for 3 GiB: 786432 entries = 12 MiB + 16 KiB → 13 MiB below 3 GiB', () => {
    const p = RmpTable.defaultPlacement(3 * 1024 * MIB);
    expect(p).toEqual({ base: 3 * 1024 * MIB - 13 * MIB, end: 3 * 1024 * MIB - 1 });
  });

  it('configure rejects a table outside RAM and a table with no room for entries', () => {
    const t = fresh();
    expect(() => t.configure({ base: 0x4000000, end: 0x40fffff })).toThrow(/must lie in RAM/);
    expect(() => t.configure({ base: 0x100000, end: 0x103fff })).toThrow(/no room/);
    expect(() => t.configure({ base: 0x101000, end: 0x1fffff })).toThrow(/8 KB-aligned/);
  });

  it('enable zeroes the whole RMP range as Linux does, so every page is hypervisor-owned', () => {
    const t = fresh();
    t.configure({ base: 0x3f00000, end: 0x3ffffff });
    t.phys.writeU32(t.entryAddress(0x12), 0x1); // stale Assigned=1 left in memory
    t.phys.writeU32(0x3f00000, 0xdead); // bookkeeping area too
    t.enable();
    expect(t.entry(0x12).assigned).toBe(false);
    expect(t.phys.readU32(0x3f00000)).toBe(0);
    expect(t.readMsr(Msr.SYSCFG) & (Syscfg.SNP_EN | Syscfg.MFDM)).toBe(Syscfg.SNP_EN | Syscfg.MFDM);
  });

  it('enable with snpInit makes the RMP pages Firmware, so a host write to the table faults', () => {
    const t = fresh();
    t.configure({ base: 0x3f00000, end: 0x3ffffff });
    t.enable({ snpInit: true });
    expect(t.entry(0x3f00).assigned && t.entry(0x3f00).immutable && t.entry(0x3f00).lock).toBe(true);
    expect(t.checkHost(0x3f00000, Access.Write, PAGE, TableAccess.None)?.check).toBe('Hypervisor-Owned');
    // Coverage 0xfc00 pages > RAM's 0x4000 frames: covered pages beyond RAM become HV-Fixed.
    expect(t.entry(0x4000).immutable && !t.entry(0x4000).assigned).toBe(true);
  });

  it('entries live at RMP_BASE + 0x4000 + 16*pfn', () => {
    const t = makeRmp();
    t.setState(0x5000, { state: 'guest-valid', asid: 1, gpa: 0x1000 });
    // 0x3f00000 + 0x4000 + 16*5 = 0x3f04050
    expect(t.entryAddress(5)).toBe(0x3f04050);
    expect(t.phys.readU32(0x3f04050) & 1).toBe(1);
  });

  it('reserves the 2 MB blocks that hold the table (Linux __snp_fixup_e820_tables)', () => {
    const t = makeRmp();
    expect(t.reservedRange()).toEqual({ start: 0x3e00000, end: 0x4000000 });
  });

  it('entry() of an uncovered pfn throws a clear error', () => {
    const t = makeRmp();
    expect(() => t.entry(0xfc00)).toThrow(/has no RMP entry/);
  });
});

describe('onChange listeners (§4: RMP changes must drop cached translations)', () => {
  it('hear enabling, direct entry changes, in-use marks and busy injections; unsubscribe works', () => {
    const t = fresh();
    t.configure({ base: 0x3f00000, end: 0x3ffffff });
    const seen: [number, number][] = [];
    const off = t.onChange((spa, bytes) => seen.push([spa, bytes]));
    t.enable();
    t.setState(0x7000, { state: 'reclaim' });
    t.setState(0x400000, { state: 'guest-valid', asid: 1, size: '2M' });
    t.setEntry(8, { immutable: true });
    t.setInUse(9, { kind: 'vmcb', snpGuest: false });
    t.injectBusy(10, { accesses: 1 });
    expect(seen).toEqual([
      [0, 0xfc00000], // SNP_EN: every covered page's check changes
      [0x7000, PAGE],
      [0x400000, 0x200000],
      [0x8000, PAGE],
      [0x9000, PAGE],
      [0xa000, PAGE],
    ]);
    off();
    t.setState(0x7000, { state: 'hypervisor' });
    expect(seen.length).toBe(6);
  });
});

describe('the subpage count the 2M host check trusts [I]', () => {
  it('raw bytes written behind the table\'s back are invisible to the 2M check until recountSubpages', () => {
    const t = makeRmp();
    // Assigned=1 written straight into pfn 0x205's entry, bypassing writeEntry.
    t.phys.writeU32(t.entryAddress(0x205), 1);
    expect(t.checkHost(0x201000, Access.Write, 0x200000, TableAccess.None)).toBeNull();
    expect(t.checkHost(0x205000, Access.Write, PAGE, TableAccess.None)).not.toBeNull();
    expect(t.recountSubpages(0x205)).toBe(1);
    expect(t.checkHost(0x201000, Access.Write, 0x200000, TableAccess.None)?.pfn).toBe(0x205);
  });

  it('setRawEntry keeps the hardware-maintained count whatever the raw value says', () => {
    const t = makeRmp();
    // The AMD firmware example lo=0x8000000000000ffd carries count 511; here no other entry is assigned.
    t.setRawEntry(0x200, 0x8000000000000ffdn, 0xfn);
    expect(t.rawEntry(0x200)).toEqual({ lo: 0x8000000000000005n, hi: 0xfn });
  });
});
