// Validation gaps a QA pass found (issue 6 findings): bytes placed beyond RAM, duplicate JSON keys,
// two rmp entries for one page, instructions outside the emulated subset inside a scenario, the
// `asm` syntax hint and the 1G-hugetlb memory hint. Each is an InputError naming the JSON path.

import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/scenario/errors.ts';
import { scenarioFromJson, scenarioFromText } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/scenario/run.ts';
import { AssemblerError, assembleFlat, haveGnuAssembler } from '../../src/scenario/assemble.ts';

function inputError(body: () => unknown): InputError {
  try {
    body();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an InputError');
}

function none(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 1,
    name: 'bare',
    kernel: 'none',
    machine: { memory: '64M' },
    cpu: { rip: '0x10000', cpl: 0 },
    paging: { maps: [{ va: '0x10000', pa: '0x10000', size: '4K', flags: ['P', 'RW'] }] },
    physical: [{ pa: '0x10000', hex: 'f4' }],
    ...extra,
  };
}

function proc(hex: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 1,
    name: 'process',
    kernel: 'v7',
    process: {
      regions: [
        { name: 'code', at: '0x400000', size: '4K', prot: 'r-x', hex },
        { name: 'buf', at: '0x600000', size: '4K', prot: 'rw-' },
      ],
      entry: 'code',
    },
    ...extra,
  };
}

describe('bytes beyond RAM', () => {
  it('refuses physical[].pa beyond RAM, naming the path and the RAM size', () => {
    // 64M = 0x4000000: the last byte of RAM is 0x3ffffff.
    const e = inputError(() => scenarioFromJson(none({ physical: [{ pa: '0x10000', hex: 'f4' }, { pa: '0x4000000', hex: '00' }] }), 'f.json'));
    expect(e.jsonPath).toBe('physical[1].pa');
    expect(e.message).toMatch(/beyond RAM \(machine\.memory is 64M = 0x4000000\)/);
    // A range that starts in RAM and runs past its end: 0x3fffffe + 4 bytes > 0x4000000.
    const e2 = inputError(() => scenarioFromJson(none({ physical: [{ pa: '0x3fffffe', hex: '01 02 03 04' }] }), 'f.json'));
    expect(e2.jsonPath).toBe('physical[0].pa');
    // The last 2 bytes of RAM are fine.
    expect(() => scenarioFromJson(none({ physical: [{ pa: '0x10000', hex: 'f4' }, { pa: '0x3fffffe', hex: '01 02' }] }))).not.toThrow();
  });

  it('refuses paging.entries[].pa beyond RAM but keeps entry values that point beyond RAM', () => {
    const e = inputError(() => scenarioFromJson(none({
      cpu: { rip: '0x10000', cpl: 0, cr3: '0x20000' },
      paging: { entries: [{ pa: '0x20000', u64: '0x21003' }, { pa: '0x8000000', u64: '0x3' }] },
    }), 'f.json'));
    expect(e.jsonPath).toBe('paging.entries[1].pa');
    expect(e.message).toMatch(/beyond RAM/);
    // "tables outside RAM" (spec/scenario.md): a PML4E whose frame 0x80000000 lies beyond 64M RAM.
    expect(() => scenarioFromJson(none({
      cpu: { rip: '0x10000', cpl: 0, cr3: '0x20000' },
      paging: { entries: [{ pa: '0x20000', u64: '0x80000003' }] },
    }))).not.toThrow();
  });
});

describe('duplicate JSON keys', () => {
  it('names the repeated key with its path, at the top level and nested', () => {
    const top = inputError(() => scenarioFromText('{"format":1,"name":"d","kernel":"v7","kernel":"mainline"}', 'd.json'));
    expect(top.message).toBe('d.json: kernel: duplicate key "kernel"; JSON would silently keep only the last one, so give each key once');
    const nested = inputError(() => scenarioFromText(JSON.stringify(proc('f4')).replace('"prot":"rw-"', '"prot":"rw-","prot":"r--"'), 'n.json'));
    expect(nested.jsonPath).toBe('process.regions[1].prot');
    // Keys compare after unescaping: "k\u0065rnel" is "kernel".
    const escaped = inputError(() => scenarioFromText('{"format":1,"kernel":"v7","k\\u0065rnel":"none","name":"x"}', 'e.json'));
    expect(escaped.jsonPath).toBe('kernel');
  });

  it('accepts the same key in different objects, and strings that look like keys', () => {
    const text = JSON.stringify(proc('f4', { notes: '"kernel":"v7","kernel":"x" {[' }));
    expect(() => scenarioFromText(text, 'ok.json')).not.toThrow();
  });
});

describe('rmp entries for the same page', () => {
  it('names both paths for the same pa, the same page symbol, and a 4K page inside a 2M entry', () => {
    const samePa = inputError(() => scenarioFromJson(proc('f4', { rmp: [{ pa: '0x3000000', state: 'firmware' }, { pa: '0x3000010', state: 'hypervisor' }] }), 'r.json'));
    expect(samePa.message).toMatch(/^r\.json: rmp\[1\]: names the same page as rmp\[0\]/);
    const samePage = inputError(() => scenarioFromJson(proc('f4', { rmp: [{ page: 'buf', state: 'firmware' }, { page: 'buf+0x10', state: 'reclaim' }] }), 'r.json'));
    expect(samePage.message).toMatch(/rmp\[1\]: names the same page as rmp\[0\]/);
    const inside2M = inputError(() => scenarioFromJson(proc('f4', {
      rmp: [
        { pa: '0x3000000', state: 'guest-valid', asid: 1, gpa: '0x0', size: '2M' },
        { pa: '0x3001000', state: 'hypervisor' },
      ],
    }), 'r.json'));
    expect(inside2M.message).toMatch(/rmp\[1\]: its page at 0x3001000 overlaps rmp\[0\], a 2M entry at 0x3000000/);
    // Neighbouring pages are fine.
    expect(() => scenarioFromJson(proc('f4', { rmp: [{ pa: '0x3000000', state: 'firmware' }, { pa: '0x3001000', state: 'firmware' }] }))).not.toThrow();
  });
});

describe('instructions outside the emulated subset, inside a scenario', () => {
  it('ends the run with an input error naming the instruction and address (vzeroupper, c5 f8 77)', () => {
    const e = inputError(() => runScenario(scenarioFromJson(proc('c5 f8 77', { expect: { outcome: 'signal', signal: 'SIGILL' } }), 'vz.json')));
    expect(e.message).toBe('vz.json: unsupported instruction "vzeroupper" at 0x400000: valid x86-64, but outside the subset snpemu emulates (docs/cli.md)');
  });

  it('does the same under kernel none', () => {
    const e = inputError(() => runScenario(scenarioFromJson(none({ physical: [{ pa: '0x10000', hex: 'c5 f8 77' }] }), 'n.json')));
    expect(e.message).toMatch(/unsupported instruction "vzeroupper" at 0x10000/);
  });

  it('keeps genuine #UD: UD2 (0F 0B), 0F FF (UD0 without ModRM is invalid) and 06 (PUSH ES, invalid in 64-bit mode)', () => {
    // Intel SDM Vol.2B "UD": UD2 = 0F 0B; Vol.2A Table A-2: opcode 06 is invalid in 64-bit mode.
    for (const hex of ['0f 0b', '0f ff', '06']) {
      const r = runScenario(scenarioFromJson(proc(hex), 'ud.json')).result;
      expect(r.outcome.kind).toBe('signal');
      expect(r.outcome.signal).toBe('SIGILL');
    }
  });

  it('keeps the architectural #UD of a known instruction: SYSCALL with EFER.SCE = 0 (kernel none)', () => {
    // AMD APM Vol.3 "SYSCALL": #UD when EFER.SCE = 0. EFER 0xd00 = LME|LMA|NXE without SCE.
    const r = runScenario(scenarioFromJson(none({ cpu: { rip: '0x10000', cpl: 0, efer: '0xd00' }, physical: [{ pa: '0x10000', hex: '0f 05' }] }), 's.json')).result;
    expect(r.outcome.kind).toBe('exception');
    expect(r.faults[0]!.vector).toBe(6);
  });
});

describe('hints in setup errors', () => {
  it.skipIf(!haveGnuAssembler())('says that `asm` is Intel syntax when AT&T text fails, and names ld once', () => {
    let message = '';
    try {
      assembleFlat('mov $60, %eax\nsyscall', 0x400000);
    } catch (e) {
      if (!(e instanceof AssemblerError)) throw e;
      message = e.message;
    }
    // `$60` is taken for a symbol in Intel syntax, so ld reports it undefined.
    expect(message).toMatch(/^ld: a\.o:\(\.text\+0x\d\): undefined reference to `\$60'/);
    expect(message).not.toMatch(/ld: ld:/);
    expect(message).toMatch(/`asm` is GNU as in Intel syntax without % prefixes/);
  });

  it('suggests more memory when a 1G hugetlb region does not fit', () => {
    // 2G of RAM holds two 1G blocks; the kernel's own frames sit in the low one and the RMP table
    // in the high one, so no free 1G block is left; 3G leaves the middle block free.
    const s = proc('f4', {
      machine: { memory: '2G' },
      process: {
        regions: [
          { name: 'code', at: '0x400000', size: '4K', prot: 'r-x', hex: 'f4' },
          { name: 'huge', at: '0x40000000', size: '1G', prot: 'rw-', page: '1G', kind: 'hugetlb' },
        ],
        entry: 'code',
      },
    });
    const e = inputError(() => runScenario(scenarioFromJson(s, 'g.json')));
    expect(e.message).toMatch(/no free, 1 GiB-aligned 1 GiB block left \(raise machine\.memory, e\.g\. "3G"\)/);
  });
});
