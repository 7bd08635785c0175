// The generator and its encoder: every instruction's length agrees with iced-x86's decoder, every
// family of the issue-2 subset is produced, and the cases are deterministic on real hardware
// (two native runs of the same cases print the same bytes).
import { describe, expect, it } from 'vitest';
import { checkLengths } from './compare.ts';
import { encode, reg } from './encoder.ts';
import { generateCase } from './generator.ts';
import { runNative } from './native.ts';

describe('encoder', () => {
  it('encodes forms whose bytes are fixed by the manual (Intel SDM Vol.2A §2.1)', () => {
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    // add rax, rbx: REX.W 01 /r, ModRM 11 011 000
    expect(hex(encode({ size: 64, opcode: [0x01], regField: 3, rm: reg(0) }, 0))).toBe('4801d8');
    // mov [r12+8], ecx: R12 as a base needs a SIB byte (rm=100), REX.B
    expect(hex(encode({ size: 32, opcode: [0x89], regField: 1, rm: { kind: 'mem', base: 12, disp: 8 } }, 0))).toBe('41894c2408');
    // mov eax, [r13]: R13 as a base needs a displacement (mod=01, disp8 0)
    expect(hex(encode({ size: 32, opcode: [0x8b], regField: 0, rm: { kind: 'mem', base: 13, disp: 0 } }, 0))).toBe('418b4500');
    // mov ah, [rbx] is legal; with SIL it needs REX (40)
    expect(hex(encode({ opcode: [0x8a], reg8: reg(4, true), rm: { kind: 'mem', base: 3, disp: 0 }, rm8: true }, 0))).toBe('8a23');
    expect(hex(encode({ opcode: [0x8a], reg8: reg(6), rm: { kind: 'mem', base: 3, disp: 0 }, rm8: true }, 0))).toBe('408a33');
    // RIP-relative: the displacement counts from the end of the instruction (6 bytes here)
    expect(hex(encode({ opcode: [0x8b], regField: 0, rm: { kind: 'mem', rip: true, disp: 0x100010 } }, 0x100000))).toBe('8b050a000000');
    // [disp32] without base or index: SIB 25 (no index, base=101 with mod=00)
    expect(hex(encode({ opcode: [0x8b], regField: 0, rm: { kind: 'mem', disp: 0x200000 } }, 0))).toBe('8b042500002000');
  });
});

describe('generator', () => {
  it('emits only instructions whose lengths iced-x86 confirms (3 seeds x 1000 cases)', () => {
    const problems: string[] = [];
    for (const seed of [1, 2, 3]) {
      for (let i = 0; i < 1000; i++) {
        const c = generateCase(seed, i);
        for (const p of checkLengths(c)) problems.push(`${c.id}: ${p}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('covers every instruction family of the subset', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) for (const f of generateCase(11, i).families) seen.add(f);
    const all = ['alu', 'alu8h', 'test', 'unary', 'mul', 'div', 'shift', 'shxd', 'bt', 'bitscan', 'movx', 'cond', 'xchg',
      'lea', 'convert', 'lahf', 'flagops', 'mov', 'string', 'stack', 'nop', 'pushf', 'skip', 'loop', 'call', 'enter', 'fault'];
    expect([...seen].sort()).toEqual(all.sort());
  });

  it('is reproducible from its seed and deterministic on the real CPU', () => {
    expect(generateCase(5, 42)).toEqual(generateCase(5, 42));
    const cases = Array.from({ length: 500 }, (_, i) => generateCase(9, i) as unknown as Record<string, unknown>);
    const first = runNative(cases);
    const second = runNative(cases);
    expect(first.filter((l, i) => l !== second[i])).toEqual([]);
    expect(first.filter((l) => l.includes('"error"'))).toEqual([]);
  });
});
