// MMU micro-benchmarks (mitata): cold walks per second with the TLB off (4K, 2M, 1G pages), and
// translations per second on TLB hits. Run: `npx tsx bench/mmu.bench.ts` (add `--json` for a
// machine-readable summary line). Figures are recorded in bench/RESULTS.md, section "MMU".
//
// Each benchmarked function does BATCH accesses, so the per-access figure is avg / BATCH.
// "SNP on" uses an RMP check that is enabled and always passes, to measure the MMU's side of the
// RMP stage (5-9 calls per walk); the real RmpTable's own cost is measured by the RMP benchmark.
// "touch 64 MiB (MMU only)" drives the access pattern straight through the MMU (one 8-byte store
// per 4 KiB, TLB on); "program: touch 64 MiB" runs it as machine code on the CPU (src/cpu) at CPL0
// with 4K and with 2M pages, SNP off and on (the RMP table of src/rmp, all pages hypervisor-owned),
// and reports instructions per second.

import { bench, do_not_optimize, run } from 'mitata';
import { PhysicalMemory } from '../src/mem/physical.ts';
import { Mmu } from '../src/mmu/mmu.ts';
import { Access } from '../src/mmu/linear-memory.ts';
import type { HostRmpCheck } from '../src/rmp/host-check.ts';
import { Machine } from '../src/machine.ts';

const P_RW_US = 0x7n;
const PS = 0x80n;
const BATCH = 4096;

const SNP_OFF: HostRmpCheck = { enabled: false, checkHost: () => null };
const SNP_PASS: HostRmpCheck = { enabled: true, checkHost: () => null };

/** A machine whose linear range [base, base + count * size) is mapped with pages of `size`. */
function machine(size: number, count: number, rmp: HostRmpCheck, memBytes = 256 * 1024 * 1024) {
  const phys = new PhysicalMemory(memBytes);
  const mmu = new Mmu(phys, rmp);
  let next = 0x2000;
  const alloc = () => { const pa = next; next += 0x1000; return pa; };
  const entry = (table: number, index: number) => table + index * 8;
  const ensure = (table: number, index: number) => {
    const e = entry(table, index);
    let v = phys.readU64(e);
    if (v === 0n) { v = BigInt(alloc()) | P_RW_US; phys.writeU64(e, v); }
    return Number(v & 0xffffffff000n);
  };
  const base = 0x8000000000; // PML4 index 1
  for (let i = 0; i < count; i++) {
    const la = base + i * size;
    const i4 = Math.floor(la / 2 ** 39) % 512, i3 = Math.floor(la / 2 ** 30) % 512, i2 = Math.floor(la / 2 ** 21) % 512, i1 = Math.floor(la / 2 ** 12) % 512;
    const pdpt = ensure(0x1000, i4);
    // Frames: 4K pages get distinct frames from 16 MiB up, 2M pages from 128 MiB up; 1G pages all
    // alias the frame at 1 GiB, beyond RAM (only the walk is measured: reads there give 0xff).
    if (size === 2 ** 30) { phys.writeU64(entry(pdpt, i3), BigInt(2 ** 30) | P_RW_US | PS); continue; }
    const pd = ensure(pdpt, i3);
    if (size === 2 ** 21) { phys.writeU64(entry(pd, i2), BigInt(0x8000000 + (i % 64) * 2 ** 21) | P_RW_US | PS); continue; }
    const pt = ensure(pd, i2);
    phys.writeU64(entry(pt, i1), BigInt(0x1000000 + i * 0x1000) | P_RW_US);
  }
  mmu.setControlRegisters(0x80010033, 0x1000, 0x20, 0xd00);
  return { mmu, base, phys };
}

type Row = { name: string; perOp: number; bestPerOp: number };
const rows: { name: string; batch: number }[] = [];

function walkBench(label: string, size: number, rmp: HostRmpCheck) {
  const count = 512;
  const { mmu, base } = machine(size, count, rmp);
  mmu.tlbEnabled = false;
  for (let i = 0; i < count; i++) mmu.read32(base + i * size); // set the A bits once
  // Translation only: one full 4-level (or 3-/2-level) walk per call.
  const name = `walk ${label}`;
  rows.push({ name, batch: BATCH });
  bench(name, () => {
    let s = 0;
    for (let k = 0; k < BATCH; k++) s += mmu.translate(base + (k & (count - 1)) * size + 0x40, Access.Read);
    do_not_optimize(s);
  });
  // The same, plus the 4-byte load from the page.
  const name2 = `walk + read32 ${label}`;
  rows.push({ name: name2, batch: BATCH });
  bench(name2, () => {
    let s = 0;
    for (let k = 0; k < BATCH; k++) s += mmu.read32(base + (k & (count - 1)) * size + 0x40);
    do_not_optimize(s);
  });
}

walkBench('4K, TLB off, SNP off', 4096, SNP_OFF);
walkBench('2M, TLB off, SNP off', 2 ** 21, SNP_OFF);
walkBench('1G, TLB off, SNP off', 2 ** 30, SNP_OFF);
walkBench('4K, TLB off, SNP on (passing checks)', 4096, SNP_PASS);

{
  const { mmu, base } = machine(4096, 256, SNP_OFF);
  for (let i = 0; i < 256; i++) mmu.write32(base + i * 4096, i); // fill with write rights
  rows.push({ name: 'TLB hit read32', batch: BATCH });
  bench('TLB hit read32', () => {
    let s = 0;
    for (let k = 0; k < BATCH; k++) s += mmu.read32(base + (k & 255) * 4096 + ((k >> 8) << 2));
    do_not_optimize(s);
  });
  rows.push({ name: 'TLB hit write32', batch: BATCH });
  bench('TLB hit write32', () => {
    for (let k = 0; k < BATCH; k++) mmu.write32(base + (k & 255) * 4096 + ((k >> 8) << 2), k);
  });
  rows.push({ name: 'TLB hit translate', batch: BATCH });
  bench('TLB hit translate', () => {
    let s = 0;
    for (let k = 0; k < BATCH; k++) s += mmu.translate(base + (k & 255) * 4096, Access.Read);
    do_not_optimize(s);
  });
}

for (const [label, size] of [['4K pages', 4096], ['2M pages', 2 ** 21]] as const) {
  const pages = (64 * 1024 * 1024) / size;
  const { mmu, base } = machine(size, pages, SNP_OFF, 256 * 1024 * 1024);
  mmu.write64(base, 0, 0);
  const stores = 16384; // 64 MiB / 4 KiB
  const name = `touch 64 MiB at 4 KiB stride (MMU only), ${label}`;
  rows.push({ name, batch: stores });
  bench(name, () => {
    for (let k = 0; k < stores; k++) mmu.write64(base + k * 4096, k, 0);
  });
}

// Snapshot fuzzing (issue 9): restore a snapshot of a 64 MiB machine, then 16 stores through the
// MMU, each splitting a copy-on-write frame the TLB caches. A restore visits only the frames written
// since (PhysicalMemory's dirty list); a split drops only the TLB slots caching that frame.
{
  const { mmu, base, phys } = machine(4096, 64, SNP_OFF, 64 * 1024 * 1024);
  for (let k = 0; k < 64; k++) mmu.write32(base + k * 4096, k);
  const snap = phys.snapshotFrames();
  const name = 'snapshot restore + 16 copy-on-write stores (64 MiB machine)';
  rows.push({ name, batch: 1 });
  bench(name, () => {
    phys.restoreFrames(snap);
    for (let k = 0; k < 16; k++) mmu.write32(base + k * 4096 + 8, k);
  });
}

// The 64 MiB-touch program: mov rcx, 0x4000; mov rdi, 0x40000000;
// loop: mov [rdi], rax; add rdi, 0x1000; dec rcx; jnz loop; hlt  (2 + 4 * 16384 + 1 instructions)
const TOUCH_CODE = [
  0x48, 0xc7, 0xc1, 0x00, 0x40, 0x00, 0x00,
  0x48, 0xbf, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00,
  0x48, 0x89, 0x07,
  0x48, 0x81, 0xc7, 0x00, 0x10, 0x00, 0x00,
  0x48, 0xff, 0xc9,
  0x75, 0xf1, // back 15 bytes to the store
  0xf4,
];
const TOUCH_INSTRUCTIONS = 2 + 4 * 16384 + 1;

function touchProgram(pageSize: number, snp: boolean) {
  const m = new Machine({ memoryBytes: 256 * 1024 * 1024, snp });
  const phys = m.phys;
  let next = 0x2000;
  const alloc = () => { const pa = next; next += 0x1000; return pa; };
  const ensure = (table: number, index: number) => {
    const e = table + index * 8;
    let v = phys.readU64(e);
    if (v === 0n) { v = BigInt(alloc()) | P_RW_US; phys.writeU64(e, v); }
    return Number(v & 0xffffffff000n);
  };
  const map = (la: number, pa: number, size: number) => {
    const pdpt = ensure(0x1000, Math.floor(la / 2 ** 39) % 512);
    const pd = ensure(pdpt, Math.floor(la / 2 ** 30) % 512);
    if (size === 2 ** 21) { phys.writeU64(pd + (Math.floor(la / 2 ** 21) % 512) * 8, BigInt(pa) | P_RW_US | PS); return; }
    const pt = ensure(pd, Math.floor(la / 2 ** 21) % 512);
    phys.writeU64(pt + (Math.floor(la / 2 ** 12) % 512) * 8, BigInt(pa) | P_RW_US);
  };
  map(0x100000, 0x100000, 4096);
  for (let off = 0; off < 64 * 1024 * 1024; off += pageSize) map(0x40000000 + off, 0x8000000 + off, pageSize);
  phys.writeBytes(0x100000, TOUCH_CODE);
  const cpu = m.cpu;
  cpu.cpl = 0;
  cpu.efer = 0xd00n;
  cpu.cr4 = 0x20n;
  cpu.cr3 = 0x1000n;
  cpu.cr0 = 0x80010033n;
  return () => {
    cpu.rip = 0x100000n;
    const stop = cpu.run(10 * TOUCH_INSTRUCTIONS);
    if (stop.kind !== 'halt') throw new Error(`touch program stopped with ${stop.kind}`);
  };
}

for (const [label, size] of [['4K pages', 4096], ['2M pages', 2 ** 21]] as const) {
  for (const snp of [false, true]) {
    const name = `program: touch 64 MiB, ${label}, SNP ${snp ? 'on' : 'off'} (instructions)`;
    const once = touchProgram(size, snp);
    once();
    rows.push({ name, batch: TOUCH_INSTRUCTIONS });
    bench(name, once);
  }
}

const filterArg = process.argv.find((a) => a.startsWith('--filter='));
const result = await run({
  format: process.argv.includes('--json') ? 'quiet' : 'mitata',
  ...(filterArg ? { filter: new RegExp(filterArg.slice('--filter='.length)) } : {}),
});
const summary: Row[] = [];
for (const trial of result.benchmarks) {
  const stats = trial.runs[0]?.stats;
  const row = rows.find((r) => r.name === trial.alias);
  if (stats && row) summary.push({ name: row.name, perOp: stats.avg / row.batch, bestPerOp: stats.min / row.batch });
}
// avg: mean over mitata's samples; best: the fastest sample (less sensitive to other load on a
// shared machine).
console.log('\nper access:                                               avg ns    avg M/s   best ns   best M/s');
for (const r of summary) {
  console.log(`  ${r.name.padEnd(56)} ${r.perOp.toFixed(2).padStart(7)} ${(1e3 / r.perOp).toFixed(1).padStart(9)} ${r.bestPerOp.toFixed(2).padStart(9)} ${(1e3 / r.bestPerOp).toFixed(1).padStart(9)}`);
}
if (process.argv.includes('--json')) console.log(JSON.stringify(summary));
