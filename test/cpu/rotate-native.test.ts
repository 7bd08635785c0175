// RCL/RCR and SHLD/SHRD at every operand size and every count (through CL), against this
// machine's CPU (the native oracle of native-oracle.test.ts): these run without BigInt (shift.ts),
// on 32-bit halves for 64-bit operands and on exact doubles for the narrower rotations through CF,
// so every split point of those computations is exercised here, with CF both clear and set.

import { describe, expect, it } from 'vitest';
import { assemble } from './assemble.ts';
import { compareWithNative, useOracle, type NativeCase } from './native.ts';

const M64 = 0xffffffffffffffffn;
const TEXTS = [
  'rcl al, cl', 'rcr bl, cl', 'rcl ax, cl', 'rcr bx, cl', 'rcl eax, cl', 'rcr ebx, cl', 'rcl rax, cl', 'rcr rbx, cl',
  'shld eax, edx, cl', 'shrd ebx, esi, cl', 'shld rax, rdx, cl', 'shrd rbx, rsi, cl', 'shld ax, dx, cl', 'shrd bx, si, cl',
];
const VALUES = [0n, M64, 0x8000000000000001n, 0x0123456789abcdefn, 0xfedcba9876543210n, 0x80000000n, 0x7fffffffn];

const oraclePath = useOracle();

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
    const { mismatches, faults } = compareWithNative(oraclePath(), cases, labels, { flags: true, maxInstructions: 10 });
    expect(faults).toBe(0);
    expect(mismatches.slice(0, 10)).toEqual([]);
  });
});
