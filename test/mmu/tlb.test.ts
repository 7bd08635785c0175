// The TLB: it may be stale until the manual says it is flushed (Intel SDM Vol.3A §4.10.4: INVLPG,
// MOV to CR3 for non-global entries, CR4.PGE/CR0.WP/paging-mode changes for everything), it
// installs write rights only once D is set, and it caches frames safely across snapshots.

import { describe, expect, it } from 'vitest';
import { Access } from '../../src/mmu/linear-memory.ts';
import { A, D, G, P, RW, SIZE_2M, SIZE_4K, US, enablePaging, faultOf, newMachine } from './helpers.ts';

function staleSetup(flags = P | RW) {
  const m = newMachine();
  const pte = m.tables.map(0x10000, 0x30000, SIZE_4K, flags);
  m.phys.writeU32(0x30000, 0x11111111, 4);
  m.phys.writeU32(0x31000, 0x22222222, 4);
  return { ...m, pte };
}

describe('staleness and flushes', () => {
  it('a PTE change is not seen until INVLPG', () => {
    const { mmu, phys, pte } = staleSetup();
    enablePaging(mmu);
    expect(mmu.read32(0x10000)).toBe(0x11111111);
    phys.writeU64(pte, 0x31000n | P | RW); // remap to another frame, no flush
    expect(mmu.read32(0x10000)).toBe(0x11111111); // stale: the TLB still maps the old frame
    mmu.invlpg(0x10000);
    expect(mmu.read32(0x10000)).toBe(0x22222222);
  });

  it('a cleared P bit still translates until INVLPG, then faults', () => {
    const { mmu, phys, pte } = staleSetup();
    enablePaging(mmu);
    mmu.read32(0x10000);
    phys.writeU64(pte, 0n);
    expect(mmu.read32(0x10000)).toBe(0x11111111);
    mmu.invlpg(0x10abc); // any address in the page
    expect(faultOf(() => mmu.read32(0x10000)).errorCode).toBe(0);
  });

  it('INVLPG of one address in a 2M page drops every cached 4K piece of it', () => {
    const { mmu, phys, tables } = newMachine();
    const pde = tables.map(0x200000, 0x400000, SIZE_2M, P | RW);
    enablePaging(mmu);
    phys.writeU32(0x400000, 0xaaaa, 4);
    phys.writeU32(0x5ff000, 0xbbbb, 4);
    expect(mmu.read32(0x200000)).toBe(0xaaaa);
    expect(mmu.read32(0x3ff000)).toBe(0xbbbb);
    phys.writeU64(pde, 0x600000n | P | RW | 0x80n); // remap the 2M page to 0x600000 (zeros)
    expect(mmu.read32(0x3ff000)).toBe(0xbbbb); // stale
    mmu.invlpg(0x250000); // a third address inside the same 2M page
    expect(mmu.read32(0x200000)).toBe(0);
    expect(mmu.read32(0x3ff000)).toBe(0);
  });

  it('a CR3 write flushes non-global entries but keeps global ones under CR4.PGE', () => {
    const { mmu, phys, tables } = newMachine();
    const pteLocal = tables.map(0x10000, 0x30000, SIZE_4K, P | RW);
    const pteGlobal = tables.map(0x11000, 0x31000, SIZE_4K, P | RW | G);
    phys.writeU32(0x30000, 1, 4);
    phys.writeU32(0x31000, 2, 4);
    enablePaging(mmu, { pge: true });
    mmu.read32(0x10000);
    mmu.read32(0x11000);
    phys.writeU64(pteLocal, 0x32000n | P | RW);
    phys.writeU64(pteGlobal, 0x32000n | P | RW | G);
    enablePaging(mmu, { pge: true }); // same CR0/CR4/EFER: only a CR3 write
    expect(mmu.read32(0x10000)).toBe(0); // re-walked: the new frame
    expect(mmu.read32(0x11000)).toBe(2); // global: still the old frame
    mmu.invlpg(0x11000); // INVLPG drops global entries too
    expect(mmu.read32(0x11000)).toBe(0);
  });

  it('without CR4.PGE the G bit does not survive a CR3 write', () => {
    const { mmu, phys, tables } = newMachine();
    const pte = tables.map(0x11000, 0x31000, SIZE_4K, P | RW | G);
    phys.writeU32(0x31000, 2, 4);
    enablePaging(mmu, { pge: false });
    mmu.read32(0x11000);
    phys.writeU64(pte, 0x32000n | P | RW | G);
    enablePaging(mmu, { pge: false });
    expect(mmu.read32(0x11000)).toBe(0);
  });

  it('toggling CR4.PGE, CR0.WP or EFER.NXE flushes global entries too', () => {
    for (const change of ['pge', 'wp', 'nxe'] as const) {
      const { mmu, phys, tables } = newMachine();
      const pte = tables.map(0x11000, 0x31000, SIZE_4K, P | RW | G);
      phys.writeU32(0x31000, 2, 4);
      enablePaging(mmu, { pge: true });
      mmu.read32(0x11000);
      phys.writeU64(pte, 0x32000n | P | RW | G);
      enablePaging(mmu, { pge: true, [change]: false });
      expect(mmu.read32(0x11000), change).toBe(0);
    }
  });

  it('a #PF drops the stale entry for the faulting address', () => {
    const { mmu, phys, pte } = staleSetup(P | US);
    enablePaging(mmu);
    mmu.setCpl(3);
    expect(mmu.read32(0x10000)).toBe(0x11111111);
    phys.writeU64(pte, 0x31000n | P | RW | US);
    // The cached entry has no write right, so the write walks, succeeds on the new entry.
    mmu.write32(0x10000, 5);
    expect(phys.readU32(0x31000, 4)).toBe(5);
  });
});

describe('write rights and D', () => {
  it('the first store after a read walks again and sets D; later stores hit', () => {
    const { mmu, phys, pte } = staleSetup();
    enablePaging(mmu);
    mmu.read32(0x10000);
    expect(mmu.stats.walks).toBe(1);
    expect(phys.readU64(pte) & (A | D)).toBe(A);
    mmu.write32(0x10000, 7);
    expect(mmu.stats.walks).toBe(2);
    expect(phys.readU64(pte) & (A | D)).toBe(A | D);
    mmu.write32(0x10004, 8);
    mmu.read32(0x10000);
    expect(mmu.stats).toEqual({ walks: 2, tlbHits: 2, tlbMisses: 2, rmpChecks: 0 });
  });

  it('a read-only page never gets write rights, whatever mode reads it', () => {
    const { mmu } = staleSetup(P | US);
    enablePaging(mmu);
    mmu.setCpl(3);
    mmu.read32(0x10000);
    expect(faultOf(() => mmu.write8(0x10000, 1)).errorCode).toBe(7);
    mmu.setCpl(0); // WP=1: supervisor writes also need R/W
    expect(faultOf(() => mmu.write8(0x10000, 1)).errorCode).toBe(3);
  });

  it('rights are per privilege mode: a supervisor fill does not open the page to CPL3', () => {
    const { mmu } = staleSetup(P | RW);
    enablePaging(mmu);
    mmu.write32(0x10000, 1);
    mmu.setCpl(3);
    expect(faultOf(() => mmu.read32(0x10000)).errorCode).toBe(5);
  });
});

describe('counters, the TLB switch, code marks, snapshots', () => {
  it('tlbEnabled=false walks on every access', () => {
    const { mmu } = staleSetup();
    enablePaging(mmu);
    mmu.tlbEnabled = false;
    for (let i = 0; i < 5; i++) mmu.read32(0x10000);
    expect(mmu.stats).toEqual({ walks: 5, tlbHits: 0, tlbMisses: 0, rmpChecks: 0 });
    mmu.tlbEnabled = true;
    mmu.resetStats();
    for (let i = 0; i < 5; i++) mmu.read32(0x10000);
    expect(mmu.stats).toEqual({ walks: 1, tlbHits: 4, tlbMisses: 1, rmpChecks: 0 });
  });

  it('a TLB-hit write to a frame with a code mark calls onCodeWrite first', () => {
    const { mmu, phys } = staleSetup();
    enablePaging(mmu);
    mmu.write8(0x10000, 1); // fills with write rights
    const seen: number[] = [];
    phys.onCodeWrite = (pfn) => seen.push(pfn);
    phys.codeMarks[0x30] = 1;
    mmu.write32(0x10010, 2);
    mmu.write64(0x10020, 3, 4);
    expect(seen).toEqual([0x30, 0x30]);
  });

  it('a write after a snapshot does not leak into the snapshot, and restore is seen by reads', () => {
    const { mmu, phys } = staleSetup();
    enablePaging(mmu);
    mmu.write32(0x10000, 0xaaaa); // TLB holds a writable view of frame 0x30
    const snap = phys.snapshotFrames();
    mmu.write32(0x10000, 0xbbbb);
    expect(phys.readU32(0x30000, 4)).toBe(0xbbbb);
    phys.restoreFrames(snap);
    expect(mmu.read32(0x10000)).toBe(0xaaaa);
    mmu.write32(0x10000, 0xcccc);
    phys.restoreFrames(snap);
    expect(mmu.read32(0x10000)).toBe(0xaaaa);
  });

  it('a cached read of a never-written frame sees a later write made through physical memory', () => {
    const { mmu, phys, tables } = newMachine();
    tables.map(0x10000, 0x50000, SIZE_4K, P | RW);
    enablePaging(mmu);
    expect(mmu.read32(0x10000)).toBe(0);
    phys.writeU32(0x50000, 0x1234, 4);
    expect(mmu.read32(0x10000)).toBe(0x1234);
  });

  it('flushPhysicalRange drops translations of the range, of a 2M page around it, and of walks through it', () => {
    const { mmu, phys, tables } = newMachine();
    tables.map(0x10000, 0x30000, SIZE_4K, P | RW);
    tables.map(0x200000, 0x400000, SIZE_2M, P | RW);
    enablePaging(mmu);
    const probeAll = () => { mmu.read8(0x10000); mmu.read8(0x200000); };
    probeAll();
    mmu.resetStats();
    mmu.flushPhysicalRange(0x31000, 0x1000); // neither page
    probeAll();
    expect(mmu.stats.walks).toBe(0);
    mmu.flushPhysicalRange(0x5ff000, 0x1000); // inside the 2M page, not its first piece
    probeAll();
    expect(mmu.stats.walks).toBe(1);
    const pt = Number(phys.readU64(tables.entryAddress(0x10000, 2)) & 0xfffff000n);
    mmu.flushPhysicalRange(pt, 0x1000); // the page table the 4K walk read
    mmu.resetStats();
    probeAll();
    expect(mmu.stats.walks).toBe(1);
  });
});

describe('the huge-page TLB (2M pieces of 2M and 1G pages)', () => {
  it('one walk serves every 4K piece of a 2M page; a store still walks once to set D', () => {
    const { mmu, phys, tables } = newMachine();
    const pde = tables.map(0x200000, 0x400000, SIZE_2M, P | RW);
    enablePaging(mmu);
    for (let a = 0x200000; a < 0x400000; a += 0x1000) mmu.read8(a);
    expect(mmu.stats).toEqual({ walks: 1, tlbHits: 511, tlbMisses: 1, rmpChecks: 0 });
    mmu.write8(0x3ff000, 1);
    expect(mmu.stats.walks).toBe(2);
    expect(phys.readU64(pde) & D).toBe(D);
    mmu.write8(0x201000, 1); // another piece: write rights come from the 2M entry now
    expect(mmu.stats.walks).toBe(2);
  });

  it('a 1G page is cached in 2M pieces: a new 2M region of it walks again', () => {
    const { mmu, tables } = newMachine(2 * 1024 * 1024 * 1024);
    tables.map(0x8000000000, 0x40000000, 0x40000000, P | RW);
    enablePaging(mmu);
    mmu.read8(0x8000000000);
    mmu.read8(0x80001ff000); // same 2M piece
    expect(mmu.stats.walks).toBe(1);
    mmu.read8(0x8000200000); // next 2M piece
    expect(mmu.stats.walks).toBe(2);
  });

  it('is stale until INVLPG of any address in the page, and a CR3 write flushes it', () => {
    const { mmu, phys, tables } = newMachine();
    const pde = tables.map(0x200000, 0x400000, SIZE_2M, P | RW);
    phys.writeU32(0x401000, 0x1111, 4);
    phys.writeU32(0x601000, 0x2222, 4);
    enablePaging(mmu);
    mmu.read8(0x200000);
    phys.writeU64(pde, 0x600000n | P | RW | 0x80n);
    expect(mmu.read32(0x201000)).toBe(0x1111); // refilled from the stale 2M piece
    mmu.invlpg(0x3fffff);
    expect(mmu.read32(0x201000)).toBe(0x2222);
    phys.writeU64(pde, 0x400000n | P | RW | 0x80n);
    enablePaging(mmu); // CR3 write
    expect(mmu.read32(0x202000 - 0x1000)).toBe(0x1111);
  });

  it('a global 2M page survives a CR3 write under CR4.PGE', () => {
    const { mmu, phys, tables } = newMachine();
    const pde = tables.map(0x200000, 0x400000, SIZE_2M, P | RW | G);
    phys.writeU32(0x401000, 0x1111, 4);
    enablePaging(mmu, { pge: true });
    mmu.read8(0x200000);
    phys.writeU64(pde, 0n);
    enablePaging(mmu, { pge: true });
    expect(mmu.read32(0x201000)).toBe(0x1111); // a piece never touched before, from the global 2M entry
  });
});
