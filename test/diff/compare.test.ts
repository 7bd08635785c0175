// The comparison must be able to fail: a one-bit change in any compared field is reported, and
// only the flags recorded as undefined at the stopping point are ignored.
import { describe, expect, it } from 'vitest';
import { compareOutputs } from './compare.ts';
import type { GeneratedCase } from './generator.ts';
import { runNative } from './native.ts';
import * as F from './flags.ts';

function mutate(line: string, edit: (o: any) => void): string {
  const o = JSON.parse(line);
  edit(o);
  return JSON.stringify(o);
}

describe('compareOutputs', () => {
  // and rax, rbx; mov [0x200010], rax: AND leaves AF undefined (SDM Vol.2A "AND").
  const c: GeneratedCase = {
    id: 'meta', code: '4821d8' + '48890425' + '10002000', regs: { rax: '0xff00ff00ff00ff0f', rbx: '0x0ff0' },
    rflags: '0x0', mem: '', flagsUndefinedAtEnd: F.AF, flagsUndefinedAt: { '3': F.AF }, starts: [0, 3],
    invalidAt: [], families: ['alu', 'mov'], noCutAt: [],
  };
  const native = runNative([c as unknown as Record<string, unknown>])[0]!;

  it('agrees with itself', () => {
    expect(compareOutputs(c, native, native)).toEqual([]);
  });

  it('reports a flipped bit in a register, RIP, the data page, the exception or a defined flag', () => {
    const flip = (hex: string, bit: bigint) => '0x' + (BigInt(hex) ^ bit).toString(16).padStart(16, '0');
    expect(compareOutputs(c, native, mutate(native, (o) => (o.regs.r9 = flip(o.regs.r9, 1n << 63n))))[0]!.field).toBe('r9');
    expect(compareOutputs(c, native, mutate(native, (o) => (o.rip = flip(o.rip, 1n))))[0]!.field).toBe('rip');
    expect(compareOutputs(c, native, mutate(native, (o) => (o.mem = o.mem.slice(0, -1) + (o.mem.endsWith('0') ? '1' : '0'))))[0]!.field).toBe('mem');
    expect(compareOutputs(c, native, mutate(native, (o) => (o.exception = { vector: 6, name: 'UD', error_code: 0, addr: '0x0000000000000000' })))[0]!.field).toBe('exception');
    for (const bit of [F.CF, F.PF, F.ZF, F.SF, F.DF, F.OF]) {
      const diffs = compareOutputs(c, native, mutate(native, (o) => (o.rflags = flip(o.rflags, BigInt(bit)))));
      expect(diffs.map((d) => d.field)).toEqual(['rflags']);
    }
  });

  it('ignores a flag only where the generator recorded it as undefined', () => {
    const flipped = mutate(native, (o) => (o.rflags = '0x' + (BigInt(o.rflags) ^ BigInt(F.AF)).toString(16).padStart(16, '0')));
    expect(JSON.parse(native).exception).toBeNull();
    expect(compareOutputs(c, native, flipped)).toEqual([]);
    expect(compareOutputs({ ...c, flagsUndefinedAtEnd: 0 }, native, flipped).map((d) => d.field)).toEqual(['rflags']);
  });
});
