// The exhaustive access matrix (kvm-unit-tests x86/access.c style), shared by the three
// access-matrix-*.test.ts files (one per page size, so they run in parallel).
//
// Enumerated: {P, RW, US, A, D, PS, NX} in the leaf entry and in the entry one level above it
// (2^7 x 2^7), x {read, write, fetch} x {CPL0, CPL3} x {CR0.WP, EFER.NXE, CR4.SMEP, CR4.SMAP,
// RFLAGS.AC} (2^5). PS=0 in a "2M/1G leaf" turns it into a table pointer, and PS=1 in the upper
// entry turns it into a leaf (usually with reserved frame bits), so every shape is exercised.
// Each case is checked against reference-model.ts: fault or not, error code, physical address,
// and the A/D bits left in every entry the walk used.
//
// Two passes: `walk` (TLB off, entries reset before every access: each case is one fresh walk),
// and `tlb` (TLB on, the six CPL x access cases run in a row on the same entries, so later
// accesses hit or miss entries that earlier ones filled; the model follows the A/D changes).

import { PhysicalMemory } from '../../src/mem/physical.ts';
import { Mmu } from '../../src/mmu/mmu.ts';
import { Access, type AccessKind } from '../../src/mmu/linear-memory.ts';
import { modelAccess, modelWalk, type ModelAccess, type ModelWalk } from './reference-model.ts';
import { NO_RMP, SIZE_1G, SIZE_2M, SIZE_4K } from './helpers.ts';

const FLAG_BITS = [0n, 1n, 2n, 5n, 6n, 7n, 63n]; // P RW US A D PS NX
const FLAG_NAMES = ['P', 'RW', 'US', 'A', 'D', 'PS', 'NX'];
const ACCESSES: [ModelAccess, AccessKind][] = [['read', Access.Read], ['write', Access.Write], ['fetch', Access.Fetch]];

function flagsOf(n: number): bigint {
  let v = 0n;
  for (let b = 0; b < 7; b++) if ((n >> b) & 1) v |= 1n << FLAG_BITS[b]!;
  return v;
}

function flagText(n: number): string {
  return FLAG_NAMES.filter((_, b) => (n >> b) & 1).join('|') || '0';
}

export interface MatrixResult {
  cases: number;
  mismatches: string[];
}

// Layout: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000; la uses index 1/2/3/4, offset 0x123.
const LA = 1 * 2 ** 39 + 2 * 2 ** 30 + 3 * 2 ** 21 + 4 * 2 ** 12 + 0x123;
const ENTRY = { 4: 0x1000 + 1 * 8, 3: 0x2000 + 2 * 8, 2: 0x3000 + 3 * 8, 1: 0x4000 + 4 * 8 } as Record<number, number>;
const NEXT_TABLE = { 4: 0x2000, 3: 0x3000, 2: 0x4000 } as Record<number, number>;

export function runAccessMatrix(size: number, pass: 'walk' | 'tlb'): MatrixResult {
  const phys = new PhysicalMemory(2 * SIZE_1G);
  const mmu = new Mmu(phys, NO_RMP, { tlbEntries: 16 });
  mmu.tlbEnabled = pass === 'tlb';
  const leafLevel = size === SIZE_4K ? 1 : size === SIZE_2M ? 2 : 3;
  const upperLevel = leafLevel + 1;
  const frame = size === SIZE_4K ? 0x200000 : size === SIZE_2M ? 0x400000 : SIZE_1G;
  // Fixed entries (P|RW|US) for the levels that are neither leaf nor upper.
  const base: Record<number, bigint> = {};
  for (let level = 4; level >= 1; level--) {
    base[level] = level === leafLevel ? BigInt(frame) : level > leafLevel ? BigInt(NEXT_TABLE[level]!) : 0n;
  }
  const writeEntry = (level: number, v: bigint) => {
    phys.writeU32(ENTRY[level]!, Number(v & 0xffffffffn), 4);
    phys.writeU32(ENTRY[level]! + 4, Number(v >> 32n), 4);
  };
  const read = (pa: bigint) => phys.readU64(Number(pa));
  const mismatches: string[] = [];
  let cases = 0;

  for (let nxe = 0; nxe < 2; nxe++) {
    for (let upper = 0; upper < 128; upper++) {
      for (let leaf = 0; leaf < 128; leaf++) {
        const values: Record<number, bigint> = {};
        for (let level = 4; level > leafLevel; level--) {
          values[level] = level === upperLevel ? base[level]! | flagsOf(upper) : base[level]! | 0x7n;
        }
        values[leafLevel] = base[leafLevel]! | flagsOf(leaf);
        const restore = () => { for (let level = 4; level >= leafLevel; level--) writeEntry(level, values[level]!); };
        restore();
        const freshWalk = modelWalk(read, 0x1000n, BigInt(LA), nxe === 1);
        let memoryChanged = false; // since the model last walked
        let differsFromFresh = false; // since the entries were last restored
        for (let cr = 0; cr < 16; cr++) {
          const cpu = { wp: (cr & 1) !== 0, smep: (cr & 2) !== 0, smap: (cr & 4) !== 0, ac: (cr & 8) !== 0, nxe: nxe === 1, cpl: 0 };
          let cr4 = 0x20;
          if (cpu.smep) cr4 |= 1 << 20;
          if (cpu.smap) cr4 |= 1 << 21;
          mmu.setControlRegisters(cpu.wp ? 0x80010033 : 0x80000033, 0x1000, cr4, 0x500 | (cpu.nxe ? 0x800 : 0));
          mmu.setAlignmentCheck(cpu.ac);
          let walk: ModelWalk = freshWalk;
          if (pass === 'tlb') {
            // Each CPU state starts from the enumerated entries and an empty TLB.
            if (differsFromFresh) { restore(); differsFromFresh = false; memoryChanged = false; }
            mmu.flushTlb();
          }
          for (const cpl of [0, 3]) {
            cpu.cpl = cpl;
            mmu.setCpl(cpl);
            for (const [accessName, kind] of ACCESSES) {
              if (pass === 'walk') {
                if (memoryChanged) { restore(); memoryChanged = false; }
              } else if (memoryChanged) {
                walk = modelWalk(read, 0x1000n, BigInt(LA), cpu.nxe);
                memoryChanged = false;
              }
              const expected = modelAccess(walk, accessName, cpu);
              const pa = mmu.tryTranslate(LA, kind);
              cases++;
              let bad = '';
              if (expected.fault) {
                if (pa !== -1) bad = `no fault (pa ${pa.toString(16)}), expected error ${expected.errorCode.toString(16)}`;
                else if (mmu.lastErrorCode !== expected.errorCode) bad = `error ${mmu.lastErrorCode.toString(16)}, expected ${expected.errorCode.toString(16)}`;
              } else if (pa !== Number(expected.physical)) {
                bad = pa === -1 ? `fault ${mmu.lastErrorCode.toString(16)}, expected pa ${expected.physical!.toString(16)}` : `pa ${pa.toString(16)}, expected ${expected.physical!.toString(16)}`;
              }
              for (let i = 0; i < walk.used.length && bad === ''; i++) {
                const address = Number(walk.used[i]!.address);
                const lo = phys.readU32(address, 4);
                const want = Number(expected.after[i]! & 0xffffffffn);
                if (lo !== want) bad = `entry at ${address.toString(16)} low half ${lo.toString(16)}, expected ${want.toString(16)}`;
                if (want !== Number(walk.used[i]!.value & 0xffffffffn)) { memoryChanged = true; differsFromFresh = true; }
              }
              if (bad !== '' && mismatches.length < 20) {
                mismatches.push(`${pass} size ${size.toString(16)} upper[${flagText(upper)}] leaf[${flagText(leaf)}] ` +
                  `${accessName} cpl${cpl} wp${+cpu.wp} nxe${nxe} smep${+cpu.smep} smap${+cpu.smap} ac${+cpu.ac}: ${bad}`);
              }
            }
          }
        }
      }
    }
  }
  mmu.dispose();
  return { cases, mismatches };
}
