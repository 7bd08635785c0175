// ELF64 parsing: real binaries built by the system toolchain, and malformed files that must be
// rejected with an ElfError naming the problem (System V gABI ELF header and program headers).

import { describe, expect, it } from 'vitest';
import { ElfError, parseElf } from '../../src/kernel/elf.ts';
import { buildStatic, haveToolchain, HELLO, readBytes } from './build-elf.ts';

const tools = haveToolchain();

describe.skipIf(!tools)('parseElf on toolchain output', () => {
  it('reads a static ET_EXEC: entry 0x401000 and three PT_LOADs (readelf -l on this machine says so)', () => {
    const img = parseElf(readBytes(buildStatic('hello', HELLO)));
    expect(img.type).toBe('exec');
    expect(img.entry).toBe(0x401000);
    expect(img.segments.map((s) => s.vaddr)).toEqual([0x400000, 0x401000, 0x402000]);
    expect(img.segments.map((s) => s.flags)).toEqual([4, 5, 6]); // R, R E, RW
  });

  it('accepts a static-PIE (ET_DYN without PT_INTERP)', () => {
    expect(parseElf(readBytes(buildStatic('hellopie', HELLO, 'pie'))).type).toBe('pie');
  });

  it('rejects an object file (ET_REL) and a dynamically linked program', () => {
    expect(() => parseElf(readBytes(buildStatic('obj', HELLO, 'object')))).toThrow(/ET_REL/);
    expect(() => parseElf(readBytes(buildStatic('dyn', HELLO, 'dynamic')))).toThrow(/dynamically linked|PT_DYNAMIC|PT_INTERP/);
  });
});

/** A minimal valid ELF64 header + one PT_LOAD, built by hand (offsets from the gABI). */
function minimal(): Uint8Array {
  const b = new Uint8Array(0x1000 + 16);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 62, true); // EM_X86_64
  v.setUint32(20, 1, true);
  v.setBigUint64(24, 0x401000n, true); // e_entry
  v.setBigUint64(32, 64n, true); // e_phoff
  v.setUint16(52, 64, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, 1, true);
  const ph = 64;
  v.setUint32(ph, 1, true); // PT_LOAD
  v.setUint32(ph + 4, 5, true); // R X
  v.setBigUint64(ph + 8, 0x1000n, true); // p_offset
  v.setBigUint64(ph + 16, 0x401000n, true); // p_vaddr
  v.setBigUint64(ph + 32, 16n, true); // p_filesz
  v.setBigUint64(ph + 40, 16n, true); // p_memsz
  return b;
}

describe('parseElf rejects malformed files with a message naming the problem', () => {
  const cases: [string, (b: Uint8Array, v: DataView) => Uint8Array | void, RegExp][] = [
    ['bad magic', (b) => void (b[1] = 0x46), /not an ELF file/],
    ['truncated header', (b) => b.subarray(0, 40), /truncated ELF header/],
    ['32-bit class', (b) => void (b[4] = 1), /ELFCLASS64/],
    ['big-endian', (b) => void (b[5] = 2), /little-endian/],
    ['wrong machine', (_b, v) => v.setUint16(18, 3, true), /EM_X86_64/],
    ['core file', (_b, v) => v.setUint16(16, 4, true), /ET_CORE/],
    ['no program headers', (_b, v) => v.setUint16(56, 0, true), /no program headers/],
    ['bad phentsize', (_b, v) => v.setUint16(54, 32, true), /e_phentsize/],
    ['headers past the end', (_b, v) => v.setBigUint64(32, 0x2000n, true), /run past the end/],
    ['filesz > memsz', (_b, v) => v.setBigUint64(64 + 32, 32n, true), /p_filesz.*larger than p_memsz/],
    ['segment bytes past the end', (_b, v) => { v.setBigUint64(64 + 32, 0x100n, true); v.setBigUint64(64 + 40, 0x100n, true); }, /program header 0: its file bytes/],
    ['incongruent offset', (_b, v) => v.setBigUint64(64 + 8, 0xff8n, true), /not congruent/],
    ['entry outside', (_b, v) => v.setBigUint64(24, 0x500000n, true), /entry point 0x500000/],
    ['interpreter', (_b, v) => v.setUint32(64, 3, true), /dynamically linked/],
  ];
  for (const [name, mutate, message] of cases) {
    it(name, () => {
      const b = minimal();
      const out = mutate(b, new DataView(b.buffer)) ?? b;
      expect(() => parseElf(out)).toThrow(ElfError);
      expect(() => parseElf(out)).toThrow(message);
    });
  }
  it('the untouched minimal file parses', () => {
    expect(parseElf(minimal()).entry).toBe(0x401000);
  });
});
