// What the RMP host checks cost (issue 4 item 9): the same machine-code program run with SNP on
// and with SNP off, side by side, and page walks per second with the TLB off, SNP on against off.
//
//   npx tsx bench/rmp-overhead.bench.ts [--quick] [--json]     stand-alone: prints a table
//   npm run bench -- --only rmp                               through the harness (bench/run.ts)
//
// Everything runs through the real Machine (src/machine.ts): Cpu + Mmu + RmpTable, SNP enabled as
// Linux does it (the whole table zeroed, so every page is hypervisor-owned and every check passes;
// checkWalkReads on, the default). SNP off is the same Machine with `snp: false`.
//
// The program, at CPL0 in 4-level paging (code at 0x100000, data at linear 0x40000000):
//     mov r8, PASSES
//   outer: mov rcx, PAGES ; mov rdi, 0x40000000
//   inner: mov [rdi], rax ; add rdi, 0x1000 ; dec rcx ; jnz inner      one store per 4 KiB
//     dec r8 ; jnz outer ; hlt
// = 2 + PASSES * (4 + 4 * PAGES) instructions. Every run starts with an empty TLB (a full flush,
// as a CR3 load without global pages), so the first pass pays its walks in each sample.
// Three working sets:
//   64mib-4k: 64 MiB in 4K pages. 16384 pages against a 4096-entry TLB: every store misses and
//             walks, in every pass (walk-heavy; the MMU issue's "64 MiB-touch program").
//   64mib-2m: 64 MiB in 2M pages. The first store of each 2 MB piece walks (32 per run); every
//             other 4K miss refills from the huge-page TLB without a walk (TLB-hit-heavy).
//   16mib-4k: 16 MiB in 4K pages. 4096 pages fit the TLB exactly: the first pass walks, the
//             later passes hit (TLB-hit-heavy).
// Walks per run are counted from the MMU's own counters, not assumed (details.walksPerRun).
//
// Interleaving: the program cases run one whole run per side per round, SNP off, SNP on and the
// control back to back (order rotated each round), 40 rounds; the walk cases use mitata's
// `measure` (which times one function at a time) per side per round, back to back, 7 rounds. The
// overhead of a round is on/off − 1 (for walks from mitata's p50 of each side), and the figure
// reported is the median over rounds with the interquartile range: a shared, loaded machine then
// slows both sides of a pair alike. (mitata's own sampling of the whole programs, 60-200 ms per
// side, gave pairs that disagreed by up to 2x on this machine.) The clock is this process's CPU time
// (process.cpuUsage, user + system), not wall time: on a 2-core machine shared with other jobs a
// sample otherwise also counts the time the process waited for a core.
// Same memory: the SNP-on Machine and the SNP-off CPUs of a program case share one physical
// memory (programSides): two separate machines, both SNP off, differed by up to ±40% on the
// 64 MiB cases, from where the host's allocator happened to put their 4 KiB frames.
// Control (A/A): each program case has a second SNP-off CPU, measured in the same rounds and
// compared with the first the same way (rmp.control.*): the noise floor of rmp.overhead.
// Walk cases use separate machines (a walk touches only the tables), built in alternating order.
//
// Walk cost: `translate(la, Write)` with the TLB off, one full walk per call over 512 pages, A
// and D already set. SNP on adds one 4K check per page-table entry read (4 for a 4K page, 3 for
// 2M, 2 for 1G) and one check of the final SPA: 4K, a 2M region (all 512 entries must be
// unassigned, spec/rmp.md §3.1: one load of the subpage count, docs/rmp.md choice 3), or for 1G
// the 2M sub-region holding the address. Extra ns per walk = SNP-on minus SNP-off time per walk,
// per round, median over rounds.

import { do_not_optimize, measure } from 'mitata';
import { pathToFileURL } from 'node:url';
import { Cpu } from '../src/cpu/cpu.ts';
import { Machine } from '../src/machine.ts';
import { Mmu } from '../src/mmu/mmu.ts';
import { RmpTable } from '../src/rmp/table.ts';
import { Access } from '../src/mmu/linear-memory.ts';
import type { BenchOptions } from './harness/modules.ts';
import type { BenchmarkRecord } from './harness/record.ts';
import { summarize } from './harness/stats.ts';

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const SIZE_4K = 4 * KIB;
const SIZE_2M = 2 * MIB;
const P_RW_US = 0x7n;
const PS = 0x80n;
const CODE_LA = 0x100000;
const DATA_LA = 0x40000000;
const DATA_PA = 0x8000000; // 128 MiB: the data pages, above the page tables
const RAX_VALUE = 0x5a5a1234n;

// CPL0 long mode: CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE, EFER = LME|LMA|NXE.
const CR0 = 0x80010033n;
const CR4 = 0x20n;
const EFER = 0xd00n;

interface ProgramCase {
  key: string;
  label: string;
  pageBytes: number;
  workingSet: number;
  passes: number;
  tlbHitHeavy: boolean;
}

const PROGRAM_CASES: ProgramCase[] = [
  { key: '64mib-4k', label: '64 MiB, 4K pages, 4 passes (every store walks)', pageBytes: SIZE_4K, workingSet: 64 * MIB, passes: 4, tlbHitHeavy: false },
  { key: '64mib-2m', label: '64 MiB, 2M pages, 8 passes (huge-page TLB refills)', pageBytes: SIZE_2M, workingSet: 64 * MIB, passes: 8, tlbHitHeavy: true },
  { key: '16mib-4k', label: '16 MiB, 4K pages, 16 passes (fits the 4096-entry TLB)', pageBytes: SIZE_4K, workingSet: 16 * MIB, passes: 16, tlbHitHeavy: true },
];

interface WalkCase {
  key: string;
  label: string;
  pageBytes: number;
  /** Entries the walk reads (each an RMP check with SNP on), plus the final check. */
  checks: number;
}

const WALK_CASES: WalkCase[] = [
  { key: '4k', label: '4K', pageBytes: SIZE_4K, checks: 5 },
  { key: '2m', label: '2M', pageBytes: SIZE_2M, checks: 4 },
  { key: '1g', label: '1G', pageBytes: GIB, checks: 3 },
];

const WALK_PAGES = 512;
const WALK_BATCH = 4096;

/** mov r8, passes; outer: mov rcx, pages; mov rdi, DATA_LA; inner: ...; dec r8; jnz outer; hlt */
function touchCode(pages: number, passes: number): number[] {
  const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  return [
    0x49, 0xc7, 0xc0, ...imm32(passes), //           0: mov r8, imm32
    0x48, 0xc7, 0xc1, ...imm32(pages), //            7: outer: mov rcx, imm32
    0x48, 0xc7, 0xc7, ...imm32(DATA_LA), //         14: mov rdi, imm32 (sign-extended; bit 31 clear)
    0x48, 0x89, 0x07, //                            21: inner: mov [rdi], rax
    0x48, 0x81, 0xc7, 0x00, 0x10, 0x00, 0x00, //    24: add rdi, 0x1000
    0x48, 0xff, 0xc9, //                            31: dec rcx
    0x75, 0xf1, //                                  34: jnz inner (36 - 15 = 21)
    0x49, 0xff, 0xc8, //                            36: dec r8
    0x75, 0xde, //                                  39: jnz outer (41 - 34 = 7)
    0xf4, //                                        41: hlt
  ];
}

/** Page tables at 0x1000 upwards, built in the machine's physical memory. */
class TableBuilder {
  private next = 0x2000;
  constructor(private readonly m: Machine) {}

  private ensure(table: number, index: number): number {
    const e = table + index * 8;
    let v = this.m.phys.readU64(e);
    if (v === 0n) {
      v = BigInt(this.next) | P_RW_US;
      this.next += 0x1000;
      this.m.phys.writeU64(e, v);
    }
    return Number(v & 0xffffffff000n);
  }

  map(la: number, pa: number, size: number): void {
    const phys = this.m.phys;
    const pdpt = this.ensure(0x1000, Math.floor(la / 2 ** 39) % 512);
    if (size === GIB) { phys.writeU64(pdpt + (Math.floor(la / 2 ** 30) % 512) * 8, BigInt(pa) | P_RW_US | PS); return; }
    const pd = this.ensure(pdpt, Math.floor(la / 2 ** 30) % 512);
    if (size === SIZE_2M) { phys.writeU64(pd + (Math.floor(la / 2 ** 21) % 512) * 8, BigInt(pa) | P_RW_US | PS); return; }
    const pt = this.ensure(pd, Math.floor(la / 2 ** 21) % 512);
    phys.writeU64(pt + (Math.floor(la / 2 ** 12) % 512) * 8, BigInt(pa) | P_RW_US);
  }
}

interface ProgramRun {
  run(): void;
  instructions: number;
  walksPerRun: number;
}

/**
 * One CPU + MMU running the touch program over `phys`. The SNP-on side is the Machine's own CPU
 * and MMU; each SNP-off side is a CPU and MMU built as Machine builds them, over the same physical
 * memory, with an RmpTable that is never enabled (what Machine({ snp: false }) has).
 */
function programSide(c: ProgramCase, m: Machine, snp: boolean): ProgramRun {
  const mmu = snp ? m.mmu : new Mmu(m.phys, new RmpTable(m.phys));
  const cpu = snp ? m.cpu : new Cpu(mmu, m.phys, null);
  if (!snp) cpu.features = { ...cpu.features, snp: false, nx: m.features.nx, smep: m.features.smep, smap: m.features.smap };
  cpu.cpl = 0;
  cpu.efer = EFER;
  cpu.cr4 = CR4;
  cpu.cr3 = 0x1000n;
  cpu.cr0 = CR0;
  cpu.setReg(0, RAX_VALUE);
  const pages = c.workingSet / SIZE_4K;
  const instructions = 2 + c.passes * (4 + 4 * pages);
  const run = (): void => {
    mmu.flushTlb(); // every sample starts cold: the first pass walks
    cpu.rip = BigInt(CODE_LA);
    const before = cpu.instructions;
    const stop = cpu.run(2 * instructions);
    if (stop.kind !== 'halt') throw new Error(`the touch program (${c.key}, SNP ${snp ? 'on' : 'off'}) stopped with '${stop.kind}' instead of HLT`);
    if (cpu.instructions - before !== instructions) {
      throw new Error(`the touch program (${c.key}) retired ${cpu.instructions - before} instructions, expected ${instructions}`);
    }
  };
  // One run to check the program did what it says (every page stored to), and count its walks.
  for (const off of [0, c.workingSet / 2, c.workingSet - SIZE_4K]) m.phys.writeU32(DATA_PA + off, 0);
  mmu.resetStats();
  const checks0 = m.rmp.stats.checks;
  run();
  const walksPerRun = mmu.stats.walks;
  for (const off of [0, c.workingSet / 2, c.workingSet - SIZE_4K]) {
    if (m.phys.readU32(DATA_PA + off) !== Number(RAX_VALUE)) throw new Error(`the touch program (${c.key}) did not store to 0x${(DATA_PA + off).toString(16)}`);
  }
  const checks = m.rmp.stats.checks - checks0;
  if (snp ? checks === 0 : checks !== 0) throw new Error(`SNP ${snp ? 'on' : 'off'}, yet ${checks} RMP checks ran`);
  return { run, instructions, walksPerRun };
}

/**
 * The SNP-on machine of a program case, and two SNP-off CPUs over the same physical memory: the
 * same page tables, code and data frames, so the host's memory placement is the same for all
 * three (separate machines differed by up to ±40% in this loop with SNP off on both, from where
 * the host put their 64 MiB of 4 KiB frames).
 */
function programSides(c: ProgramCase): { on: ProgramRun; off: ProgramRun; off2: ProgramRun } {
  const m = new Machine({ memoryBytes: 256 * MIB, snp: true });
  const tables = new TableBuilder(m);
  tables.map(CODE_LA, CODE_LA, SIZE_4K);
  for (let off = 0; off < c.workingSet; off += c.pageBytes) tables.map(DATA_LA + off, DATA_PA + off, c.pageBytes);
  m.phys.writeBytes(CODE_LA, touchCode(c.workingSet / SIZE_4K, c.passes));
  return { on: programSide(c, m, true), off: programSide(c, m, false), off2: programSide(c, m, false) };
}

interface WalkRun {
  walkBatch(): void;
  checksPerWalk: number;
}

function walkMachine(c: WalkCase, snp: boolean): WalkRun {
  // 1G pages need RAM above 1 GiB so that the final check reads a real entry (memory is sparse:
  // only touched frames cost anything). Every 1G page maps the frame at 1 GiB.
  const m = new Machine({ memoryBytes: c.pageBytes === GIB ? 2 * GIB : 256 * MIB, snp });
  const tables = new TableBuilder(m);
  const base = 0x8000000000; // PML4 index 1
  for (let i = 0; i < WALK_PAGES; i++) {
    const pa = c.pageBytes === GIB ? GIB : c.pageBytes === SIZE_2M ? DATA_PA + (i % 32) * SIZE_2M : 0x1000000 + i * SIZE_4K;
    tables.map(base + i * c.pageBytes, pa, c.pageBytes);
  }
  const mmu = m.mmu;
  mmu.setControlRegisters(Number(CR0), 0x1000, Number(CR4), Number(EFER));
  mmu.tlbEnabled = false;
  for (let i = 0; i < WALK_PAGES; i++) mmu.translate(base + i * c.pageBytes, Access.Write); // A and D once
  const size = c.pageBytes;
  const checks0 = m.rmp.stats.checks;
  const walks0 = mmu.stats.walks;
  const walkBatch = (): void => {
    let s = 0;
    for (let k = 0; k < WALK_BATCH; k++) s += mmu.translate(base + (k & (WALK_PAGES - 1)) * size + 0x40, Access.Write);
    do_not_optimize(s);
  };
  walkBatch();
  const checksPerWalk = (m.rmp.stats.checks - checks0) / (mmu.stats.walks - walks0);
  if (snp && checksPerWalk !== c.checks) throw new Error(`walk ${c.label}: ${checksPerWalk} RMP checks per walk, expected ${c.checks}`);
  return { walkBatch, checksPerWalk };
}

interface Pair {
  off: number[];
  on: number[];
  /** The A/A control's second SNP-off machine (program cases only). */
  off2: number[];
}

/** This process's CPU time in nanoseconds (microsecond resolution): mitata's clock here. */
function cpuTimeNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** p50 time per call (ns of CPU time) of f, from mitata. */
async function p50(f: () => void, quick: boolean): Promise<number> {
  const stats = await measure(f, { now: cpuTimeNs, min_samples: quick ? 3 : 5, min_cpu_time: (quick ? 60 : 200) * 1e6 });
  return stats.p50;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

export async function benchmarks(options: BenchOptions): Promise<BenchmarkRecord[]> {
  const rounds = options.quick ? 3 : 7;
  // Walk machines: build order alternates from case to case (see the header).
  const both = <C, M>(c: C, i: number, make: (c: C, snp: boolean) => M): { c: C; off: M; on: M } => {
    if (i % 2 === 0) { const off = make(c, false); return { c, off, on: make(c, true) }; }
    const on = make(c, true);
    return { c, off: make(c, false), on };
  };
  const programs = PROGRAM_CASES.map((c) => ({ c, ...programSides(c) }));
  const walks = WALK_CASES.map((c, i) => both(c, i, walkMachine));
  // ns per run (programs) and per batch (walks), per round, per side.
  const programTimes: Pair[] = programs.map(() => ({ off: [], on: [], off2: [] }));
  const walkTimes: Pair[] = walks.map(() => ({ off: [], on: [], off2: [] }));

  // Warm-up: compile the interpreter, the walk and the checks on both sides before timing.
  for (let i = 0; i < 3; i++) {
    for (const p of programs) { p.off.run(); p.on.run(); p.off2.run(); }
    for (const w of walks) { w.off.walkBatch(); w.on.walkBatch(); }
  }

  // Programs: one run per side per round, the three sides back to back (order rotated each
  // round), so that every round's pair saw the same load.
  const programRounds = options.quick ? 12 : 40;
  const orders = [['off', 'on', 'off2'], ['on', 'off2', 'off'], ['off2', 'off', 'on']] as const;
  // One case at a time: switching between the 64 MiB data sets of different cases between runs
  // made single runs vary far more (host caches and TLB).
  for (let i = 0; i < programs.length; i++) {
    const p = programs[i]!;
    for (let k = 0; k < 2; k++) { p.off.run(); p.on.run(); p.off2.run(); }
    for (let r = 0; r < programRounds; r++) {
      for (const side of orders[r % 3]!) {
        const start = cpuTimeNs();
        p[side].run();
        programTimes[i]![side].push(cpuTimeNs() - start);
      }
    }
  }
  // Walks: mitata's p50 of a batch per side per round, the two sides back to back.
  for (let r = 0; r < rounds; r++) {
    const onFirst = r % 2 === 1;
    for (let i = 0; i < walks.length; i++) {
      const w = walks[i]!;
      const sides = onFirst ? ['on', 'off'] as const : ['off', 'on'] as const;
      for (const side of sides) walkTimes[i]![side].push(await p50(w[side].walkBatch, options.quick));
    }
  }

  const records: BenchmarkRecord[] = [];
  const iqr = (s: ReturnType<typeof summarize>) => ({ kind: 'iqr' as const, low: s.q1, high: s.q3 });
  programs.forEach((p, i) => {
    const t = programTimes[i]!;
    const rate = (ns: number): number => p.off.instructions / (ns / 1e9);
    for (const side of ['off', 'on'] as const) {
      const s = summarize(t[side].map(rate));
      records.push({
        name: `rmp.program.${p.c.key}.snp-${side}`, group: 'rmp', unit: 'instructions/s', status: 'ok',
        median: s.median, spread: iqr(s), samples: s.samples,
        details: {
          label: `touch ${p.c.label}, SNP ${side}`, instructionsPerRun: p.off.instructions,
          walksPerRun: p[side].walksPerRun, tlbHitHeavy: p.c.tlbHitHeavy,
        },
      });
    }
    // The figure: median(on) / median(off) − 1 over all rounds (single runs on this machine vary
    // by ±25% independently, so the ratio of medians is steadier than the median of per-round
    // ratios); the spread: the IQR of the per-round ratios.
    const perRound = summarize(t.on.map((on, r) => (on / t.off[r]! - 1) * 100));
    const overhead = { ...perRound, median: (summarize(t.on).median / summarize(t.off).median - 1) * 100 };
    // Per walk only where walks dominate: 65 walks in half a million instructions say nothing.
    const extraPerWalk = p.c.tlbHitHeavy ? null : summarize(t.on.map((on, r) => (on - t.off[r]!) / p.on.walksPerRun));
    records.push({
      name: `rmp.overhead.${p.c.key}`, group: 'rmp', unit: '% slower with SNP on', status: 'ok',
      median: round1(overhead.median), spread: { kind: 'iqr', low: round1(overhead.q1), high: round1(overhead.q3) }, samples: overhead.samples,
      note: `${p.c.tlbHitHeavy ? 'TLB-hit-heavy' : 'walk-heavy'}: ${p.on.walksPerRun} walks per run of ${p.off.instructions} instructions; median(on)/median(off) − 1, spread: IQR of per-round ratios`,
      details: {
        label: `touch ${p.c.label}`, tlbHitHeavy: p.c.tlbHitHeavy, target: p.c.tlbHitHeavy ? '<= 10%' : 'none (walk-heavy)',
        walksPerRun: p.on.walksPerRun, extraNsPerWalk: extraPerWalk === null ? null : round1(extraPerWalk.median),
      },
    });
    const controlRounds = summarize(t.off2.map((off2, r) => (off2 / t.off[r]! - 1) * 100));
    const control = { ...controlRounds, median: (summarize(t.off2).median / summarize(t.off).median - 1) * 100 };
    records.push({
      name: `rmp.control.${p.c.key}`, group: 'rmp', unit: '% slower (2nd SNP-off machine)', status: 'ok',
      median: round1(control.median), spread: { kind: 'iqr', low: round1(control.q1), high: round1(control.q3) }, samples: control.samples,
      note: 'A/A control: a second SNP-off machine against the first, same rounds; the noise floor of rmp.overhead',
      details: { label: `control: touch ${p.c.label}, SNP off twice` },
    });
  });
  walks.forEach((w, i) => {
    const t = walkTimes[i]!;
    for (const side of ['off', 'on'] as const) {
      const s = summarize(t[side].map((ns) => WALK_BATCH / (ns / 1e9)));
      records.push({
        name: `rmp.walk.${w.c.key}.snp-${side}`, group: 'rmp', unit: 'walks/s', status: 'ok',
        median: s.median, spread: iqr(s), samples: s.samples,
        details: { label: `walk ${w.c.label} (write), TLB off, SNP ${side}${side === 'on' ? ', real RMP table' : ''}`, rmpChecksPerWalk: w[side].checksPerWalk },
      });
    }
    const extra = summarize(t.on.map((on, r) => (on - t.off[r]!) / WALK_BATCH));
    records.push({
      name: `rmp.walk-extra.${w.c.key}`, group: 'rmp', unit: 'ns per walk', status: 'ok',
      median: round1(extra.median), spread: { kind: 'iqr', low: round1(extra.q1), high: round1(extra.q3) }, samples: extra.samples,
      note: `SNP on minus off, per round: ${w.c.checks} RMP checks per walk${w.c.pageBytes === SIZE_4K ? '' : w.c.pageBytes === SIZE_2M ? ' (the final one covers the 512 entries of the 2M region)' : ' (the final one covers the 2M sub-region)'}`,
      details: {
        label: `extra cost of a ${w.c.label} walk with SNP on`, checksPerWalk: w.c.checks,
        nsPerCheck: round3(extra.median / w.c.checks),
      },
    });
  });
  return records;
}

// Stand-alone: print the records as a table (and as JSON with --json).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const records = await benchmarks({ quick: process.argv.includes('--quick') });
  const fmt = (v: number): string => (Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v.toFixed(1));
  for (const r of records) {
    const spread = r.spread ? `${fmt(r.spread.low)}..${fmt(r.spread.high)}` : '';
    console.log(`${r.name.padEnd(34)} ${fmt(r.median!).padStart(9)} ${r.unit.padEnd(22)} IQR ${spread.padEnd(20)} ${JSON.stringify(r.details ?? {})}`);
  }
  if (process.argv.includes('--json')) console.log(JSON.stringify(records));
}
