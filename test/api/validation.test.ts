// Bad input from plain JavaScript (or `as any`): every call refuses it with a MachineError naming the
// problem, instead of doing something else silently (src/api/validate.ts; QA2 findings 2, 6, 7, 10).

import { describe, expect, it } from 'vitest';
import { Machine, MachineError } from '../../src/index.ts';
import { RegisterNameError } from '../../src/api/registers.ts';
import { MAX_INSTRUCTIONS } from '../../src/api/validate.ts';
import { CODE_VA, HELLO, LOOP, bareMachine, helloProcess } from './fixtures.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;
const SCENARIO_04_MAINLINE = new URL('../../scenarios/04-race-munmap-mainline.json', import.meta.url).pathname;
const SCENARIO_01 = new URL('../../scenarios/01-thp-shared-page-v7.json', import.meta.url).pathname;

describe('run budgets', () => {
  // eb fe: jmp $ (a 2-byte jump to itself), a loop that never ends by itself.
  const SPIN = 'eb fe';

  it('refuse budgets that are not integers from 0 to 1e10', () => {
    const m = bareMachine(SPIN);
    for (const bad of [Infinity, 1e12, MAX_INSTRUCTIONS + 1, 1.5, -1, NaN, '10']) {
      expect(() => m.run({ maxInstructions: bad as Loose })).toThrow(MachineError);
    }
    expect(() => m.run({ maxInstructions: Infinity })).toThrow(/run: maxInstructions must be an integer from 0 to 1e\+10 .*got Infinity/);
    expect(() => m.run({ maxFaults: 0.5 })).toThrow(/run: maxFaults must be an integer/);
    expect(() => m.run({ maxInstruction: 10 } as Loose)).toThrow(/run\(limits\): unknown key "maxInstruction"; expected maxInstructions, maxFaults, until/);
    expect(() => m.run({ until: 'x' as Loose })).toThrow(/run: until: expected a bigint or a safe integer, got "x"/);
    // Nothing ran: every refusal happens before the CPU starts.
    expect(m.regs.rip).toBe(BigInt(CODE_VA));
  });

  it('accept the maximum itself (a program that halts ends long before it)', () => {
    const r = bareMachine(LOOP).run({ maxInstructions: MAX_INSTRUCTIONS });
    expect(r.outcome.kind).toBe('halt');
    // LOOP (fixtures.ts): mov, then 5 × (add, dec, jnz), then hlt = 1 + 15 + 1 = 17.
    expect(r.stats.instructions).toBe(17);
  });
});

describe('machine config', () => {
  it('refuse unknown keys and non-boolean switches', () => {
    expect(() => new Machine({ memroy: '16M' } as Loose)).toThrow(/new Machine\(config\): unknown key "memroy"; expected memory, snp, rmp/);
    expect(() => new Machine({ snp: 'yes' } as Loose)).toThrow(/config.snp: expected true or false, got "yes"/);
    expect(() => new Machine({ features: { smepp: false } } as Loose)).toThrow(/config.features: unknown key "smepp"/);
    expect(() => new Machine({ rmp: { base: 0, ends: 1 } } as Loose)).toThrow(/config.rmp: unknown key "ends"/);
    expect(() => new Machine({ memory: '4M', snp: false })).not.toThrow();
  });
});

describe('createProcess', () => {
  it('refuse an unknown kernel policy, unknown keys, and unknown register names', () => {
    const region = { name: 'code', at: 0x400000, size: '4K', prot: 'r-x', bytes: HELLO };
    expect(() => new Machine({ memory: '16M' }).createProcess({ kernel: 'v8', regions: [region], entry: 'code' } as Loose))
      .toThrow(/createProcess: kernel: expected one of "v7", "mainline", got "v8"/);
    expect(() => new Machine({ memory: '16M' }).createProcess({ regions: [{ ...region, hexx: '90' }], entry: 'code' } as Loose))
      .toThrow(/createProcess: regions\[0\]: unknown key "hexx"/);
    expect(() => new Machine({ memory: '16M' }).createProcess({ regions: [{ ...region, hex: '90' }], entry: 'code' } as Loose))
      .toThrow(/regions\[0\] has both bytes and hex/);
    expect(() => new Machine({ memory: '16M' }).createProcess({ regions: [region], entry: 'code', regs: { rzz: 1 } } as Loose))
      .toThrow(RegisterNameError);
    expect(() => new Machine({ memory: '16M' }).createProcess({ regions: [region], entry: 'code', stack: 1 } as Loose))
      .toThrow(/createProcess\(spec\): unknown key "stack"/);
  });

  it('accept `hex`, the scenario word, as an alias of `bytes`', () => {
    const m = new Machine({ memory: '16M' });
    m.createProcess({ regions: [{ name: 'code', at: 0x400000, size: '4K', prot: 'r-x', hex: HELLO }], entry: 'code' });
    const r = m.run();
    // HELLO writes "hi\n" and exits 0 (fixtures.ts listing); with the bytes ignored it would run zeros.
    expect(r.outcome).toMatchObject({ kind: 'exit', exitCode: 0 });
    expect(r.stdout).toBe('hi\n');
  });
});

describe('physical addresses beyond RAM', () => {
  // 16 MiB = 0x1000000 bytes: physical addresses 0..0xffffff.
  it('are refused by every physical access, naming the address and the RAM size', () => {
    const m = new Machine({ memory: '16M', snp: false });
    expect(() => m.writePhysical(0x2000000, '90')).toThrow(/writePhysical: 0x2000000..0x2000000 is beyond RAM \(0x1000000 bytes: physical addresses 0..0xffffff\)/);
    expect(() => m.readPhysical(0x2000000, 4)).toThrow(/readPhysical: 0x2000000..0x2000003 is beyond RAM/);
    // A range that starts inside RAM and runs off its end is refused too.
    expect(() => m.readPhysical(0xfffffe, 4)).toThrow(/0xfffffe..0x1000001 is beyond RAM/);
    expect(() => m.readPhysical64(0xfffffc)).toThrow(/readPhysical64: 0xfffffc..0x1000003 is beyond RAM/);
    expect(() => m.writePhysical64(0x1000000, 1n)).toThrow(/writePhysical64: 0x1000000..0x1000007 is beyond RAM/);
    expect(() => m.map({ va: 0x400000, pa: 0x80000000 })).toThrow(/map pa: 0x80000000..0x80000fff is beyond RAM/);
    // A 1G page at pa 0 spans 0..0x3fffffff, past the 16 MiB (a 2M page at 0xe00000 ends exactly at RAM's end: fine).
    expect(() => m.map({ va: 0x40000000, pa: 0, size: '1G' })).toThrow(/map pa: 0x0..0x3fffffff is beyond RAM/);
    // The last bytes of RAM are fine.
    m.writePhysical(0xfffffe, [1, 2]);
    expect([...m.readPhysical(0xfffffe, 2)]).toEqual([1, 2]);
    expect(() => m.map({ va: 0x400000, pa: 0xfff000 })).not.toThrow();
  });
});

describe('hook options', () => {
  it('refuse unknown options and ranges that are not integers', () => {
    const m = new Machine({ memory: '4M', snp: false });
    expect(() => m.hooks.add('read', () => {}, { spaec: 'physical' } as Loose)).toThrow(/hooks.add\("read"\) options: unknown key "spaec"; expected begin, end, space/);
    expect(() => m.hooks.add('block', () => {}, { begin: 0 } as Loose)).toThrow(/hooks.add\("block"\) options: unknown key "begin"; it takes no options/);
    expect(() => m.hooks.add('rmp-check', () => {}, { failedOnly: 'yes' } as Loose)).toThrow(/option failedOnly: expected true or false/);
    expect(() => m.hooks.add('instruction', () => {}, { begin: 'x' } as Loose)).toThrow(/hooks.add\("instruction"\) option begin: expected a bigint or a safe integer, got "x"/);
    expect(() => m.hooks.add('instruction', () => {}, { end: 2 ** 64 })).toThrow(MachineError);
    expect(m.hooks.size).toBe(0);
  });
});

describe('hook answers', () => {
  it("refuse 'retry' from a hook that is not an exception hook", () => {
    const m = bareMachine(LOOP);
    const h = m.hooks.add('instruction', () => 'retry' as Loose, { begin: CODE_VA, end: CODE_VA });
    expect(() => m.run()).toThrow(/an instruction hook answered 'retry', which only exception hooks may answer/);
    // The machine stays usable: without the hook, LOOP runs to its HLT (17 instructions, see above).
    h.remove();
    m.regs.rip = BigInt(CODE_VA);
    expect(m.run().outcome.kind).toBe('halt');
  });
});

describe('run after the process has ended', () => {
  it('returns the same exit again without executing anything', () => {
    const m = helloProcess();
    const first = m.run();
    expect(first.outcome).toMatchObject({ kind: 'exit', exitCode: 0, message: 'exit(0)' });
    const rip = m.regs.rip;
    const again = m.run();
    expect(again.outcome).toMatchObject({ kind: 'exit', exitCode: 0, message: 'the process has already ended: exit(0)' });
    expect(again.stats.instructions).toBe(0);
    expect(again.stdout).toBe('hi\n');
    expect(m.regs.rip).toBe(rip);
  });

  it('forgets the end when a snapshot from before it is restored', () => {
    const m = helloProcess();
    const snap = m.snapshot();
    m.run();
    m.restore(snap);
    const r = m.run();
    expect(r.outcome).toMatchObject({ kind: 'exit', message: 'exit(0)' });
    // HELLO runs 8 instructions (fixtures.ts listing: 4, syscall, 2, syscall).
    expect(r.stats.instructions).toBe(8);
  });
});

describe('scenario machines under run()', () => {
  it('warn when the scenario has events, which run() does not fire', () => {
    const m = Machine.fromScenario(SCENARIO_04_MAINLINE);
    const r = m.run();
    expect(r.warning).toMatch(/this scenario has 1 event, which run\(\) does not fire; runScenario\(\) runs it with its events/);
    expect(Machine.fromScenario(SCENARIO_01).run().warning).toBeUndefined();
  });
});

describe('a bare machine with a map at the top of RAM', () => {
  it('runs code placed in the last page', () => {
    // hlt at the last page of a 16 MiB machine: in RAM, so accepted and run.
    const m = new Machine({ memory: '16M', snp: false });
    m.writePhysical(0xfff000, 'f4');
    m.map({ va: CODE_VA, pa: 0xfff000, flags: ['P'] });
    m.regs.rip = BigInt(CODE_VA);
    expect(m.run().outcome.kind).toBe('halt');
  });
});
