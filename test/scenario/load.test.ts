// The format-1 loader: every malformed input is an InputError naming the file, the JSON path and
// what was expected (spec/scenario.md, "Numbers and addresses"); good input gets the spec's defaults.

import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/scenario/errors.ts';
import { loadScenario, scenarioFromJson, scenarioFromText } from '../../src/scenario/load.ts';
import { parseAddressValue, parseHexBytes, parseInteger } from '../../src/scenario/numbers.ts';
import { haveGnuAssembler } from '../../src/scenario/assemble.ts';

const CODE = 'c7 07 01 00 00 00 b8 3c 00 00 00 31 ff 0f 05';

function processScenario(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 1,
    name: 'test',
    kernel: 'v7',
    process: {
      regions: [
        { name: 'code', at: '0x400000', size: '4K', prot: 'r-x', hex: CODE },
        { name: 'buf', at: '0x40000000', size: '2M', prot: 'rw-', page: '2M', kind: 'thp' },
      ],
      entry: 'code',
      regs: { rdi: 'buf+0x1000' },
    },
    ...overrides,
  };
}

function noneScenario(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 1,
    name: 'bare',
    kernel: 'none',
    cpu: { rip: '0x10000', cpl: 3 },
    paging: { maps: [{ va: '0x10000', pa: '0x10000', size: '4K', flags: ['P', 'US'] }] },
    physical: [{ pa: '0x10000', hex: 'f4' }],
    ...overrides,
  };
}

/** Deep-set a path like "process.regions[1].size" in a JSON object (test helper). */
function withValue(obj: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(obj)) as Record<string, unknown>;
  const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let cur: Record<string, unknown> = copy;
  for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return copy;
}

function inputError(json: unknown): InputError {
  try {
    scenarioFromJson(json, 'case.json');
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an input error, but the scenario loaded');
}

describe('numbers', () => {
  it('parses JSON numbers, hex, decimal and size suffixes (powers of 1024)', () => {
    expect(parseInteger(4096)).toBe(4096n);
    expect(parseInteger('0x1f000')).toBe(0x1f000n);
    expect(parseInteger('4096')).toBe(4096n);
    expect(parseInteger('4K')).toBe(4096n); // 4 * 1024
    expect(parseInteger('2M')).toBe(2097152n); // 2 * 1024^2
    expect(parseInteger('1G')).toBe(1073741824n); // 1024^3
    expect(parseInteger('0xffffffffffffffff')).toBe(0xffffffffffffffffn);
  });
  it('rejects negatives, fractions, unsafe JSON numbers and junk', () => {
    for (const bad of [-1, 1.5, 2 ** 53, '0x', '12Q', '4k', 'K', '', null, true, [], {}]) {
      expect(parseInteger(bad)).toBeUndefined();
    }
  });
  it('parses symbols with offsets', () => {
    expect(parseAddressValue('buf')).toEqual({ symbol: 'buf', offset: 0n });
    expect(parseAddressValue('buf+0x3000')).toEqual({ symbol: 'buf', offset: 0x3000n });
    expect(parseAddressValue('buf+4K')).toEqual({ symbol: 'buf', offset: 4096n });
    expect(parseAddressValue('buf-0x10')).toEqual({ symbol: 'buf', offset: -16n });
    expect(parseAddressValue('buf+')).toBeUndefined();
    expect(parseAddressValue('buf+zz')).toBeUndefined();
  });
  it('parses hex bytes with or without spaces, only whole bytes', () => {
    expect([...parseHexBytes('de ad be ef')!]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect([...parseHexBytes('deadbeef')!]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(parseHexBytes('d ead')).toBeUndefined();
    expect(parseHexBytes('xyz0')).toBeUndefined();
    expect(parseHexBytes('abc')).toBeUndefined();
  });
});

describe('good scenarios', () => {
  it('applies the defaults of spec/scenario.md', () => {
    const s = scenarioFromJson(withValue(processScenario(), 'kernel', undefined));
    expect(s.kernel).toBe('v7');
    expect(s.machine.memoryBytes).toBe(64 * 1024 * 1024);
    expect(s.machine.snp).toBe(true);
    expect(s.machine.rmpWalkReads).toBe(true);
    expect(s.machine.features).toEqual({ nx: true, smep: true, smap: true, pcid: false, la57: false });
    expect(s.machine.quirks.hostChecksImmutable).toBe(false);
    expect(s.run).toEqual({ maxInstructions: 1_000_000, maxFaults: 64 });
    const buf = s.process!.regions[1]!;
    expect(buf.pageBytes).toBe(2 << 20);
    expect(buf.kind).toBe('thp');
    expect(s.process!.regions[0]!.kind).toBe('anon');
    expect(s.process!.regions[0]!.bytes!.length).toBe(15);
    expect(s.process!.regs.rdi).toEqual({ symbol: 'buf', offset: 0x1000n });
  });
  it('applies the CPU defaults under kernel none', () => {
    const s = scenarioFromJson(noneScenario());
    const cpu = s.cpu!;
    expect(cpu.cr0).toBe(0x80010033n); // PG|WP|NE|ET|MP|PE
    expect(cpu.cr4).toBe(0x300020n); // PAE|SMEP|SMAP
    expect(cpu.efer).toBe(0xd01n); // LME|LMA|NXE|SCE
    expect(cpu.rflags).toBe(2n);
    expect(cpu.gprs).toEqual(new Array(16).fill(0n));
    expect(cpu.cr3).toBeUndefined();
    expect(cpu.cpl).toBe(3);
  });
  it('accepts features as a list and quirks as an object', () => {
    const s = scenarioFromJson(processScenario({ machine: { features: ['nx'], quirks: { hostChecksImmutable: true } } }));
    expect(s.machine.features).toEqual({ nx: true, smep: false, smap: false, pcid: false, la57: false });
    expect(s.machine.quirks.hostChecksImmutable).toBe(true);
  });
  it('loads JSON text and reports malformed JSON with line and column', () => {
    expect(loadScenario(JSON.stringify(processScenario())).name).toBe('test');
    try {
      scenarioFromText('{\n  "format": 1,\n  "name": "x",,\n}', 'bad.json');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).message).toMatch(/^bad\.json: malformed JSON at line 3, column \d+/);
    }
  });
  it('reports a missing file by name', () => {
    expect(() => loadScenario('/nonexistent/scenario.json')).toThrow(/\/nonexistent\/scenario\.json: no such file/);
  });
});

describe.runIf(haveGnuAssembler())('asm regions (GNU as, Intel syntax)', () => {
  it('assembles at the region address', () => {
    const json = withValue(processScenario(), 'process.regions[0].hex', undefined);
    (json.process as { regions: Record<string, unknown>[] }).regions[0]!.asm = 'mov dword ptr [rdi], 1\nmov eax, 60\nxor edi, edi\nsyscall';
    const s = scenarioFromJson(json);
    // The same bytes as spec/scenario.md's example code (c7 07 imm32; b8 imm32; 31 ff; 0f 05).
    expect([...s.process!.regions[0]!.bytes!]).toEqual([0xc7, 0x07, 1, 0, 0, 0, 0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05]);
  });
  it('reports assembler errors at the asm field', () => {
    const json = withValue(processScenario(), 'process.regions[0].hex', undefined);
    (json.process as { regions: Record<string, unknown>[] }).regions[0]!.asm = 'mov eax, [';
    const e = inputError(json);
    expect(e.jsonPath).toBe('process.regions[0].asm');
    // The assembler's own line first, then (src/scenario/assemble.ts) a hint naming the syntax `asm` expects.
    expect(e.problem).toMatch(/^as: line 1: Error: bad expression \(`asm` is GNU as in Intel syntax/);
  });
});

describe('input errors name the file, the JSON path and what was expected', () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['format other than 1', processScenario({ format: 2 }), 'format', /expected 1/],
    ['missing name', withValue(processScenario(), 'name', undefined), 'name', /missing/],
    ['unknown top-level key', processScenario({ colour: 'red' }), 'colour', /unknown key "colour"/],
    ['unknown kernel', processScenario({ kernel: 'v8' }), 'kernel', /"v7", "mainline", "none"/],
    ['region size not a number', withValue(processScenario(), 'process.regions[1].size', 'big'), 'process.regions[1].size', /expected an integer/],
    ['region size not a multiple of its page', withValue(processScenario(), 'process.regions[1].size', '4K'), 'process.regions[1].size', /multiple of 2M/],
    ['region address not aligned to its page', withValue(processScenario(), 'process.regions[1].at', '0x40001000'), 'process.regions[1].at', /2M-aligned/],
    ['unknown region key', withValue(processScenario(), 'process.regions[0].colour', 1), 'process.regions[0].colour', /unknown key/],
    ['bad prot', withValue(processScenario(), 'process.regions[0].prot', 'rwz'), 'process.regions[0].prot', /protection/],
    ['bad page size', withValue(processScenario(), 'process.regions[1].page', '3M'), 'process.regions[1].page', /"4K" or "2M" or "1G"/],
    ['thp with a 4K page', withValue(processScenario(), 'process.regions[1].page', '4K'), 'process.regions[1].page', /PMD/],
    ['bad hex', withValue(processScenario(), 'process.regions[0].hex', 'c7 0'), 'process.regions[0].hex', /hex bytes/],
    ['hex longer than the region', withValue(processScenario(), 'process.regions[0].hex', '00'.repeat(4097)), 'process.regions[0].hex', /do not fit/],
    ['duplicate region name', withValue(processScenario(), 'process.regions[1].name', 'code'), 'process.regions[1].name', /used twice/],
    ['overlapping regions', withValue(processScenario(), 'process.regions[1].at', '0x400000'), 'process.regions[1].at', /overlaps/],
    ['unknown symbol', withValue(processScenario(), 'process.regs.rdi', 'buff+0x10'), 'process.regs.rdi', /"buff" names no region/],
    ['unknown register', withValue(processScenario(), 'process.regs.rzz', 1), 'process.regs.rzz', /unknown key/],
    ['cpu under a kernel', processScenario({ cpu: { rip: 0 } }), 'cpu', /kernel none/],
    ['process under kernel none', noneScenario({ process: processScenario().process }), 'process', /needs a kernel/],
    ['kernel none without cpu', withValue(noneScenario(), 'cpu', undefined), 'cpu', /missing/],
    ['raw entries without cr3', noneScenario({ paging: { entries: [{ pa: '0x1000', u64: '0x2007' }] } }), 'cpu.cr3', /required unless paging\.maps/],
    ['cpl out of range', withValue(noneScenario(), 'cpu.cpl', 4), 'cpu.cpl', /0x0 to 0x3/],
    ['map flag unknown', withValue(noneScenario(), 'paging.maps[0].flags', ['P', 'XX']), 'paging.maps[0].flags[1]', /"P", "RW"/],
    ['map level a 2M map does not have', noneScenario({ paging: { maps: [{ va: 0, pa: 0, size: '2M', flags: ['P'], levels: { pde: { flags: ['P'] } } }] } }), 'paging.maps[0].levels.pde', /unknown key/],
    ['map va not aligned', withValue(noneScenario(), 'paging.maps[0].va', '0x10010'), 'paging.maps[0].va', /aligned/],
    ['non-canonical va', withValue(noneScenario(), 'paging.maps[0].va', '0x800000000000'), 'paging.maps[0].va', /canonical/],
    ['symbol under kernel none', withValue(noneScenario(), 'physical[0].pa', 'buf'), 'physical[0].pa', /no process regions/],
    ['rmp page under kernel none', noneScenario({ rmp: [{ page: '0x10000', state: 'hypervisor' }] }), 'rmp[0].page', /use "pa"/],
    ['rmp entry naming no page', processScenario({ rmp: [{ state: 'hypervisor' }] }), 'rmp[0]', /one of "page", "pa", "tableOf"/],
    ['rmp entry naming two pages', processScenario({ rmp: [{ page: 'buf', pa: 0, state: 'hypervisor' }] }), 'rmp[0]', /only one of/],
    ['unknown RMP state', processScenario({ rmp: [{ page: 'buf', state: 'guest' }] }), 'rmp[0].state', /"guest-valid"/],
    ['guest state without asid', processScenario({ rmp: [{ page: 'buf', state: 'guest-valid', gpa: 0 }] }), 'rmp[0].asid', /ASID from 1 to 1023/],
    ['asid 0 for a guest', processScenario({ rmp: [{ page: 'buf', state: 'guest-valid', asid: 0, gpa: 0 }] }), 'rmp[0].asid', /0x1 to 0x3ff/],
    ['asid on a hypervisor page', processScenario({ rmp: [{ page: 'buf', state: 'hypervisor', asid: 1 }] }), 'rmp[0].asid', /fixes asid/],
    ['unaligned gpa of a 2M entry', processScenario({ rmp: [{ page: 'buf', state: 'guest-valid', asid: 1, gpa: '0x1000', size: '2M' }] }), 'rmp[0].gpa', /aligned/],
    ['1G RMP entry', processScenario({ rmp: [{ page: 'buf', state: 'guest-valid', asid: 1, gpa: 0, size: '1G' }] }), 'rmp[0].size', /"4K" or "2M"/],
    ['bad tableOf level', processScenario({ rmp: [{ tableOf: { va: 'buf', level: 'pte' }, state: 'firmware' }] }), 'rmp[0].tableOf.level', /"pml4", "pdpt", "pd", "pt"/],
    ['event with two whens', processScenario({ events: [{ when: { fault: 1, instructions: 2 }, do: { unmap: 'buf' } }] }), 'events[0].when', /only one of/],
    ['event fault 0', processScenario({ events: [{ when: { fault: 0 }, do: { unmap: 'buf' } }] }), 'events[0].when.fault', /0x1 to/],
    ['event kernel value', processScenario({ events: [{ when: { kernel: 'after-handler' }, do: { unmap: 'buf' } }] }), 'events[0].when.kernel', /"before-handler"/],
    ['event unknown action', processScenario({ events: [{ when: { fault: 1 }, do: { explode: 'buf' } }] }), 'events[0].do.explode', /unknown key/],
    ['unmap of an unknown region', processScenario({ events: [{ when: { fault: 1 }, do: { unmap: 'heap' } }] }), 'events[0].do.unmap', /names no region/],
    ['remap without to', processScenario({ events: [{ when: { fault: 1 }, do: { remap: { region: 'buf' } } }] }), 'events[0].do.remap.to', /missing/],
    ['before-handler under kernel none', noneScenario({ events: [{ when: { kernel: 'before-handler' }, do: { psmash: 0 } }] }), 'events[0].when.kernel', /no fault handler/],
    ['unmap under kernel none', noneScenario({ events: [{ when: { fault: 1 }, do: { unmap: 'x' } }] }), 'events[0].do.unmap', /no process/],
    ['unknown outcome', processScenario({ expect: { outcome: 'crash' } }), 'expect.outcome', /"exit", "signal"/],
    ['bad signal name', processScenario({ expect: { signal: 'bus' } }), 'expect.signal', /signal name/],
    ['unknown kernel decision', processScenario({ expect: { kernel: ['split', 'smash'] } }), 'expect.kernel[1]', /"split", "retry"/],
    ['fault key unknown', processScenario({ expect: { faults: [{ vector: 14, cr2: 0 }] } }), 'expect.faults[0].cr2', /unknown key/],
    ['errorCode beyond 32 bits', processScenario({ expect: { faults: [{ errorCode: '0x100000000' }] } }), 'expect.faults[0].errorCode', /0xffffffff/],
    ['memory without hex', processScenario({ expect: { memory: [{ at: 'buf' }] } }), 'expect.memory[0].hex', /missing/],
    ['expect regs unknown register', processScenario({ expect: { regs: { eax: 1 } } }), 'expect.regs.eax', /unknown key/],
    ['memory size not 4K-aligned', processScenario({ machine: { memory: '1000' } }), 'machine.memory', /4K-aligned/],
    ['rmp end not 8K-1', processScenario({ machine: { rmp: { base: '0x3f00000', end: '0x3fff000' } } }), 'machine.rmp.end', /8K-aligned/],
    ['unknown quirk', processScenario({ machine: { quirks: { fastMode: true } } }), 'machine.quirks.fastMode', /unknown key/],
    ['run budget zero', processScenario({ run: { maxInstructions: 0 } }), 'run.maxInstructions', /0x1 to/],
    ['cr4 enabling a feature the machine lacks', noneScenario({ machine: { features: { smep: false } } }), 'cpu.cr4', /SMEP \(bit 20\).*does not support/],
    ['efer enabling NX without the feature', noneScenario({ machine: { features: ['smep', 'smap'] } }), 'cpu.efer', /NXE \(bit 11\)/],
    ['rmp entries with SNP off', processScenario({ machine: { snp: false }, rmp: [{ page: 'buf', state: 'hypervisor' }] }), 'rmp', /machine\.snp is false/],
    ['not an object', [1, 2] as unknown as Record<string, unknown>, '', /expected an object, got a list/],
  ];
  for (const [title, json, path, problem] of cases) {
    it(title, () => {
      const e = inputError(json);
      expect(e.file).toBe('case.json');
      expect(e.jsonPath).toBe(path);
      expect(e.problem).toMatch(problem);
      expect(e.message).toBe(`case.json${path === '' ? '' : `: ${path}`}: ${e.problem}`);
    });
  }
});
