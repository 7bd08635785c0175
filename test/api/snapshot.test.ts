// Snapshots: restore and re-run gives the identical result (bare machines and processes, mid-run
// too), every part of the machine comes back (CPU fields, memory, RMP side state, kernel), and a
// fuzz-style loop over thousands of restores stays deterministic.

import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Machine, MachineError, SnapshotMismatchError } from '../../src/index.ts';
import { CPU_STATE_FIELDS, CPU_WIRING_FIELDS } from '../../src/api/snapshot.ts';
import { bareMachine, helloProcess, plain, CODE_VA, DATA_PA, DATA_VA, LOOP } from './fixtures.ts';

const SCENARIO_01 = new URL('../../scenarios/01-thp-shared-page-v7.json', import.meta.url).pathname;

/**
 * PARSER: sums `len` bytes after a length byte at [rdi]; stores the sum at [rdi-8]. Two bugs:
 * len > 0x7f reads past the data page (buffer at 0x600f80, next page unmapped: #PF), and a sum of
 * exactly 0x1ff hits UD2.
 *   400000: 0f b6 0f        movzx ecx, byte [rdi]
 *   400003: 31 c0           xor eax, eax
 *   400005: 48 8d 77 01     lea rsi, [rdi+1]
 *   400009: 85 c9           .loop: test ecx, ecx
 *   40000b: 74 0c           jz .done
 *   40000d: 0f b6 16        movzx edx, byte [rsi]
 *   400010: 01 d0           add eax, edx
 *   400012: 48 ff c6        inc rsi
 *   400015: ff c9           dec ecx
 *   400017: eb f0           jmp .loop
 *   400019: 3d ff 01 00 00  .done: cmp eax, 0x1ff
 *   40001e: 75 02           jne .ok
 *   400020: 0f 0b           ud2
 *   400022: 89 47 f8        .ok: mov [rdi-8], eax
 *   400025: f4              hlt
 */
export const PARSER = '0f b6 0f 31 c0 48 8d 77 01 85 c9 74 0c 0f b6 16 01 d0 48 ff c6 ff c9 eb f0 3d ff 01 00 00 75 02 0f 0b 89 47 f8 f4';
const INPUT_VA = DATA_VA + 0xf80;
const INPUT_PA = DATA_PA + 0xf80;

function parserMachine(): Machine {
  const m = bareMachine(PARSER);
  m.regs.rdi = BigInt(INPUT_VA);
  return m;
}

/** A small deterministic generator (xorshift32), so the fuzz test is reproducible. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe('snapshot covers the CPU', () => {
  it('every Cpu field is either saved state or listed as wiring', () => {
    const m = new Machine({ memory: '4M', snp: false });
    const known = new Set<string>([...CPU_STATE_FIELDS, ...CPU_WIRING_FIELDS]);
    const unknown = Object.keys(m.core.cpu).filter((k) => !known.has(k));
    expect(unknown).toEqual([]);
  });
});

describe('restore and re-run gives the identical result', () => {
  it('on a bare machine', () => {
    const m = bareMachine(LOOP);
    const snap = m.snapshot();
    const first = plain(m.run());
    const regs1 = m.registers();
    const mem1 = m.readPhysical(DATA_PA, 16);
    m.restore(snap);
    expect(m.regs.rip).toBe(BigInt(CODE_VA));
    expect(m.readPhysical64(DATA_PA)).toBe(0n);
    const second = plain(m.run());
    expect(second).toEqual(first);
    expect(m.registers()).toEqual(regs1);
    expect(m.readPhysical(DATA_PA, 16)).toEqual(mem1);
  });

  it('for a process under the v7 kernel (stdout, exit, kernel state)', () => {
    const m = helloProcess();
    const snap = m.snapshot();
    const first = plain(m.run());
    expect(first).toMatchObject({ outcome: { kind: 'exit', exitCode: 0 }, stdout: 'hi\n' });
    m.restore(snap);
    expect(plain(m.run())).toEqual(first);
    // Once more: output does not pile up across restores (the kernel's stdout is restored too).
    m.restore(snap);
    expect(plain(m.run())).toEqual(first);
  });

  it('from a snapshot taken in the middle of a run', () => {
    const whole = plain(helloProcess().run());
    const m = helloProcess();
    expect(m.run({ until: 0x400018 }).outcome.kind).toBe('until'); // after write, before exit
    const snap = m.snapshot();
    const rest = plain(m.run());
    m.restore(snap);
    expect(plain(m.run())).toEqual(rest);
    expect((rest as { stdout: string }).stdout).toBe((whole as { stdout: string }).stdout);
  });

  it('for a scenario: runScenario after a restore equals a fresh `snpemu scenario` run', () => {
    const fresh = Machine.fromScenario(SCENARIO_01).runScenario();
    const m = Machine.fromScenario(SCENARIO_01);
    const snap = m.snapshot();
    m.run();
    m.restore(snap);
    expect(plain(m.runScenario())).toEqual(plain(fresh));
    expect(fresh.expect.passed).toBe(true);
  });
});

describe('restore and re-run, for every scenario in scenarios/', () => {
  const dir = new URL('../../scenarios/', import.meta.url).pathname;
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  it.each(files)('%s: run, restore, run again gives the same scenario result', (f) => {
    const m = Machine.fromScenario(dir + f);
    const snap = m.snapshot();
    const first = plain(m.runScenario());
    m.restore(snap);
    expect(plain(m.runScenario())).toEqual(first);
  });

  it('a snapshot taken right after the v7 handler split a THP restores the split tables and VMAs', () => {
    const m = Machine.fromScenario(SCENARIO_01);
    m.hooks.add('kernel-decision', () => 'stop');
    expect(m.run().outcome).toMatchObject({ kind: 'stopped', by: 'kernel-decision' });
    m.hooks.clear();
    const snap = m.snapshot();
    const pageSize = m.translate(0x40080010).pageSize; // 4K after the split
    const rest = plain(m.run());
    expect(rest).toMatchObject({ outcome: { kind: 'exit', exitCode: 0 }, faults: [] });
    m.restore(snap);
    expect(m.translate(0x40080010).pageSize).toBe(pageSize);
    expect(plain(m.run())).toEqual(rest);
  });
});

describe('restore brings back every part', () => {
  it('RMP states set after the snapshot are undone, and their checks with them', () => {
    const m = bareMachine(LOOP);
    const snap = m.snapshot();
    m.setRmp(DATA_PA, { state: 'guest-valid', asid: 1, gpa: 0x1000 });
    expect(m.rmpEntry(DATA_PA).state).toBe('guest-valid');
    expect(m.run().outcome.kind).toBe('exception');
    m.restore(snap);
    expect(m.rmpEntry(DATA_PA).state).toBe('hypervisor');
    expect(m.run().outcome.kind).toBe('halt');
    expect(m.readPhysical64(DATA_PA)).toBe(5n);
  });

  it('RMP side state (injected busy entries) is restored', () => {
    const m = bareMachine(LOOP);
    const snap = m.snapshot();
    m.rmp.injectBusy(DATA_PA / 4096, { accesses: 100 }); // 99 left after the faulting access
    const busy = m.run();
    expect(busy.outcome).toMatchObject({ kind: 'exception', fault: { rmp: true } });
    m.restore(snap);
    expect(m.run().outcome.kind).toBe('halt');
  });

  it('a snapshot taken before createProcess brings back the machine without a process', () => {
    const m = new Machine({ memory: '16M' });
    const snap = m.snapshot();
    m.createProcess({ regions: [{ name: 'code', at: 0x400000, size: '4K', prot: 'r-x', bytes: 'f4' }], entry: 'code' });
    expect(m.kernel).not.toBeNull();
    m.restore(snap);
    expect(m.kernel).toBeNull();
    expect(m.symbols).toEqual({});
  });

  it('a snapshot restores only the machine that took it', () => {
    const a = bareMachine(LOOP);
    const b = bareMachine(LOOP);
    expect(() => b.restore(a.snapshot())).toThrow(SnapshotMismatchError);
    expect(() => b.restore({} as never)).toThrow(MachineError);
  });
});

describe('fuzz-style loop over restores', () => {
  it('thousands of restores of a tiny parser stay deterministic and find both bugs', () => {
    const m = parserMachine();
    const snap = m.snapshot();
    const next = xorshift(0x5eed);
    const outcomes = new Map<string, number>();
    const samples: { input: Uint8Array; result: unknown }[] = [];
    const ITERATIONS = 2000;
    for (let i = 0; i < ITERATIONS; i++) {
      m.restore(snap);
      const len = next() % 0x90; // sometimes past 0x7f: reads off the page
      const input = new Uint8Array(1 + Math.min(len, 0x7f));
      input[0] = len;
      for (let j = 1; j < input.length; j++) input[j] = next() & 0xff;
      // Every 50th input is crafted to sum to 0x1ff: 0xff + 0xff + 0x01.
      if (i % 50 === 0) input.set([3, 0xff, 0xff, 0x01]);
      m.writePhysical(INPUT_PA, input);
      const r = m.run({ maxInstructions: 10_000 });
      const key = r.outcome.kind === 'exception' ? `exception #${r.outcome.fault.name}` : r.outcome.kind;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (i % 97 === 0) samples.push({ input: input.slice(), result: plain({ ...r, sum: m.readPhysical64(INPUT_PA - 8) }) });
    }
    expect(outcomes.get('exception #UD')).toBeGreaterThanOrEqual(ITERATIONS / 50);
    expect(outcomes.get('exception #PF')).toBeGreaterThan(0);
    expect(outcomes.get('halt')).toBeGreaterThan(0);
    // The same inputs on fresh machines give the same results as they did after restores.
    for (const s of samples) {
      const f = parserMachine();
      f.writePhysical(INPUT_PA, s.input);
      const r = f.run({ maxInstructions: 10_000 });
      expect(plain({ ...r, sum: f.readPhysical64(INPUT_PA - 8) })).toEqual(s.result);
    }
  });
});
