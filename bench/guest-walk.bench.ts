// Guest-mode micro-benchmarks (mitata): cold two-dimensional walks per second (guest TLB off), next
// to the host's one-dimensional walk measured in the same run. Run: `npx tsx bench/guest-walk.bench.ts`
// (add `--json` for a machine-readable summary line). Figures go to bench/RESULTS.md, section "Guest".
//
// A cold 4K-over-4K 2D walk makes 24 memory references: 4 guest levels × (4 nested entry reads +
// the guest entry) + 4 nested reads for the final GPA (src/guest/walk.ts). 2M/2M makes
// 3 × (3 + 1) + 3 = 15 and 1G/1G 2 × (2 + 1) + 2 = 8. The count is measured, not assumed: each row
// prints the walk's own reference counter divided by the walks made.
// "SNP on" runs the real guest RMP checks (src/guest/rmp-checks.ts through the real RmpTable) on
// every guest page-table access and on the final access: 5 checks per 4K walk, all passing.

import { bench, do_not_optimize, run } from 'mitata';
import { PhysicalMemory } from '../src/mem/physical.ts';
import { Mmu } from '../src/mmu/mmu.ts';
import { Access } from '../src/mmu/linear-memory.ts';
import type { HostRmpCheck } from '../src/rmp/host-check.ts';
import { GuestMachine } from '../src/guest/guest-machine.ts';
import { PTE_BITS } from '../src/mmu/paging-bits.ts';
import { C_BIT_MASK, SIZE_1G, SIZE_2M, SIZE_4K } from '../src/guest/constants.ts';
import { GuestAccess } from '../src/guest/walk.ts';

const BATCH = 4096;
const PAGES = 512;
type Row = { name: string; batch: number; refsPerWalk: number };
const rows: Row[] = [];

/** A guest whose VA range [base, base + PAGES*size) maps GPAs with guest pages and nested leaves of `size`. */
function guestMachine(size: number, snp: boolean): { g: GuestMachine; base: number } {
  const regionSize = size === SIZE_1G ? SIZE_1G : SIZE_2M * (size === SIZE_2M ? 8 : 1);
  const count = size === SIZE_4K ? PAGES : regionSize / size;
  const base = 0x8000000000; // PML4 index 1, as the MMU bench
  const maps = [];
  for (let i = 0; i < count; i++) maps.push({ va: base + i * size, gpa: (size === SIZE_1G ? SIZE_1G : 0) + i * size, size, flags: PTE_BITS.RW | C_BIT_MASK });
  const gpa = size === SIZE_1G ? SIZE_1G : 0;
  const tables = size === SIZE_1G ? [{ gpa: 0, size: SIZE_2M, pa: 0x400000, hostPageSize: SIZE_4K, private: true, rmpState: 'guest-valid' as const, rmpSize: SIZE_4K }] : [];
  const g = new GuestMachine({
    memoryBytes: size === SIZE_1G ? 4 * SIZE_1G : 256 * 1024 * 1024,
    snpEnabled: snp, asid: 1, snpActive: true, vmpl: 0, hv: {},
    regions: [
      ...tables,
      {
        gpa, size: regionSize, pa: size === SIZE_1G ? SIZE_1G : 0x1000000, sharedPa: size === SIZE_1G ? 2 * SIZE_1G : undefined,
        hostPageSize: size, private: true, rmpState: 'guest-valid', rmpSize: size === SIZE_4K ? SIZE_4K : SIZE_2M,
      },
    ],
    paging: { maps, tablesGpa: size === SIZE_1G ? SIZE_2M - 16 * SIZE_4K : gpa + regionSize - 16 * SIZE_4K },
    populate: size !== SIZE_1G,
  });
  // 1G guest pages over 2M RMP pages need the hypervisor to map 1G nested leaves (no level cap).
  if (size === SIZE_1G) {
    g.hv.npt.map(0, 0x400000, SIZE_2M);
    g.hv.npt.map(SIZE_1G, SIZE_1G, SIZE_1G);
  }
  g.mem.tlb.enabled = false;
  for (let i = 0; i < count; i++) g.mem.translate(base + i * size, GuestAccess.Read); // A bits once
  return { g, base };
}

function walk2d(label: string, size: number, snp: boolean): void {
  const { g, base } = guestMachine(size, snp);
  const count = size === SIZE_4K ? PAGES : size === SIZE_2M ? 8 : 1;
  const stats = g.mem.walk.stats;
  const w0 = stats.walks;
  const r0 = stats.memRefs;
  g.mem.translate(base + 0x40, GuestAccess.Read);
  const refs = (stats.memRefs - r0) / (stats.walks - w0);
  const name = `2D walk ${label}`;
  rows.push({ name, batch: BATCH, refsPerWalk: refs });
  bench(name, () => {
    let s = 0;
    for (let k = 0; k < BATCH; k++) s += g.mem.translate(base + (k % count) * size + 0x40, GuestAccess.Read);
    do_not_optimize(s);
  });
}

function walk1d(): void {
  const phys = new PhysicalMemory(256 * 1024 * 1024);
  const off: HostRmpCheck = { enabled: false, checkHost: () => null };
  const mmu = new Mmu(phys, off);
  let next = 0x2000;
  const ensure = (table: number, index: number): number => {
    const e = table + index * 8;
    let v = phys.readU64(e);
    if (v === 0n) { v = BigInt(next) | 7n; next += 0x1000; phys.writeU64(e, v); }
    return Number(v & 0xffffffff000n);
  };
  const base = 0x8000000000;
  for (let i = 0; i < PAGES; i++) {
    const la = base + i * SIZE_4K;
    const pt = ensure(ensure(ensure(0x1000, Math.floor(la / 2 ** 39) % 512), Math.floor(la / 2 ** 30) % 512), Math.floor(la / 2 ** 21) % 512);
    phys.writeU64(pt + (Math.floor(la / 2 ** 12) % 512) * 8, BigInt(0x1000000 + i * SIZE_4K) | 7n);
  }
  mmu.setControlRegisters(0x80010033, 0x1000, 0x20, 0xd00);
  mmu.tlbEnabled = false;
  for (let i = 0; i < PAGES; i++) mmu.read32(base + i * SIZE_4K);
  const name = '1D walk 4K, host MMU, TLB off, SNP off';
  rows.push({ name, batch: BATCH, refsPerWalk: 4 });
  bench(name, () => {
    let s = 0;
    for (let k = 0; k < BATCH; k++) s += mmu.translate(base + (k & (PAGES - 1)) * SIZE_4K + 0x40, Access.Read);
    do_not_optimize(s);
  });
}

walk1d();
walk2d('4K/4K, TLB off, SNP off', SIZE_4K, false);
walk2d('4K/4K, TLB off, SNP on (5 passing RMP checks)', SIZE_4K, true);
walk2d('2M/2M, TLB off, SNP off', SIZE_2M, false);
walk2d('1G/1G, TLB off, SNP off', SIZE_1G, false);

const filterArg = process.argv.find((a) => a.startsWith('--filter='));
const result = await run({
  format: process.argv.includes('--json') ? 'quiet' : 'mitata',
  ...(filterArg ? { filter: new RegExp(filterArg.slice('--filter='.length)) } : {}),
});
const summary: { name: string; perOp: number; refsPerWalk: number }[] = [];
for (const trial of result.benchmarks) {
  const stats = trial.runs[0]?.stats;
  const row = rows.find((r) => r.name === trial.alias);
  if (stats && row) summary.push({ name: row.name, perOp: stats.avg / row.batch, refsPerWalk: row.refsPerWalk });
}
console.log('\nper walk (avg of the batch):');
for (const r of summary) {
  console.log(`  ${r.name.padEnd(52)} ${r.perOp.toFixed(1).padStart(7)} ns   ${(1e3 / r.perOp).toFixed(2).padStart(6)} M walks/s   ${r.refsPerWalk} refs/walk`);
}
if (process.argv.includes('--json')) console.log(JSON.stringify(summary));
