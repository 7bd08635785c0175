// RMP #PF round trips per second: a user write faults on the RMP check, the v7 handler decides
// SPLIT, split_huge_pmd swaps the PMD for 512 PTEs, and the write retries and succeeds
// (spec/rmp.md §6.2, the conformance scenario rmp-05-thp-split-shared-neighbour, repeated).
//
// The machine: one THP region of REGIONS x 2 MiB, each 2 MiB block holding one guest-valid page
// at +0x7000, so a 2M mapping of the block fails the RMP check (a 2M mapping needs all 512
// entries unassigned, spec/rmp.md §3.1) although the written page itself is shared. The program
// writes one dword into each block at +0x80010: every write is one round trip.
// A second machine without the guest pages runs the same program with no fault at all; the
// difference of the two run times, divided by REGIONS, is the cost of one round trip. Machine
// building (prepareScenario) is not timed.
//
// It runs through the scenario runner, the same path `snpemu scenario` takes, so until the kernel
// and the machine exist the record says 'waiting' with the reason.

import { summarize } from '../harness/stats.ts';
import type { BenchmarkRecord } from '../harness/record.ts';
import type { BenchOptions } from '../harness/modules.ts';

const TWO_MIB = 0x200000;
const BUF = 0x40000000;

// 1: mov dword ptr [rdi], 0xa5a5a5a5 ; add rdi, 0x200000 ; dec ecx ; jnz 1b
//    mov eax, 60 ; xor edi, edi ; syscall          (exit(0); assembled with GNU as)
const PROGRAM_HEX = 'c7 07 a5 a5 a5 a5 48 81 c7 00 00 20 00 ff c9 75 ef b8 3c 00 00 00 31 ff 0f 05';

/** The scenario (format 1, spec/scenario.md) for `regions` blocks, with or without guest pages. */
export function roundTripScenario(regions: number, withGuestPages: boolean): unknown {
  return {
    format: 1,
    name: `bench: ${regions} RMP #PF round trips (v7 split, retry)${withGuestPages ? '' : ', baseline without guest pages'}`,
    kernel: 'v7',
    machine: { memory: `${64 + 2 * regions + 16}M` },
    process: {
      regions: [
        { name: 'code', at: '0x400000', size: '4K', prot: 'r-x', page: '4K', kind: 'anon', hex: PROGRAM_HEX },
        { name: 'buf', at: `0x${BUF.toString(16)}`, size: `${2 * regions}M`, prot: 'rw-', page: '2M', kind: 'thp' },
      ],
      entry: 'code',
      regs: { rdi: 'buf+0x80010', rcx: `${regions}` },
    },
    rmp: withGuestPages
      ? Array.from({ length: regions }, (_, i) => ({
        page: `buf+0x${(i * TWO_MIB + 0x7000).toString(16)}`, state: 'guest-valid', asid: 1, gpa: `0x${(i * TWO_MIB + 0x7000).toString(16)}`, size: '4K',
      }))
      : [],
    run: { maxInstructions: 100_000, maxFaults: regions + 8 },
  };
}

interface ScenarioApi {
  loadScenario(input: unknown, file?: string): unknown;
  prepareScenario(s: unknown): { run(): { outcome: { kind: string; exitCode?: number; message: string }; faults: unknown[]; kernel: { action: string }[] } };
}

async function loadApi(): Promise<ScenarioApi | string> {
  try {
    const load = await import('../../src/scenario/load.ts');
    const run = await import('../../src/scenario/run.ts');
    return { loadScenario: load.loadScenario, prepareScenario: run.prepareScenario } as unknown as ScenarioApi;
  } catch (error) {
    return error instanceof Error ? error.message.split('\n')[0]! : String(error);
  }
}

export async function benchmarks(options: BenchOptions): Promise<BenchmarkRecord[]> {
  const name = 'rmp-fault.v7-split-retry';
  const base = { name, group: 'rmp-fault', unit: 'round trips/s' };
  const api = await loadApi();
  if (typeof api === 'string') return [{ ...base, status: 'waiting', note: `the kernel and scenario runner are not usable yet: ${api}` }];

  const regions = options.quick ? 32 : 64;
  const samples = options.quick ? 5 : 15;
  const timeRun = (withGuestPages: boolean): number => {
    const prepared = api.prepareScenario(api.loadScenario(roundTripScenario(regions, withGuestPages), '<bench>'));
    const start = performance.now();
    const record = prepared.run();
    const ms = performance.now() - start;
    const splits = record.kernel.filter((k) => k.action === 'split').length;
    const expected = withGuestPages ? regions : 0;
    if (record.outcome.kind !== 'exit' || record.outcome.exitCode !== 0 || record.faults.length !== expected || splits !== expected) {
      throw new Error(`expected exit 0 after ${expected} faults and splits, got ${record.outcome.kind} (${record.outcome.message}) after ${record.faults.length} faults and ${splits} splits`);
    }
    return ms;
  };
  try {
    timeRun(true); // warm the JIT on both paths
    timeRun(false);
    const perSecond: number[] = [];
    const faultMs: number[] = [];
    for (let s = 0; s < samples; s++) {
      const withFaults = timeRun(true);
      const without = timeRun(false);
      faultMs.push(withFaults);
      if (withFaults > without) perSecond.push(regions / ((withFaults - without) / 1000));
    }
    if (perSecond.length === 0) return [{ ...base, status: 'failed', note: 'the runs with faults were never slower than the runs without: the difference is below timer resolution' }];
    const s = summarize(perSecond);
    return [{
      ...base,
      status: 'ok',
      median: s.median,
      spread: { kind: 'iqr', low: s.q1, high: s.q3 },
      samples: s.samples,
      details: { roundTripsPerRun: regions, medianRunMsWithFaults: Math.round(summarize(faultMs).median * 100) / 100 },
    }];
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    return [{ ...base, status: /Cannot find module|ERR_MODULE_NOT_FOUND/.test(message) ? 'waiting' : 'failed', note: message }];
  }
}
