// Hook dispatch when hooks change during a dispatch (issue 9, QA dyn3), and the per-block range
// filter of instruction hooks (QA overhead.ts). Every count below is worked out by hand from the
// loop, in the comment next to it.

import { describe, expect, it } from 'vitest';
import { InstructionEntry } from '../../src/cpu/hook-lists.ts';
import type { InstructionHook } from '../../src/cpu/hooks.ts';
import { Vector } from '../../src/cpu/fault.ts';
import { CODE, exec, flatMachine, hex, RAX, RCX, runCode } from './harness.ts';

// CODE+0:  b9 0a 00 00 00   mov ecx, 10
// CODE+5:  48 83 c0 01      add rax, 1      (runs 10 times, with RAX = 0..9 before it)
// CODE+9:  ff c9            dec ecx
// CODE+11: 75 f8            jnz CODE+5      (taken 9 times)
// CODE+13: end (runCode's stopAt)
const LOOP = hex('b9 0a 00 00 00 48 83 c0 01 ff c9 75 f8');
const ADD_AT = BigInt(CODE + 5);
const DEC_AT = BigInt(CODE + 9);

function at(rip: bigint, callback: InstructionHook['callback']): InstructionHook {
  return { kind: 'instruction', begin: rip, end: rip, callback };
}

describe('hooks changed from inside a hook', () => {
  it('an instruction hook added by an instruction hook first fires at the next instruction', () => {
    const m = flatMachine();
    let a = 0;
    let b = 0;
    m.cpu.addHook(at(ADD_AT, (cpu) => {
      a++;
      if (cpu.getReg(RAX) === 4n) cpu.addHook(at(ADD_AT, () => void b++));
    }));
    exec(m, LOOP);
    expect(m.cpu.getReg(RAX)).toBe(10n); // the add ran once per pass
    expect(a).toBe(10); // RAX = 0..9
    expect(b).toBe(5); // added while RAX = 4: fires for RAX = 5..9
  });

  it('removing and re-adding every hook under new ids (what src/api does) fires nothing twice', () => {
    const m = flatMachine();
    let a = 0;
    let b = 0;
    const hookA = at(ADD_AT, (cpu) => {
      a++;
      if (cpu.getReg(RAX) !== 4n) return;
      for (const id of ids) cpu.removeHook(id);
      ids = [cpu.addHook({ ...hookA }), cpu.addHook({ ...hookB })];
    });
    const hookB = at(ADD_AT, () => void b++);
    let ids = [m.cpu.addHook(hookA), m.cpu.addHook(hookB)];
    exec(m, LOOP);
    // A: RAX = 0..4 as the first copy, 5..9 as the second: 10. B: RAX = 0..3 (first copy), not at
    // RAX = 4 (removed before its turn, its copy added during this dispatch), 5..9 (copy): 9.
    expect(a).toBe(10);
    expect(b).toBe(9);
    expect(m.cpu.getReg(RAX)).toBe(10n);
  });

  it('a hook removed by an earlier hook of the same dispatch does not fire', () => {
    const m = flatMachine();
    let b = 0;
    let idB = 0;
    m.cpu.addHook(at(ADD_AT, (cpu) => {
      if (cpu.getReg(RAX) === 2n) cpu.removeHook(idB);
    }));
    idB = m.cpu.addHook(at(ADD_AT, () => void b++));
    exec(m, LOOP);
    expect(b).toBe(2); // RAX = 0 and 1 only
  });

  it('a block hook added by a block hook first fires at the next block', () => {
    const m = flatMachine();
    let a = 0;
    let b = 0;
    m.cpu.addHook({ kind: 'block', callback: (cpu) => {
      if (++a === 3) cpu.addHook({ kind: 'block', callback: () => void b++ });
    } });
    exec(m, LOOP);
    // Blocks entered: CODE (mov..jnz) once, then CODE+5 after each of the 9 taken jnz: 10. The fall-
    // through to CODE+13 is the stop address, checked before block hooks. B from the 4th entry: 7.
    expect(a).toBe(10);
    expect(b).toBe(7);
  });

  it('an instruction hook registered by an exception hook of a hook-free run fires in the same run', () => {
    const m = flatMachine();
    // UD2 at CODE, then the loop two bytes further: mov ecx at CODE+2, add at CODE+7 (10 runs).
    const addAt = BigInt(CODE + 7);
    let calls = 0;
    let registered = false;
    m.cpu.addHook({ kind: 'exception', callback: (cpu) => {
      if (!registered) {
        registered = true;
        cpu.addHook(at(addAt, () => void calls++));
      }
      cpu.rip += 2n; // step over the UD2
      return 'retry';
    } });
    // Only an exception hook at the start: the run begins in the fast loop, and must leave it
    // once the exception hook has registered an instruction hook.
    exec(m, new Uint8Array([0x0f, 0x0b, ...LOOP]));
    expect(registered).toBe(true);
    expect(calls).toBe(10);
    expect(m.cpu.getReg(RAX)).toBe(10n);
  });

  it('an exception hook added by an exception hook waits for the next exception', () => {
    const m = flatMachine();
    let a = 0;
    let b = 0;
    m.cpu.addHook({ kind: 'exception', callback: (cpu) => {
      if (++a === 1) {
        cpu.addHook({ kind: 'exception', callback: (c) => { b++; c.rip += 2n; return 'retry'; } });
        cpu.rip += 2n; // step over the first UD2, but do not ask to retry
      }
    } });
    // Two UD2s. First #UD: only A fires (B is added during it), nobody retries: the run ends there.
    const r = runCode(m, hex('0f 0b 0f 0b'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.UD);
    expect([a, b]).toEqual([1, 0]);
    // Second #UD (RIP already at CODE+2): A (does nothing), then B skips it and retries: the end.
    m.cpu.stopAt = BigInt(CODE + 4);
    expect(m.cpu.run(100).kind).toBe('stop-address');
    expect([a, b]).toEqual([2, 1]);
  });
});

describe('instruction hooks filtered per block', () => {
  it('a hook whose range the code never reaches changes nothing, whatever the limit', () => {
    for (let n = 0; n <= 32; n++) {
      const plain = flatMachine();
      const hooked = flatMachine();
      let calls = 0;
      hooked.cpu.addHook(at(0x500000n, () => void calls++));
      const r1 = runCode(plain, LOOP, n);
      const r2 = runCode(hooked, LOOP, n);
      expect(r2.kind, `limit ${n}`).toBe(r1.kind);
      expect(hooked.cpu.rip, `limit ${n}`).toBe(plain.cpu.rip);
      expect(hooked.cpu.getReg(RAX), `limit ${n}`).toBe(plain.cpu.getReg(RAX));
      expect(hooked.cpu.getReg(RCX), `limit ${n}`).toBe(plain.cpu.getReg(RCX));
      expect(hooked.cpu.instructions, `limit ${n}`).toBe(plain.cpu.instructions);
      expect(calls).toBe(0);
    }
    // The whole loop is 1 + 3 * 10 = 31 instructions. With a limit of 31 the run ends at the end
    // of the code by the limit (Cpu.run tests the limit before the stop address); with 32, by
    // the stop address.
    const m = flatMachine();
    m.cpu.addHook(at(0x500000n, () => undefined));
    expect(runCode(m, LOOP, 31).kind).toBe('limit');
    expect(m.cpu.rip).toBe(BigInt(CODE + 13));
    expect(m.cpu.instructions).toBe(31);
    expect(runCode(m, LOOP, 32).kind).toBe('stop-address');
    expect(m.cpu.getReg(RAX)).toBe(20n); // two full loops
  });

  it('a hook added after the blocks were cached as unhooked fires on them', () => {
    const m = flatMachine();
    m.cpu.addHook(at(0x500000n, () => undefined)); // blocks decided "no hook meets me"
    exec(m, LOOP);
    const built = m.cpu.cacheStats.blocksBuilt;
    const seen: bigint[] = [];
    m.cpu.addHook(at(DEC_AT, (_c, rip) => void seen.push(rip)));
    // Run the same bytes again without rewriting them (a code write would drop the blocks).
    m.cpu.rip = BigInt(CODE);
    expect(m.cpu.run(1000).kind).toBe('stop-address');
    expect(m.cpu.cacheStats.blocksBuilt).toBe(built); // same cached blocks
    expect(seen.length).toBe(10); // dec runs once per pass
    expect(seen.every((r) => r === DEC_AT)).toBe(true);
  });

  it('a hook removed makes its blocks fast again and fires no more', () => {
    const m = flatMachine();
    let calls = 0;
    const id = m.cpu.addHook(at(ADD_AT, () => void calls++));
    exec(m, LOOP);
    expect(calls).toBe(10);
    m.cpu.removeHook(id);
    m.cpu.addHook(at(0x500000n, () => undefined)); // keep the hooked loop
    exec(m, LOOP);
    expect(calls).toBe(10);
  });

  it('a hook on an instruction inside a block (not its first) fires', () => {
    const m = flatMachine();
    const seen: bigint[] = [];
    // CODE+9 is the third instruction of the block at CODE and the second of the block at CODE+5.
    m.cpu.addHook({ kind: 'instruction', begin: DEC_AT, end: DEC_AT + 1n, callback: (_c, rip) => void seen.push(rip) });
    exec(m, LOOP);
    expect(seen).toEqual(Array(10).fill(DEC_AT));
  });
});

describe('instruction-hook ranges as signed RIPs', () => {
  const entry = (begin: bigint, end: bigint) => new InstructionEntry(1, { kind: 'instruction', begin, end, callback: () => undefined });
  const ALL = entry(0n, (1n << 64n) - 1n);
  it('the whole 64-bit space covers both canonical halves', () => {
    // Signed RIP -1 is 0xffffffffffffffff; -2^47 is 0xffff800000000000.
    for (const rip of [0, 1, 2 ** 47 - 1, -1, -(2 ** 47)]) expect(ALL.covers(rip), String(rip)).toBe(true);
  });
  it('an upper-half range maps to negative RIPs', () => {
    const e = entry(0xffff800000000000n, 0xffff800000000010n);
    expect(e.covers(-(2 ** 47))).toBe(true);
    expect(e.covers(-(2 ** 47) + 0x10)).toBe(true);
    expect(e.covers(-(2 ** 47) + 0x11)).toBe(false);
    expect(e.covers(0)).toBe(false);
    expect(e.meets(-(2 ** 47) - 0x100, -(2 ** 47))).toBe(true);
    expect(e.meets(-(2 ** 47) + 0x11, -(2 ** 47) + 0x40)).toBe(false);
  });
  it('a range inside the non-canonical hole covers nothing; a reversed range is empty', () => {
    const hole = entry(1n << 47n, 1n << 63n);
    expect(hole.meets(-(2 ** 47), 2 ** 47 - 1)).toBe(false);
    const reversed = entry(0x2000n, 0x1000n);
    expect(reversed.meets(0, 0x10000)).toBe(false);
  });
  it('meets is an interval intersection with inclusive ends', () => {
    const e = entry(0x1000n, 0x1fffn);
    expect(e.meets(0x0f00, 0x1000)).toBe(true);
    expect(e.meets(0x1fff, 0x2100)).toBe(true);
    expect(e.meets(0x0f00, 0x0fff)).toBe(false);
    expect(e.meets(0x2000, 0x2100)).toBe(false);
  });
});
