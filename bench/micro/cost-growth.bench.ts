// Cost growth: snpemu's translations per second as the working set grows from 1 MiB to 1 GiB,
// with 4 KiB and with 2 MiB pages, so users see where the TLB stops helping.
//
// For each working set, the MMU (TLB on) translates one read per 4 KiB across the set, pass after
// pass: while the set's pages fit the TLB every access is a hit; past that, accesses walk. The
// record gives translations/s, the measured walks per access (from the MMU's own counters), and,
// for scale, the walk rate with the TLB switched off on the same set.
//
// Page tables: linear [0, 1 GiB) identity-mapped onto physical [0, 1 GiB) at CPL 3 (user, writable
// at every level), tables above 1 GiB. Only the tables are ever written, so the sparse physical
// memory costs a few MiB (src/mem/physical.ts).

import { PhysicalMemory } from '../../src/mem/physical.ts';
import { Mmu } from '../../src/mmu/mmu.ts';
import { Access } from '../../src/mmu/linear-memory.ts';
import { RmpTable } from '../../src/rmp/table.ts';
import { summarize } from '../harness/stats.ts';
import type { BenchmarkRecord } from '../harness/record.ts';
import type { BenchOptions } from '../harness/modules.ts';

const MiB = 1 << 20;
const TWO_MIB = 2097152;
const GiB = 1 << 30;
const PAGE = 4096;
const TABLES_BASE = GiB;
// Entry bits (AMD APM Vol.2 §5.4.1): P, R/W, U/S, PS.
const P_RW_US = 0x7;
const PS = 0x80;
// Long mode with paging, as a kernel runs user code (AMD APM Vol.2 §14.6).
const CR0_PE_WP_PG = 0x8001_0001;
const CR4_PAE = 0x20;
const EFER_LME_LMA = 0x500;

export const WORKING_SETS: readonly number[] = Array.from({ length: 11 }, (_, i) => MiB << i); // 1 MiB .. 1 GiB

/** Identity-map [0, 1 GiB) with 4 KiB or 2 MiB pages; returns CR3. */
export function buildIdentityTables(phys: PhysicalMemory, pageBytes: 4096 | 2097152): number {
  const pml4 = TABLES_BASE;
  const pdpt = pml4 + PAGE;
  const pd = pdpt + PAGE;
  const firstPt = pd + PAGE;
  phys.writeU32(pml4, pdpt | P_RW_US);
  phys.writeU32(pdpt, pd | P_RW_US);
  for (let i = 0; i < 512; i++) {
    if (pageBytes === PAGE) {
      const pt = firstPt + i * PAGE;
      phys.writeU32(pd + i * 8, pt | P_RW_US);
      for (let j = 0; j < 512; j++) phys.writeU32(pt + j * 8, (i * 512 + j) * PAGE + P_RW_US);
    } else {
      phys.writeU32(pd + i * 8, i * 2 * MiB + (PS | P_RW_US));
    }
  }
  return pml4;
}

function newMmu(pageBytes: 4096 | 2097152): Mmu {
  const phys = new PhysicalMemory(GiB + 4 * MiB);
  const cr3 = buildIdentityTables(phys, pageBytes);
  const mmu = new Mmu(phys, new RmpTable(phys));
  mmu.setCpl(3);
  mmu.setControlRegisters(CR0_PE_WP_PG, cr3, CR4_PAE, EFER_LME_LMA);
  return mmu;
}

/** Translate one read per 4 KiB over the working set, `passes` times; returns the checksum of PAs. */
function sweep(mmu: Mmu, workingSet: number, passes: number): number {
  let sum = 0;
  for (let p = 0; p < passes; p++) {
    for (let la = 0; la < workingSet; la += PAGE) sum += mmu.translate(la, Access.Read);
  }
  return sum;
}

interface Rate {
  perSecond: number[];
  walksPerAccess: number;
}

/** Time sweeps of at least `minMs` each, `samples` times. */
function measure(mmu: Mmu, workingSet: number, samples: number, minMs: number): Rate {
  const pages = workingSet / PAGE;
  sweep(mmu, workingSet, 1); // warm: the A bits are set and the TLB holds what it can
  // Passes per sample, from one timed pass.
  let start = performance.now();
  sweep(mmu, workingSet, 1);
  const onePass = Math.max(performance.now() - start, 0.001);
  const passes = Math.max(1, Math.ceil(minMs / onePass));
  const perSecond: number[] = [];
  mmu.resetStats();
  for (let s = 0; s < samples; s++) {
    start = performance.now();
    sweep(mmu, workingSet, passes);
    perSecond.push((pages * passes) / ((performance.now() - start) / 1000));
  }
  return { perSecond, walksPerAccess: mmu.stats.walks / (pages * passes * samples) };
}

export async function benchmarks(options: BenchOptions): Promise<BenchmarkRecord[]> {
  const samples = options.quick ? 3 : 5;
  const minMs = options.quick ? 25 : 150;
  const records: BenchmarkRecord[] = [];
  // Warm up first, so the first working set does not pay for the JIT compiling the walk.
  for (const pageBytes of [PAGE, TWO_MIB] as const) {
    const warm = newMmu(pageBytes);
    for (const on of [true, false, true]) {
      warm.tlbEnabled = on;
      measure(warm, 64 * MiB, 2, minMs);
      measure(warm, 4 * MiB, 2, minMs);
    }
    warm.dispose();
  }
  for (const pageBytes of [PAGE, TWO_MIB] as const) {
    const pageSize = pageBytes === PAGE ? '4K' : '2M';
    const mmu = newMmu(pageBytes);
    for (const workingSet of WORKING_SETS) {
      mmu.tlbEnabled = true;
      mmu.flushTlb();
      const on = measure(mmu, workingSet, samples, minMs);
      mmu.tlbEnabled = false;
      const off = measure(mmu, workingSet, 1, minMs / 2);
      const s = summarize(on.perSecond);
      records.push({
        name: `cost-growth.${pageSize}.${workingSet / MiB}MiB`,
        group: 'cost-growth',
        unit: 'translations/s',
        status: 'ok',
        median: s.median,
        spread: { kind: 'iqr', low: s.q1, high: s.q3 },
        samples: s.samples,
        details: {
          pageSize,
          workingSetBytes: workingSet,
          walksPerAccess: Math.round(on.walksPerAccess * 1000) / 1000,
          tlbOffWalksPerSecond: Math.round(summarize(off.perSecond).median),
        },
      });
    }
    mmu.dispose();
  }
  return records;
}
