// Steering execution from hooks (unicorn #1027, #578, #2047, #793): skip an instruction, emulate
// one, map memory on demand and retry.

import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.ts';
import {
  bareMachine, CODE_VA, DATA_PA, LOOP, LOOP_ADD, UD2_AT, UD2_PROGRAM, WRITE_UNMAPPED,
} from './fixtures.ts';

describe('steering', () => {
  it('an instruction hook skips an instruction by moving RIP past it', () => {
    const m = bareMachine(LOOP);
    m.hooks.add('instruction', (e, mm) => {
      mm.regs.rip = e.rip + BigInt(mm.decode(e.rip).length);
    }, { begin: LOOP_ADD, end: LOOP_ADD });
    const r = m.run();
    expect(r.outcome.kind).toBe('halt');
    // The five adds were skipped: memory stays 0 and 17 - 5 = 12 instructions retired.
    expect(m.readPhysical64(DATA_PA)).toBe(0n);
    expect(r.stats.instructions).toBe(12);
  });

  it('an instruction hook emulates an instruction the CPU would reject', () => {
    const m = bareMachine(UD2_PROGRAM);
    // Give UD2 a meaning: rax += 10, then continue after its 2 bytes.
    m.hooks.add('instruction', (e, mm) => {
      mm.regs.rax += 10n;
      mm.regs.rip = e.rip + 2n;
    }, { begin: UD2_AT, end: UD2_AT });
    const r = m.run();
    // mov eax, 1 → 1; "ud2" → 11; add eax, eax → 22.
    expect(r.outcome.kind).toBe('halt');
    expect(m.regs.rax).toBe(22n);
    expect(r.faults).toEqual([]);
  });

  it('an exception hook emulates the instruction that raised #UD and retries after it', () => {
    const m = bareMachine(UD2_PROGRAM);
    const h = m.hooks.add('exception', (e, mm) => {
      if (e.name !== 'UD') return undefined;
      expect(e.rip).toBe(BigInt(UD2_AT)); // the exact RIP of the faulting instruction (unicorn #460)
      mm.regs.rax += 10n;
      mm.regs.rip = e.rip + BigInt(mm.decode(e.rip).length);
      return 'retry';
    });
    const r = m.run();
    expect(h.calls).toBe(1);
    expect(r.outcome.kind).toBe('halt');
    expect(m.regs.rax).toBe(22n);
  });

  it('an exception hook maps the missing page and retries the faulting instruction', () => {
    const m = bareMachine(WRITE_UNMAPPED);
    m.regs.rsi = 0x800000n;
    const h = m.hooks.add('exception', (e, mm) => {
      if (e.name !== 'PF' || e.address !== 0x800000n) return 'stop';
      // #PF of a supervisor write to a not-present page: W = 2, P = 0 (AMD APM Vol.2 §8.4.2).
      expect(e.errorCode).toBe(2);
      mm.map({ va: 0x800000, pa: 0x500000, flags: ['P', 'RW', 'NX'] });
      return 'retry';
    });
    const r = m.run();
    expect(h.calls).toBe(1);
    expect(r.outcome.kind).toBe('halt');
    expect(r.faults).toEqual([]); // retried exceptions are not delivered
    expect(m.readPhysical64(0x500000)).toBe(0x1234n);
    expect(r.stats.instructions).toBe(2);
  });

  it('an exception hook that retries without fixing anything ends at the fault budget, never hangs', () => {
    const m = bareMachine(WRITE_UNMAPPED);
    m.regs.rsi = 0x800000n;
    const h = m.hooks.add('exception', () => 'retry');
    const r = m.run({ maxFaults: 10 });
    expect(r.outcome).toMatchObject({ kind: 'limit', budget: 'faults' });
    expect(h.calls).toBe(10); // the 11th exception is over the budget and ends the run
    expect(r.rip).toBe(BigInt(CODE_VA));
  });

  it('an instruction hook may change any register and the instruction sees it', () => {
    const m = bareMachine(LOOP);
    // Before the first add, point rdi at the qword 8 bytes further on.
    let done = false;
    m.hooks.add('instruction', (_e, mm) => {
      if (!done) mm.regs.rdi += 8n;
      done = true;
    }, { begin: LOOP_ADD, end: LOOP_ADD });
    m.run();
    expect(m.readPhysical64(DATA_PA)).toBe(0n);
    expect(m.readPhysical64(DATA_PA + 8)).toBe(5n);
  });

  it('under a kernel, an exception hook skips a faulting instruction before the kernel sees it', () => {
    const m = new Machine({ memory: '16M' });
    // 400000: 0f 0b ud2 ; 400002: b8 3c 00 00 00 mov eax, 60 ; 400007: bf 03 00 00 00 mov edi, 3 ; 40000c: 0f 05 syscall
    m.createProcess({ regions: [{ name: 'code', at: 0x400000, size: '4K', prot: 'r-x', bytes: '0f 0b b8 3c 00 00 00 bf 03 00 00 00 0f 05' }], entry: 'code' });
    m.hooks.add('exception', (e, mm) => {
      if (e.name !== 'UD') return undefined;
      mm.regs.rip = e.rip + 2n;
      return 'retry';
    });
    const r = m.run();
    // Without the hook the kernel would send SIGILL for the #UD; with it the process exits with 3.
    expect(r.outcome).toMatchObject({ kind: 'exit', exitCode: 3 });
    expect(r.faults).toEqual([]);
  });
});
