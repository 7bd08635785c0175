// The walk: translations for 4K/2M/1G pages, A/D bits, error codes and their priority, reserved
// bits at every level, page-crossing accesses. Expected values come from the Intel SDM Vol.3A
// §4.5-4.8 and AMD APM Vol.2 §5.3-5.6, §8.4.2 (cited per case), or the conformance scenarios.

import { describe, expect, it } from 'vitest';
import { Access } from '../../src/mmu/linear-memory.ts';
import { PfErr } from '../../src/cpu/fault.ts';
import {
  A, D, G, NX, P, PS, RW, SIZE_1G, SIZE_2M, SIZE_4K, US, enablePaging, faultOf, newMachine,
} from './helpers.ts';

describe('translation', () => {
  it('maps 4K, 2M and 1G pages to frame + offset', () => {
    const { mmu, tables } = newMachine(2 * SIZE_1G);
    tables.map(0x10000, 0x30000, SIZE_4K, P | RW);
    tables.map(0x40200000, 0x800000, SIZE_2M, P | RW); // 2M page at 0x40200000 -> 0x800000
    tables.map(0x8000000000, SIZE_1G, SIZE_1G, P | RW); // PML4 index 1, 1G page -> 0x40000000
    enablePaging(mmu);
    expect(mmu.translate(0x10123, Access.Read)).toBe(0x30123);
    // 2M: offset is bits 20:0 of the linear address (0x40200000 + 0x12345 -> 0x800000 + 0x12345).
    expect(mmu.translate(0x40212345, Access.Read)).toBe(0x812345);
    // 1G: offset is bits 29:0 (0x8000000000 + 0x3abcdef0 -> 0x40000000 + 0x3abcdef0).
    expect(mmu.translate(0x803abcdef0, Access.Read)).toBe(0x7abcdef0);
  });

  it('reads and writes every width through the TLB, little-endian', () => {
    const { mmu, tables, phys } = newMachine();
    tables.map(0x10000, 0x30000, SIZE_4K, P | RW);
    enablePaging(mmu);
    mmu.write64(0x10008, 0x44332211, 0x88776655);
    expect([...phys.readBytes(0x30008, 8)]).toEqual([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    expect(mmu.read8(0x10008)).toBe(0x11);
    expect(mmu.read16(0x10009)).toBe(0x3322);
    expect(mmu.read32(0x1000a)).toBe(0x66554433);
    expect(mmu.read64(0x10008)).toBe(0x44332211);
    expect(mmu.high32).toBe(0x88776655);
    mmu.write8(0x10000, 0x1ff); // only the low byte lands
    mmu.write16(0x10002, 0xbeef);
    mmu.write32(0x10004, 0xcafef00d);
    expect(mmu.read64(0x10000)).toBe(0xbeef00ff);
    expect(mmu.high32).toBe(0xcafef00d);
  });

  it('sets A in every entry used and D in the leaf on a write (conformance mmu-10)', () => {
    // Same tables as mmu-10-accessed-dirty-bits.json: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000.
    const { mmu, phys } = newMachine();
    phys.writeU64(0x1000, 0x2007n);
    phys.writeU64(0x2000, 0x3007n);
    phys.writeU64(0x3000, 0x4007n);
    phys.writeU64(0x4080, 0x10001n); // VA 0x10000 -> 0x10000, P
    phys.writeU64(0x4088, 0x11003n); // VA 0x11000 -> 0x11000, P|RW
    phys.writeU64(0x4090, 0x12003n); // VA 0x12000 -> 0x12000, P|RW
    enablePaging(mmu);
    mmu.translate(0x10000, Access.Fetch);
    mmu.write32(0x11000, 0x01020304);
    expect(mmu.read32(0x12000)).toBe(0);
    expect(phys.readU64(0x1000)).toBe(0x2027n);
    expect(phys.readU64(0x2000)).toBe(0x3027n);
    expect(phys.readU64(0x3000)).toBe(0x4027n);
    expect(phys.readU64(0x4080)).toBe(0x10021n); // A only
    expect(phys.readU64(0x4088)).toBe(0x11063n); // A|D
    expect(phys.readU64(0x4090)).toBe(0x12023n); // A only
  });

  it('sets D in a 2M and a 1G leaf, never in an upper entry', () => {
    const { mmu, phys, tables } = newMachine(2 * SIZE_1G);
    const pde = tables.map(0x200000, 0x400000, SIZE_2M, P | RW);
    const pdpte = tables.map(0x8000000000, SIZE_1G, SIZE_1G, P | RW);
    enablePaging(mmu);
    mmu.write8(0x200010, 1);
    mmu.write8(0x8000000010, 1);
    expect(phys.readU64(pde)).toBe(0x400000n | P | RW | PS | A | D);
    expect(phys.readU64(pdpte)).toBe(BigInt(SIZE_1G) | P | RW | PS | A | D);
    expect(phys.readU64(0x1000)).toBe(0x2000n | P | RW | US | A); // PML4E: A, no D
  });
});

describe('#PF error codes (the conformance MMU scenarios at the MMU level)', () => {
  function setup(flags: bigint) {
    const m = newMachine();
    m.tables.map(0x11000, 0x11000, SIZE_4K, flags);
    enablePaging(m.mmu, { smep: true, smap: true, nxe: true });
    return m;
  }

  it('mmu-01: CPL3 read of a supervisor page is P|U = 0x5, CR2 = the address', () => {
    const { mmu } = setup(P | RW);
    mmu.setCpl(3);
    const f = faultOf(() => mmu.read32(0x11000));
    expect([f.vector, f.errorCode, f.address, f.rmp]).toEqual([14, 0x5, 0x11000n, false]);
    expect(f.why).toMatch(/PTE at 0x\w+ .* has U\/S=0/);
  });

  it('mmu-02: CPL3 write to a read-only user page is P|W|U = 0x7 and writes nothing', () => {
    const { mmu, phys } = setup(P | US);
    phys.writeU32(0x11000, 0xefbeadde, 4);
    mmu.setCpl(3);
    expect(faultOf(() => mmu.write32(0x11000, 1)).errorCode).toBe(0x7);
    expect(phys.readU32(0x11000, 4)).toBe(0xefbeadde);
  });

  it('mmu-03: CPL3 fetch from an NX page with NXE=1 is P|U|I = 0x15', () => {
    const { mmu } = setup(P | US | NX);
    mmu.setCpl(3);
    const f = faultOf(() => mmu.translate(0x11000, Access.Fetch));
    expect(f.errorCode).toBe(0x15);
    expect(f.why).toMatch(/NX=1/);
  });

  it('mmu-04: a not-present PDE gives U = 0x4 (P=0)', () => {
    const { mmu } = setup(P | US);
    mmu.setCpl(3);
    const f = faultOf(() => mmu.read32(0x200010));
    expect([f.errorCode, f.address]).toEqual([0x4, 0x200010n]);
    expect(f.why).toMatch(/PDE at 0x\w+ \(index 1\).*not present/);
  });

  it('mmu-05: reserved bit 13 in a 2M PDE gives P|U|RSVD = 0xd', () => {
    const { mmu, phys } = newMachine();
    // The raw entries of mmu-05-reserved-bit-2m-pde.json.
    phys.writeU64(0x1000, 0x2007n);
    phys.writeU64(0x2000, 0x3007n);
    phys.writeU64(0x3000, 0x4007n);
    phys.writeU64(0x3008, 0x202087n);
    enablePaging(mmu, { smep: true, smap: true });
    mmu.setCpl(3);
    const f = faultOf(() => mmu.read32(0x200010));
    expect(f.errorCode).toBe(0xd);
    expect(f.why).toMatch(/bits 20:13 = 0x2000: a 2M page frame must be 2M-aligned/);
  });

  it('mmu-06: CPL0 write to a read-only supervisor page with WP=0 succeeds', () => {
    const { mmu, phys, tables } = newMachine();
    tables.map(0x11000, 0x11000, SIZE_4K, P);
    enablePaging(mmu, { wp: false });
    mmu.write32(0x11000, 0x55667788);
    expect(phys.readU32(0x11000, 4)).toBe(0x55667788);
  });

  it('CPL0 write to a read-only supervisor page with WP=1 is P|W = 0x3', () => {
    const { mmu, tables } = newMachine();
    tables.map(0x11000, 0x11000, SIZE_4K, P);
    enablePaging(mmu, { wp: true });
    const f = faultOf(() => mmu.write32(0x11000, 1));
    expect(f.errorCode).toBe(0x3);
    expect(f.why).toMatch(/CR0.WP=1.*R\/W=0/);
  });

  it('mmu-07: SMEP: CPL0 fetch from a user page is P|I = 0x11', () => {
    const { mmu } = setup(P | US);
    expect(faultOf(() => mmu.translate(0x11000, Access.Fetch)).errorCode).toBe(0x11);
  });

  it('mmu-08/09: SMAP blocks a CPL0 read of a user page when AC=0 (0x1), not when AC=1', () => {
    const { mmu, phys } = setup(P | RW | US);
    phys.writeU32(0x11000, 0xcafef00d, 4);
    const f = faultOf(() => mmu.read32(0x11000));
    expect(f.errorCode).toBe(0x1);
    expect(f.why).toMatch(/SMAP=1 and RFLAGS.AC=0/);
    mmu.setAlignmentCheck(true);
    expect(mmu.read32(0x11000)).toBe(0xcafef00d);
  });

  it('implicit supervisor accesses: SMAP applies even with AC=1, and U=0 at CPL3', () => {
    const { mmu } = setup(P | RW | US);
    mmu.setCpl(3);
    mmu.setAlignmentCheck(true);
    expect(mmu.read32(0x11000)).toBe(0); // explicit user read: fine
    mmu.setImplicitSupervisor(true);
    const f = faultOf(() => mmu.read32(0x11000));
    expect(f.errorCode).toBe(0x1); // P, and U=0: an implicit supervisor access
    expect(f.why).toMatch(/implicit supervisor/);
    mmu.setImplicitSupervisor(false);
    expect(mmu.read32(0x11000)).toBe(0);
  });

  it('I/D is reported for a fetch only when NXE or SMEP is on (Intel SDM Vol.3A §4.7)', () => {
    const { mmu } = newMachine();
    enablePaging(mmu, { nxe: false, smep: false });
    expect(faultOf(() => mmu.translate(0x5000, Access.Fetch)).errorCode).toBe(0x0);
    enablePaging(mmu, { nxe: true, smep: false });
    expect(faultOf(() => mmu.translate(0x5000, Access.Fetch)).errorCode).toBe(0x10);
    enablePaging(mmu, { nxe: false, smep: true });
    expect(faultOf(() => mmu.translate(0x5000, Access.Fetch)).errorCode).toBe(0x10);
  });

  it('CR2 is sign-extended for an upper-half address', () => {
    const { mmu } = newMachine();
    enablePaging(mmu);
    const f = faultOf(() => mmu.read8(0xffff80001000 ));
    expect(f.address).toBe(0xffffffff80001000n);
  });
});

describe('page-crossing accesses', () => {
  it('mmu-11: an 8-byte store whose second page is not present writes nothing; CR2 = 0x12000', () => {
    const { mmu, phys, tables } = newMachine();
    tables.map(0x11000, 0x11000, SIZE_4K, P | RW | US);
    enablePaging(mmu);
    phys.writeBytes(0x11ff8, [0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
    mmu.setCpl(3);
    const f = faultOf(() => mmu.write64(0x11ffc, 0x55667788, 0x11223344));
    expect([f.errorCode, f.address]).toEqual([0x6, 0x12000n]);
    expect([...phys.readBytes(0x11ff8, 8)]).toEqual([0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
  });

  it('a store crossing into a read-only page writes nothing (protection on the second page)', () => {
    const { mmu, phys, tables } = newMachine();
    tables.map(0x11000, 0x21000, SIZE_4K, P | RW);
    tables.map(0x12000, 0x22000, SIZE_4K, P);
    enablePaging(mmu);
    const f = faultOf(() => mmu.write32(0x11ffe, 0xffffffff));
    expect([f.errorCode, f.address]).toEqual([0x3, 0x12000n]);
    expect(phys.readU32(0x21ffe, 2)).toBe(0);
    expect(phys.readU32(0x22000, 2)).toBe(0);
  });

  it('reads and writes that cross pages put each byte on its own frame', () => {
    const { mmu, phys, tables } = newMachine();
    tables.map(0x11000, 0x25000, SIZE_4K, P | RW); // deliberately not contiguous
    tables.map(0x12000, 0x21000, SIZE_4K, P | RW);
    enablePaging(mmu);
    mmu.write64(0x11ffd, 0x44332211, 0x88776655);
    expect([...phys.readBytes(0x25ffd, 3)]).toEqual([0x11, 0x22, 0x33]);
    expect([...phys.readBytes(0x21000, 5)]).toEqual([0x44, 0x55, 0x66, 0x77, 0x88]);
    expect(mmu.read64(0x11ffd)).toBe(0x44332211);
    expect(mmu.high32).toBe(0x88776655);
    expect(mmu.read16(0x11fff)).toBe(0x4433);
    expect(mmu.read32(0x11ffe)).toBe(0x55443322);
  });

  it('probe checks every page of a range and faults on the first bad one', () => {
    const { mmu, tables } = newMachine();
    tables.map(0x11000, 0x21000, SIZE_4K, P | RW);
    tables.map(0x12000, 0x22000, SIZE_4K, P | RW);
    enablePaging(mmu);
    mmu.probe(0x11800, 0x1000, Access.Write);
    expect(faultOf(() => mmu.probe(0x11800, 0x2000, Access.Write)).address).toBe(0x13000n);
  });
});

describe('reserved bits at every level (MAXPHYADDR 48; AMD APM Vol.2 §5.4.1; Intel SDM Vol.3A tables 4-14..4-20)', () => {
  // Each case: map VA 0x40201000 (PML4 0, PDPT 1, PD 1, PT 1) as 4K, then OR `bits` into the entry
  // at `level`; `size` chooses the leaf. Expect P|RSVD = 0x9 for a supervisor read.
  type Case = { name: string; level: number; size: number; bits: bigint; nxe?: boolean; reserved: boolean };
  const cases: Case[] = [];
  for (const [level, size] of [[4, SIZE_4K], [3, SIZE_4K], [3, SIZE_1G], [2, SIZE_4K], [2, SIZE_2M], [1, SIZE_4K]] as const) {
    const tag = `level ${level}${level === 3 && size === SIZE_1G ? ' (1G leaf)' : level === 2 && size === SIZE_2M ? ' (2M leaf)' : ''}`;
    for (const bit of [48n, 49n, 50n, 51n]) cases.push({ name: `${tag}: bit ${bit} (above MAXPHYADDR)`, level, size, bits: 1n << bit, reserved: true });
    cases.push({ name: `${tag}: bit 63 with NXE=0`, level, size, bits: NX, nxe: false, reserved: true });
    cases.push({ name: `${tag}: bit 63 with NXE=1 is NX, not reserved`, level, size, bits: NX, nxe: true, reserved: false });
    cases.push({ name: `${tag}: bit 52 (available) is ignored`, level, size, bits: 1n << 52n, reserved: false });
    cases.push({ name: `${tag}: bit 62 (available) is ignored`, level, size, bits: 1n << 62n, reserved: false });
  }
  cases.push({ name: 'PML4E bit 7 (PS)', level: 4, size: SIZE_4K, bits: PS, reserved: true });
  cases.push({ name: 'PML4E bit 8 (AMD)', level: 4, size: SIZE_4K, bits: G, reserved: true });
  cases.push({ name: 'non-leaf PDPTE bit 8 (AMD)', level: 3, size: SIZE_4K, bits: G, reserved: true });
  cases.push({ name: 'non-leaf PDE bit 8 is ignored', level: 2, size: SIZE_4K, bits: G, reserved: false });
  cases.push({ name: 'PTE bit 7 (PAT) is not reserved', level: 1, size: SIZE_4K, bits: PS, reserved: false });
  cases.push({ name: 'PTE bit 8 (G) is not reserved', level: 1, size: SIZE_4K, bits: G, reserved: false });
  for (const bit of [13n, 16n, 20n]) cases.push({ name: `2M PDE bit ${bit}`, level: 2, size: SIZE_2M, bits: 1n << bit, reserved: true });
  cases.push({ name: '2M PDE bit 12 (PAT) is not reserved', level: 2, size: SIZE_2M, bits: 1n << 12n, reserved: false });
  cases.push({ name: '2M PDE bit 21 is a frame bit, not reserved', level: 2, size: SIZE_2M, bits: 1n << 21n, reserved: false });
  for (const bit of [13n, 20n, 29n]) cases.push({ name: `1G PDPTE bit ${bit}`, level: 3, size: SIZE_1G, bits: 1n << bit, reserved: true });
  cases.push({ name: '1G PDPTE bit 12 (PAT) is not reserved', level: 3, size: SIZE_1G, bits: 1n << 12n, reserved: false });
  cases.push({ name: '1G PDPTE bit 31 is a frame bit, not reserved', level: 3, size: SIZE_1G, bits: 1n << 31n, reserved: false });

  for (const c of cases) {
    it(c.name, () => {
      const { mmu, phys, tables } = newMachine(4 * SIZE_1G);
      const va = c.size === SIZE_1G ? 0x40000000 : c.size === SIZE_2M ? 0x40200000 : 0x40201000;
      const frame = c.size === SIZE_1G ? SIZE_1G : c.size === SIZE_2M ? 0x400000 : 0x30000;
      tables.map(va, frame, c.size, P | RW);
      const leafLevel = c.size === SIZE_1G ? 3 : c.size === SIZE_2M ? 2 : 1;
      const e = tables.entryAddress(va, c.level);
      expect(c.level).toBeGreaterThanOrEqual(leafLevel);
      phys.writeU64(e, phys.readU64(e) | c.bits);
      enablePaging(mmu, { nxe: c.nxe ?? true });
      const pa = mmu.tryTranslate(va + 8, Access.Read);
      if (c.reserved) {
        expect(pa).toBe(-1);
        expect(mmu.lastErrorCode).toBe(PfErr.P | PfErr.RSVD);
        const f = mmu.lastFault();
        expect(f.why).toMatch(/reserved bits set/);
        expect((f.detail as { walk: { fault: { level: number } } }).walk.fault.level).toBe(c.level);
      } else {
        // Not reserved: the translation succeeds (NX does not block a read) at frame + offset,
        // where a set frame bit moves the frame.
        const moved = c.level === leafLevel && c.bits < (1n << 48n) && c.bits >= 1n << BigInt(Math.log2(c.size)) ? Number(c.bits) : 0;
        expect(pa).toBe(frame + moved + 8);
      }
    });
  }

  it('priority: a reserved bit in an upper entry beats a not-present lower entry', () => {
    const { mmu, phys, tables } = newMachine();
    tables.entryAddress(0x40201000, 1); // builds PML4E, PDPTE, PDE; the PTE stays 0 (not present)
    const pdpte = tables.entryAddress(0x40201000, 3);
    phys.writeU64(pdpte, phys.readU64(pdpte) | (1n << 50n));
    enablePaging(mmu);
    expect(mmu.tryTranslate(0x40201000, Access.Write)).toBe(-1);
    expect(mmu.lastErrorCode).toBe(PfErr.P | PfErr.W | PfErr.RSVD);
  });

  it('priority: a reserved bit beats a protection violation, not-present beats both', () => {
    const { mmu, phys, tables } = newMachine();
    const pte = tables.map(0x40201000, 0x30000, SIZE_4K, P, P); // supervisor, read-only everywhere
    phys.writeU64(pte, phys.readU64(pte) | (1n << 51n));
    enablePaging(mmu);
    mmu.setCpl(3);
    mmu.tryTranslate(0x40201000, Access.Write);
    expect(mmu.lastErrorCode).toBe(PfErr.P | PfErr.W | PfErr.U | PfErr.RSVD);
    phys.writeU64(pte, 0n);
    mmu.tryTranslate(0x40201000, Access.Write);
    expect(mmu.lastErrorCode).toBe(PfErr.W | PfErr.U);
  });

  it('a table beyond RAM reads as all-ones: P=1 with reserved bits, so RSVD (docs/memory.md)', () => {
    const { mmu, phys } = newMachine();
    phys.writeU64(0x1000, 0x8000000n | P | RW); // PDPT at 128 MiB, beyond the 64 MiB of RAM
    enablePaging(mmu);
    expect(mmu.tryTranslate(0x1000, Access.Read)).toBe(-1);
    expect(mmu.lastErrorCode).toBe(PfErr.P | PfErr.RSVD);
    expect(mmu.lastFault().why).toMatch(/PDPTE at 0x8000000 .*bits 51:48/);
  });
});

describe('memory beyond RAM', () => {
  it('a page mapped beyond RAM reads 0xff and drops writes, without faulting', () => {
    const { mmu, tables, phys } = newMachine();
    tables.map(0x10000, 0x8000000, SIZE_4K, P | RW);
    enablePaging(mmu);
    mmu.write32(0x10000, 0x12345678);
    expect(mmu.read32(0x10000)).toBe(0xffffffff);
    expect(phys.read8(0x8000000)).toBe(0xff);
  });
});

describe('control registers', () => {
  it('CR0.PG=0: linear = physical, no checks', () => {
    const { mmu, phys } = newMachine();
    mmu.write32(0x5000, 0xabcd);
    expect(phys.readU32(0x5000, 4)).toBe(0xabcd);
    expect(mmu.translate(0x5004, Access.Fetch)).toBe(0x5004);
  });

  it('legacy paging (PG=1 without PAE/LME) and LA57 are refused with #GP and a why', () => {
    const { mmu } = newMachine();
    const f = faultOf(() => mmu.setControlRegisters(0x80000001, 0x1000, 0, 0));
    expect(f.vector).toBe(13);
    expect(f.why).toMatch(/only long-mode 4-level paging/);
    expect(faultOf(() => mmu.setControlRegisters(0x80000001, 0x1000, 0x20 | 0x1000, 0x500)).why).toMatch(/LA57/);
    expect(faultOf(() => mmu.setControlRegisters(0x80000001, 2 ** 48, 0x20, 0x500)).why).toMatch(/MAXPHYADDR/);
  });
});
