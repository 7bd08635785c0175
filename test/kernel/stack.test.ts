// The initial stack layout (fs/binfmt_elf.c create_elf_tables): argc, argv[], NULL, envp[], NULL,
// auxv pairs ending in AT_NULL, RSP 16-byte aligned, strings above the tables.

import { describe, expect, it } from 'vitest';
import { AT_RANDOM_BYTES, buildInitialStack } from '../../src/kernel/stack.ts';
import { AT } from '../../src/kernel/constants.ts';

const TOP = 0x7ffffffff000;

function word(s: ReturnType<typeof buildInitialStack>, va: number): number {
  return Number(new DataView(s.bytes.buffer).getBigUint64(va - s.low, true));
}
function cstring(s: ReturnType<typeof buildInitialStack>, va: number): string {
  let out = '';
  for (let i = va - s.low; s.bytes[i] !== 0; i++) out += String.fromCharCode(s.bytes[i]!);
  return out;
}

describe('initial user stack', () => {
  const s = buildInitialStack(TOP, ['prog', 'a1'], ['K=V'], '/bin/prog', { phdr: 0x400040, phent: 56, phnum: 3, entry: 0x401000 });

  it('RSP is 16-byte aligned and points at argc', () => {
    expect(s.rsp % 16).toBe(0);
    expect(word(s, s.rsp)).toBe(2);
  });

  it('argv and envp pointer arrays end in NULL and point at the strings', () => {
    expect(cstring(s, word(s, s.rsp + 8))).toBe('prog');
    expect(cstring(s, word(s, s.rsp + 16))).toBe('a1');
    expect(word(s, s.rsp + 24)).toBe(0);
    expect(cstring(s, word(s, s.rsp + 32))).toBe('K=V');
    expect(word(s, s.rsp + 40)).toBe(0);
  });

  it('auxv carries AT_PAGESZ 4096, AT_PHDR/PHENT/PHNUM, AT_ENTRY, AT_RANDOM (16 bytes), AT_EXECFN and ends with AT_NULL', () => {
    const aux = new Map<number, number>();
    let at = s.rsp + 48;
    for (;;) {
      const k = word(s, at);
      const v = word(s, at + 8);
      at += 16;
      if (k === AT.NULL) break;
      aux.set(k, v);
    }
    expect(aux.get(AT.PAGESZ)).toBe(4096);
    expect(aux.get(AT.PHDR)).toBe(0x400040);
    expect(aux.get(AT.PHENT)).toBe(56);
    expect(aux.get(AT.PHNUM)).toBe(3);
    expect(aux.get(AT.ENTRY)).toBe(0x401000);
    const r = aux.get(AT.RANDOM)!;
    expect([...s.bytes.subarray(r - s.low, r - s.low + 16)]).toEqual([...AT_RANDOM_BYTES]);
    expect(cstring(s, aux.get(AT.EXECFN)!)).toBe('/bin/prog');
    expect(cstring(s, aux.get(AT.PLATFORM)!)).toBe('x86_64');
  });

  it('the strings lie above the tables and below the top', () => {
    expect(s.argvPointers.every((p) => p > s.rsp && p < TOP)).toBe(true);
    expect(s.low).toBe(s.rsp);
  });
});
