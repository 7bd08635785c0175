// bench/results.json's schema, and the RESULTS.md splice that must keep hand-written sections.
import { describe, expect, it } from 'vitest';
import { validateResults, type Results } from '../../bench/harness/record.ts';
import { GENERATED_END, GENERATED_START, renderGenerated, spliceGenerated } from '../../bench/harness/report.ts';
import { summarize } from '../../bench/harness/stats.ts';

function sample(): Results {
  return {
    schema: 1,
    date: '2026-11-25T20:00:00.000Z',
    quick: true,
    machine: { cpuModel: 'Test CPU', cores: 2, memoryBytes: 2 ** 34, os: 'Linux', node: 'v20.20.2' },
    benchmarks: [
      {
        name: 'program.alu.qemu', group: 'program', unit: 'instructions/s', status: 'ok', median: 2e9,
        spread: { kind: 'iqr', low: 1.9e9, high: 2.1e9 }, samples: 3,
        details: { program: 'alu', engine: 'qemu', iterations: 100, loopMs: 250, wallMs: 260, startupMs: 10, ratioToSnpemu: 20 },
      },
      {
        name: 'program.alu.snpemu', group: 'program', unit: 'instructions/s', status: 'ok', median: 1e8,
        spread: { kind: 'iqr', low: 0.9e8, high: 1.1e8 }, samples: 3,
        details: { program: 'alu', engine: 'snpemu', iterations: 100, loopMs: 5000, wallMs: 5400, startupMs: 400, ratioToSnpemu: 1 },
      },
      { name: 'program.alu.bochs', group: 'program', unit: 'instructions/s', status: 'unavailable', note: 'bochs is not installed', details: { program: 'alu', engine: 'bochs' } },
      { name: 'rmp-fault', group: 'rmp-fault', unit: 'n/a', status: 'waiting', note: 'the kernel is not there yet' },
    ],
  };
}

describe('validateResults', () => {
  it('accepts a well-formed document', () => {
    expect(validateResults(sample())).toEqual([]);
    expect(validateResults(JSON.parse(JSON.stringify(sample())))).toEqual([]);
  });

  it('names each problem', () => {
    const r = sample() as unknown as { benchmarks: Record<string, unknown>[]; machine: Record<string, unknown>; schema: number };
    r.schema = 2;
    r.machine.cores = 0;
    r.benchmarks[0]!.spread = { kind: 'iqr', low: 3, high: 1 };
    delete r.benchmarks[1]!.median;
    r.benchmarks[2]!.median = 5;
    r.benchmarks[3]!.name = 'program.alu.qemu';
    expect(validateResults(r)).toEqual([
      'schema must be 1',
      'machine.cores must be a positive integer',
      "benchmarks[0]: an 'ok' record needs a spread {kind: 'iqr' | 'min-max', low <= high}",
      "benchmarks[1]: an 'ok' record needs a finite median",
      "benchmarks[2]: a 'unavailable' record must not carry a median",
      "benchmarks[3].name 'program.alu.qemu' is not unique",
    ]);
  });

  it('refuses a figure-less record without a reason', () => {
    const r = sample();
    delete r.benchmarks[3]!.note;
    expect(validateResults(r)).toEqual(["benchmarks[3]: a 'waiting' record needs a note saying why"]);
  });
});

describe('summarize', () => {
  it('gives the median and the quartiles by linear interpolation', () => {
    // Sorted 1 2 3 4 10: median 3; Q1 at position 1 -> 2; Q3 at position 3 -> 4.
    expect(summarize([10, 1, 3, 2, 4])).toEqual({ median: 3, q1: 2, q3: 4, min: 1, max: 10, samples: 5 });
    // Sorted 1 2 3 4: median at position 1.5 -> 2.5; Q1 at 0.75 -> 1.75; Q3 at 2.25 -> 3.25.
    expect(summarize([4, 3, 2, 1])).toEqual({ median: 2.5, q1: 1.75, q3: 3.25, min: 1, max: 4, samples: 4 });
  });
});

describe('RESULTS.md splice', () => {
  const generated = renderGenerated(sample(), { programs: 'programs.svg' });

  it('creates the markers at the top of a file that has none, keeping the file after them', () => {
    const handWritten = '# CPU\n\n2026-11-25: ALU loop 120 M/s\n';
    const out = spliceGenerated(handWritten, generated);
    expect(out.startsWith(`${GENERATED_START}\n`)).toBe(true);
    expect(out.endsWith(`${GENERATED_END}\n\n${handWritten}`)).toBe(true);
  });

  it('rewrites only what lies between the markers, byte for byte elsewhere', () => {
    const before = '# Benchmark results\r\n\n  intro with trailing spaces  \n';
    const after = '\n\n## MMU (2026-11-25)\n| walk | 20 M/s |\n\n## CPU\nno newline at end';
    const file = `${before}${GENERATED_START}\nold figures\n${GENERATED_END}${after}`;
    const out = spliceGenerated(file, generated);
    expect(out.slice(0, before.length)).toBe(before);
    expect(out.slice(out.length - after.length)).toBe(after);
    expect(out).not.toContain('old figures');
    expect(spliceGenerated(out, generated)).toBe(out);
  });

  it('refuses a file with only one marker', () => {
    expect(() => spliceGenerated(`x\n${GENERATED_START}\ny\n`, generated)).toThrow(/only one of the markers/);
  });

  it('reports figures with their ratio to snpemu, and the reason for a missing one', () => {
    expect(generated).toContain('| alu | 100M (1.0x) | 2G (20x) | n/a |');
    expect(generated).toContain('- alu / bochs: **unavailable**: bochs is not installed');
    expect(generated).toContain('| rmp-fault | waiting |  |  | the kernel is not there yet |');
    expect(generated).toContain('![instructions per second by engine](programs.svg)');
  });
});
