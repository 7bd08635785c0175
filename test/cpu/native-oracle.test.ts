// Register-only instructions at every operand size, run natively on this machine's CPU and in
// snpemu from the same random initial state (fixed seed): registers and all six status flags,
// including the ones the manuals leave undefined (docs/flags.md), must match exactly.
// The broader random-program differential suite lives in test/diff (another module).

import { describe, expect, it } from 'vitest';
import { assemble } from './assemble.ts';
import { compareWithNative, useOracle, type NativeCase } from './native.ts';

const SIZES: { name: string; regs: string[]; a: string; c: string; imm: string }[] = [
  { name: '8', regs: ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'sil', 'r9b'], a: 'al', c: 'cl', imm: '0x9c' },
  { name: '16', regs: ['ax', 'cx', 'dx', 'bx', 'si', 'r9w'], a: 'ax', c: 'cx', imm: '0x8f3c' },
  { name: '32', regs: ['eax', 'ecx', 'edx', 'ebx', 'esi', 'r9d'], a: 'eax', c: 'ecx', imm: '0x80000f3c' },
  { name: '64', regs: ['rax', 'rcx', 'rdx', 'rbx', 'rsi', 'r9'], a: 'rax', c: 'rcx', imm: '-0x7ffff0c4' },
];

/** Instruction templates: every form we can run without memory. */
function templates(): string[] {
  const t: string[] = [];
  for (const s of SIZES) {
    const [r0, r1, r2, r3] = s.regs as [string, string, string, string];
    const hiPair = s.name === '8' ? [[s.regs[4]!, s.regs[5]!]] : [];
    for (const op of ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp', 'test']) {
      t.push(`${op} ${r0}, ${r1}`, `${op} ${r2}, ${r3}`);
      if (op !== 'test') t.push(`${op} ${r1}, ${s.imm}`, `${op} ${r2}, -3`, `${op} ${r3}, 1`);
      for (const [x, y] of hiPair) t.push(`${op} ${x}, ${y}`);
    }
    t.push(`${s.name === '8' ? 'add' : 'add'} ${s.regs[s.regs.length - 1]}, ${r1}`);
    for (const op of ['inc', 'dec', 'neg', 'not']) t.push(`${op} ${r0}`, `${op} ${r3}`);
    for (const op of ['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr']) {
      t.push(`${op} ${r0}, 1`, `${op} ${r2}, cl`, `${op} ${r3}, 3`, `${op} ${r0}, ${s.name === '64' ? 63 : 31}`);
      t.push(`${op} ${r0}, ${Number(s.name) - 1}`, `${op} ${r3}, ${Number(s.name)}`, `${op} ${r2}, ${Number(s.name) + 1 > 31 ? 17 : Number(s.name) + 1}`);
    }
    for (const op of ['mul', 'imul', 'div', 'idiv']) t.push(`${op} ${r3}`);
    if (s.name !== '8') {
      t.push(`imul ${r0}, ${r3}`, `imul ${r2}, ${r3}, 7`, `imul ${r0}, ${r1}, ${s.name === '16' ? '-300' : '-100000'}`);
      for (const op of ['bt', 'bts', 'btr', 'btc']) t.push(`${op} ${r0}, ${r1}`, `${op} ${r3}, 5`, `${op} ${r2}, ${Number(s.name) - 1}`);
      for (const op of ['bsf', 'bsr', 'tzcnt', 'lzcnt', 'popcnt']) t.push(`${op} ${r0}, ${r3}`);
      for (const op of ['shld', 'shrd']) t.push(`${op} ${r0}, ${r3}, cl`, `${op} ${r2}, ${r3}, 4`, `${op} ${r3}, ${r0}, ${Number(s.name) - 1}`);
      for (const cc of ['o', 'b', 'e', 'be', 's', 'p', 'l', 'le', 'ne', 'g']) t.push(`cmov${cc} ${r0}, ${r3}`);
      t.push(`movzx ${r0}, bl`, `movsx ${r2}, cl`, `xadd ${r0}, ${r3}`, `cmpxchg ${r2}, ${r3}`, `cmpxchg ${r0}, ${r3}`, `xchg ${r0}, ${r3}`);
    } else {
      t.push(`xadd ${r0}, ${r3}`, `cmpxchg ${r2}, ${r3}`, `xchg ${r0}, ${r3}`, 'xchg ah, bl', 'mov ah, dl', 'mov sil, dl', 'add dil, r9b');
    }
  }
  for (const cc of ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g']) {
    t.push(`set${cc} dl`, `j${cc} 1f; inc rbx; 1:`);
  }
  t.push('movsxd rax, ecx', 'movzx eax, cx', 'movsx rbx, cx', 'bswap ecx', 'bswap r10', 'cbw', 'cwde', 'cdqe', 'cwd', 'cdq', 'cqo');
  t.push('lahf', 'sahf', 'clc', 'stc', 'cmc', 'lea rax, [rcx+rdx*4+0x7f]', 'lea eax, [rcx+rdx*8-1]', 'lea ax, [rbx+rsi]');
  t.push('movabs rdx, 0x8000000000000001', 'mov ecx, -1', 'mov cx, 0x1234', 'xchg eax, eax', 'nop', 'xchg r8, rax');
  t.push('loop 1f; inc rbx; 1:', 'jrcxz 1f; inc rbx; 1:', 'sub rcx, rdx; sbb rax, rbx; adc rsi, rdi; setc bl');
  t.push('add eax, ecx; cmc; rcl edx, cl; rcr rbx, 1', 'dec ecx; jnz 1f; inc rbx; 1:');
  return t;
}

/** xorshift64*: deterministic random 64-bit values. */
function rng(seed: bigint): () => bigint {
  let s = seed;
  return () => {
    s ^= s >> 12n;
    s ^= (s << 25n) & 0xffffffffffffffffn;
    s ^= s >> 27n;
    return (s * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn;
  };
}

const EDGES = [0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn,
  0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0x100000000n, 0xfffffffffffffffen];

function value(next: () => bigint): bigint {
  const r = next();
  switch (Number(r & 7n)) {
    case 0:
    case 1:
      return EDGES[Number((r >> 8n) % BigInt(EDGES.length))]!;
    case 2:
      return (r >> 8n) & 0xffn;
    case 3:
      return (r >> 8n) & 0x3fn; // small: shift counts, bit offsets
    default:
      return next();
  }
}

const oraclePath = useOracle();

describe('native oracle: register-only instructions', () => {
  it('matches this CPU on registers and all status flags, for every template and 24 random states each', () => {
    const texts = templates();
    const codes = assemble(texts);
    const next = rng(0x5eed_1234_abcd_0001n);
    const cases: NativeCase[] = [];
    const labels: string[] = [];
    for (let i = 0; i < texts.length; i++) {
      for (let k = 0; k < 24; k++) {
        const regs = Array.from({ length: 16 }, () => value(next));
        regs[4] = 0n;
        const rflags = (Number(next() & 0x8d5n) | 0x202) >>> 0;
        cases.push({ code: codes[i]!, regs, rflags });
        labels.push(`${texts[i]} regs=[${regs.map((r) => r.toString(16)).join(',')}] fl=${rflags.toString(16)}`);
      }
    }
    const { mismatches } = compareWithNative(oraclePath(), cases, labels, { flags: true });
    expect(cases.length).toBeGreaterThan(3000);
    if (process.env.ORACLE_SUMMARY) { const by = new Map<string, number>(); for (const x of mismatches) { const k = x.split(" regs=")[0]!; by.set(k, (by.get(k) ?? 0) + 1); } console.log([...by].map(([k, v]) => `${v} ${k}`).join("\n")); }
    expect(mismatches.slice(0, 30)).toEqual([]);
  });
});
