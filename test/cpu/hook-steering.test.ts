// Steering from hooks (issue 9: "a hook can stop the run, change registers or RIP"): a hook that
// writes RIP and then stops, by answering 'stop' or by throwing (what src/api's RunStop does), ends
// the run with RIP at the hook's value and nothing of the skipped instruction executed; and
// `currentRip` reads back a RIP written inside an instruction hook. Expected values are worked out
// by hand from the three adds below.

import { describe, expect, it } from 'vitest';
import type { InstructionHook } from '../../src/cpu/hooks.ts';
import { CODE, flatMachine, hex, RAX } from './harness.ts';

// CODE+0: 48 83 c0 01   add rax, 1
// CODE+4: 48 83 c0 02   add rax, 2
// CODE+8: 48 83 c0 04   add rax, 4
// CODE+12: end
const ADDS = hex('48 83 c0 01 48 83 c0 02 48 83 c0 04');
const SECOND = BigInt(CODE + 4);
const THIRD = BigInt(CODE + 8);
const END = BigInt(CODE + 12);

/** Thrown by a hook, standing in for the API's RunStop (anything that is not a CpuFault). */
class Sentinel {}

function machine() {
  const m = flatMachine();
  m.phys.writeBytes(CODE, ADDS);
  m.cpu.rip = BigInt(CODE);
  return m;
}

function at(rip: bigint, callback: InstructionHook['callback']): InstructionHook {
  return { kind: 'instruction', begin: rip, end: rip, callback };
}

describe('an instruction hook that writes RIP, then stops', () => {
  it("answering 'stop': the run stops at the new RIP, the skipped add did not run", () => {
    const m = machine();
    m.cpu.addHook(at(SECOND, (cpu) => {
      cpu.rip = THIRD;
      return 'stop';
    }));
    expect(m.cpu.run(100).kind).toBe('hook');
    expect(m.cpu.rip).toBe(THIRD);
    expect(m.cpu.getReg(RAX)).toBe(1n); // only add rax, 1 ran
    expect(m.cpu.instructions).toBe(1);
    m.cpu.stopAt = END;
    expect(m.cpu.run(100).kind).toBe('stop-address');
    expect(m.cpu.getReg(RAX)).toBe(5n); // 1 + 4: add rax, 2 skipped
    expect(m.cpu.instructions).toBe(2);
  });

  it('throwing (the API stop): the throw reaches the caller with RIP at the hook\'s value, not the instruction', () => {
    const m = machine();
    m.cpu.addHook(at(SECOND, (cpu) => {
      cpu.rip = THIRD;
      throw new Sentinel();
    }));
    expect(() => m.cpu.run(100)).toThrow(Sentinel);
    expect(m.cpu.rip).toBe(THIRD);
    expect(m.cpu.getReg(RAX)).toBe(1n);
    expect(m.cpu.instructions).toBe(1);
    expect(m.cpu.currentRip).toBe(THIRD); // outside the run it equals rip
  });

  it('throwing without writing RIP leaves RIP at the instruction that did not run', () => {
    const m = machine();
    m.cpu.addHook(at(SECOND, () => {
      throw new Sentinel();
    }));
    expect(() => m.cpu.run(100)).toThrow(Sentinel);
    expect(m.cpu.rip).toBe(SECOND);
    expect(m.cpu.getReg(RAX)).toBe(1n);
    expect(m.cpu.instructions).toBe(1);
  });
});

describe('a block hook that writes RIP, then stops', () => {
  it("answering 'stop' at the first block: RIP at the hook's value, nothing ran", () => {
    const m = machine();
    let fired = 0;
    m.cpu.addHook({ kind: 'block', callback: (cpu) => {
      fired++;
      cpu.rip = THIRD;
      return 'stop';
    } });
    expect(m.cpu.run(100).kind).toBe('hook');
    expect(fired).toBe(1);
    expect(m.cpu.rip).toBe(THIRD);
    expect(m.cpu.getReg(RAX)).toBe(0n);
    expect(m.cpu.instructions).toBe(0);
  });

  it("throwing at the first block: RIP at the hook's value, nothing ran", () => {
    const m = machine();
    m.cpu.addHook({ kind: 'block', callback: (cpu) => {
      cpu.rip = THIRD;
      throw new Sentinel();
    } });
    expect(() => m.cpu.run(100)).toThrow(Sentinel);
    expect(m.cpu.rip).toBe(THIRD);
    expect(m.cpu.getReg(RAX)).toBe(0n);
    expect(m.cpu.instructions).toBe(0);
  });
});

describe('currentRip inside an instruction hook', () => {
  it('names the hooked instruction, then reads back a RIP the hook wrote', () => {
    const m = machine();
    const seen: bigint[] = [];
    m.cpu.addHook(at(SECOND, (cpu) => {
      seen.push(cpu.currentRip);
      cpu.rip = THIRD;
      seen.push(cpu.currentRip, cpu.rip);
    }));
    m.cpu.stopAt = END;
    expect(m.cpu.run(100).kind).toBe('stop-address');
    expect(seen).toEqual([SECOND, THIRD, THIRD]);
    expect(m.cpu.getReg(RAX)).toBe(5n); // 1 + 4: the hook skipped add rax, 2
    expect(m.cpu.instructions).toBe(2);
  });
});
