// RCL/RCR and SHLD/SHRD at every operand size and every count (through CL), against this
// machine's CPU (the native oracle of native-oracle.test.ts): these run without BigInt (shift.ts),
// on 32-bit halves for 64-bit operands and on exact doubles for the narrower rotations through CF,
// so every split point of those computations is exercised here, with CF both clear and set.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from './assemble.ts';
import { flatMachine, CODE } from './harness.ts';
import { buildOracle, runNative, type NativeCase } from './native.ts';

const M64 = 0xffffffffffffffffn;
const TEXTS = [
  'rcl al, cl', 'rcr bl, cl', 'rcl ax, cl', 'rcr bx, cl', 'rcl eax, cl', 'rcr ebx, cl', 'rcl rax, cl', 'rcr rbx, cl',
  'shld eax, edx, cl', 'shrd ebx, esi, cl', 'shld rax, rdx, cl', 'shrd rbx, rsi, cl', 'shld ax, dx, cl', 'shrd bx, si, cl',
];
const VALUES = [0n, M64, 0x8000000000000001n, 0x0123456789abcdefn, 0xfedcba9876543210n, 0x80000000n, 0x7fffffffn];

let oracle: { path: string; cleanup: () => void };
beforeAll(() => {
  oracle = buildOracle();
});
afterAll(() => oracle?.cleanup());

describe('native oracle: rotates through CF and double shifts, every count', () => {
  it('match this CPU on the result and all status flags', () => {
    const codes = assemble(TEXTS);
    const cases: NativeCase[] = [];
    const labels: string[] = [];
    for (let i = 0; i < TEXTS.length; i++) {
      for (let count = 0; count < 66; count++) {
        for (let v = 0; v < VALUES.length; v++) {
          const regs = Array.from({ length: 16 }, () => 0n);
          regs[0] = VALUES[v]!;
          regs[3] = VALUES[(v + 3) % VALUES.length]!;
          regs[2] = VALUES[(v + 1) % VALUES.length]!;
          regs[6] = VALUES[(v + 2) % VALUES.length]!;
          regs[1] = BigInt(count);
          const rflags = (v & 1 ? 0x203 : 0x202) | (count & 2 ? 0x8d4 : 0); // CF and the other flags both ways
          cases.push({ code: codes[i]!, regs, rflags });
          labels.push(`${TEXTS[i]} count=${count} rax=${regs[0]!.toString(16)} rbx=${regs[3]!.toString(16)} fl=${rflags.toString(16)}`);
        }
      }
    }
    const native = runNative(oracle.path, cases);
    const m = flatMachine();
    const mismatches: string[] = [];
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      const n = native[i]!;
      if ('signal' in n) {
        mismatches.push(`${labels[i]}: native signal ${n.signal}`);
        continue;
      }
      m.phys.writeBytes(CODE, c.code);
      for (let r = 0; r < 16; r++) m.cpu.setReg(r, c.regs[r]!);
      m.cpu.setReg(4, 0x20000n);
      m.cpu.rflags = BigInt(c.rflags);
      m.cpu.rip = BigInt(CODE);
      m.cpu.stopAt = BigInt(CODE + c.code.length);
      const stop = m.cpu.run(10);
      if (stop.kind !== 'stop-address') {
        mismatches.push(`${labels[i]}: snpemu stopped with ${stop.kind}`);
        continue;
      }
      for (const r of [0, 2, 3, 6]) {
        const got = m.cpu.getReg(r);
        if (got !== n.regs[r]) mismatches.push(`${labels[i]}: r${r} native ${n.regs[r]!.toString(16)} snpemu ${got.toString(16)}`);
      }
      const fl = Number(m.cpu.rflags) & 0xcd5;
      if (fl !== n.rflags) mismatches.push(`${labels[i]}: flags native ${n.rflags.toString(16)} snpemu ${fl.toString(16)}`);
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
  });
});
