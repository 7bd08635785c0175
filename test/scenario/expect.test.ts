// The expect checker's comparison rules (spec/scenario.md, "expect"): whole-list comparison of
// faults and kernel decisions, prefix comparison under livelock/limit, symbols in addresses.

import { describe, expect, it } from 'vitest';
import { checkExpectations, type ExpectContext } from '../../src/scenario/expect.ts';
import type { RunRecord } from '../../src/scenario/record.ts';
import type { ExpectSpec } from '../../src/scenario/types.ts';

const BUF = 0x40000000n;
const ctx: ExpectContext = {
  resolve: (v) => (typeof v === 'bigint' ? v : BUF + v.offset),
  readMemory: (at, n) => (at === BUF ? new Uint8Array([0xa5, 0xa5, 0xa5, 0xa5]).subarray(0, n) : 'not mapped: PTE at 0x1000 is not present'),
};

function run(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    outcome: { kind: 'exit', exitCode: 0, message: 'exit_group(0)' },
    faults: [{ vector: 14, errorCode: 0x80000007, address: BUF + 0x10n, rip: 0x400000n, rmp: true, why: '' }],
    kernel: [{ action: 'split', address: BUF + 0x10n, why: '' }],
    regs: { rax: 60n },
    stdout: 'hi\n',
    stderr: '',
    stats: { instructions: 4, walks: 3, tlbHits: 1, tlbMisses: 3, rmpChecks: 2 },
    setup: {},
    ...overrides,
  };
}

describe('checkExpectations', () => {
  it('passes when every given key matches, with symbols resolved', () => {
    const e: ExpectSpec = {
      outcome: 'exit', exitCode: 0,
      faults: [{ vector: 14, errorCode: 0x80000007, address: { symbol: 'buf', offset: 0x10n }, rmp: true }],
      kernel: ['split'], regs: { rax: 60n }, memory: [{ at: { symbol: 'buf', offset: 0n }, bytes: new Uint8Array([0xa5, 0xa5]) }],
      stdout: 'hi\n',
    };
    expect(checkExpectations(e, run(), ctx)).toEqual([]);
  });

  it('compares lists whole: an extra fault or decision is a mismatch', () => {
    const e: ExpectSpec = { faults: [], kernel: [] };
    expect(checkExpectations(e, run(), ctx)).toEqual([
      'faults: expected 0 fault(s), got 1',
      'kernel: expected [], got [split]',
    ]);
  });

  it('compares only prefixes under livelock and limit', () => {
    const r = run({
      outcome: { kind: 'livelock', message: 'same fault 8 times' },
      kernel: Array.from({ length: 8 }, () => ({ action: 'spurious', address: BUF, why: '' })),
      faults: Array.from({ length: 8 }, () => ({ vector: 14, errorCode: 0x80000007, address: BUF, rip: 0x400000n, rmp: true, why: '' })),
    });
    expect(checkExpectations({ outcome: 'livelock', kernel: ['spurious', 'spurious'], faults: [{ rmp: true }, { rmp: true }] }, r, ctx)).toEqual([]);
    expect(checkExpectations({ kernel: ['spurious', 'split'] }, r, ctx)).toEqual([
      'kernel: expected to start with [spurious, split], got [spurious, spurious, ... (8 in all)]',
    ]);
    // More expected than happened is a mismatch even as a prefix.
    const short = run({ outcome: { kind: 'limit', message: 'budget' }, faults: [] });
    expect(checkExpectations({ faults: [{ vector: 14 }] }, short, ctx)).toEqual(['faults: expected at least 1 fault(s) (a prefix under outcome limit), got 0']);
  });

  it('names each mismatching field with expected and actual values', () => {
    const e: ExpectSpec = {
      outcome: 'signal', signal: 'SIGBUS', exitCode: 1,
      faults: [{ errorCode: 0x7, address: 0x1000n, rmp: false }],
      regs: { rax: 0n }, memory: [{ at: 0x1234n, bytes: new Uint8Array([1]) }], stdout: 'bye',
    };
    expect(checkExpectations(e, run(), ctx)).toEqual([
      'outcome: expected signal, got exit (exit_group(0))',
      'exitCode: expected 1, got 0',
      'signal: expected SIGBUS, got none (outcome exit)',
      'faults[0].errorCode: expected 0x7, got 0x80000007',
      'faults[0].rmp: expected false, got true',
      'faults[0].address: expected 0x1000, got 0x40000010',
      'regs.rax: expected 0x0, got 0x3c',
      'memory[0] at 0x1234: not mapped: PTE at 0x1000 is not present',
      'stdout: expected "bye", got "hi\\n"',
    ]);
  });

  it('compares addresses as 64-bit values (sign-extended CR2)', () => {
    const r = run({ faults: [{ vector: 14, errorCode: 2, address: -0x800000000000n, rip: 0n, rmp: false, why: '' }] });
    expect(checkExpectations({ faults: [{ address: 0xffff800000000000n }] }, r, ctx)).toEqual([]);
  });
});
