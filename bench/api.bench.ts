// Library API benchmarks (issue 9), recorded in bench/RESULTS.md, section "API":
// 1. No-hook overhead: the CPU benchmark loops (bench/cpu.bench.ts: alu, load/add/store) run
//    through the core Cpu.run and through the facade's Machine.run with no hook, with hooks added
//    and removed again, and with hooks on (for scale).
// 2. Snapshot cost: snapshot(), restore(), and restore + a short run (a fuzzing iteration).
//
// Each variant runs in its own child process, next to a core machine whose passes alternate with its
// own (a paired measurement: both see the same load on a shared machine), so one variant's inline
// caches (an MMU observer seen at a call site, say) cannot slow another down. Reported: the median of
// the per-pair time ratios, per process and over processes. Run: `npx tsx bench/api.bench.ts`
// (`--rounds N` processes per variant, default 5; `--only facade,facade-hooks-removed` for some variants;
// `--pollution` for the inline-cache experiment of bench/RESULTS.md "API").

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Machine as CoreMachine } from '../src/machine.ts';
import { Machine } from '../src/index.ts';

const CODE = 0x400000;
const DATA = 0x600000;
const ITER = 200_000;
const ALU = '4801c8 4831c2 48c1e201 48ffc9 75f1 f4'; // add rax,rcx; xor rdx,rax; shl rdx,1; dec rcx; jnz; hlt
const MEM = '488b06 4801d8 488906 4883c608 48ffc9 75ee 4881ee00000100 48c7c100200000 48ffca 75db f4';
const PASSES = 8;

/** The core machine of cpu.bench.ts: 1 GiB identity-mapped with 2 MiB pages, tables at 0x1000. */
function identityTables(write64: (pa: number, v: bigint) => void): void {
  write64(0x1000, 0x2000n | 7n);
  write64(0x2000, 0x3000n | 7n);
  for (let i = 0; i < 32; i++) write64(0x3000 + i * 8, BigInt(i * 0x200000) | 0x87n);
}

function hexBytes(hex: string): number[] {
  const s = hex.replace(/\s+/g, '');
  return Array.from({ length: s.length / 2 }, (_, i) => parseInt(s.slice(i * 2, i * 2 + 2), 16));
}

type Program = 'alu' | 'mem';

/** Sets registers for one pass and returns the instructions it retires (hlt included). */
function prepare(program: Program, setReg: (i: number, v: bigint) => void, setRip: (v: bigint) => void): number {
  setRip(BigInt(CODE));
  if (program === 'alu') {
    setReg(1, BigInt(ITER));
    return ITER * 5 + 1;
  }
  setReg(6, BigInt(DATA));
  setReg(1, 8192n);
  setReg(2, BigInt(PASSES));
  setReg(3, 3n);
  return PASSES * (8192 * 6 + 4) + 1;
}

/** Build one variant's machine; returns a function that runs one pass and the instructions it retires. */
function setupVariant(variant: string, program: Program): { pass: () => void; n: number } {
  const code = hexBytes(program === 'alu' ? ALU : MEM);
  if (variant === 'core') {
    const m = new CoreMachine({ memoryBytes: 64 << 20, snp: false });
    identityTables((pa, v) => m.phys.writeU64(pa, v));
    m.phys.writeBytes(CODE, code);
    m.cpu.cr3 = 0x1000n;
    m.cpu.setReg(4, 0x800000n);
    const n = prepare(program, (i, v) => m.cpu.setReg(i, v), (v) => (m.cpu.rip = v));
    return {
      n,
      pass: () => {
        prepare(program, (i, v) => m.cpu.setReg(i, v), (v) => (m.cpu.rip = v));
        const stop = m.cpu.run(n + 10);
        if (stop.kind !== 'halt') throw new Error(`core: ${stop.kind}`);
      },
    };
  }
  const m = new Machine({ memory: '64M', snp: false });
  identityTables((pa, v) => m.writePhysical64(pa, v));
  m.writePhysical(CODE, code);
  m.regs.cr3 = 0x1000n;
  m.regs.rsp = 0x800000n;
  // The same control state as the core machine of cpu.bench.ts (its tables set U/S=1 everywhere, which
  // SMEP, on by default in the facade's bare machine, would refuse to execute at CPL 0).
  m.regs.cr4 = 0x20n;
  m.regs.cr0 = 0x80050033n;
  let counter = 0;
  if (variant === 'facade-hooks-removed') {
    // Every kind of installation made and undone: instruction, block, fetch and exception CPU hooks, and the
    // MMU observer (read/write use its `access` event; walk and rmp-check its own events).
    for (const kind of ['instruction', 'block', 'read', 'write', 'walk', 'rmp-check', 'exception', 'fetch'] as const) {
      const h = m.hooks.add(kind, () => undefined);
      prepare(program, (i, v) => m.core.cpu.setReg(i, v), (v) => (m.regs.rip = v));
      m.run({ maxInstructions: 1000 });
      h.remove();
    }
  } else if (variant === 'facade-tap-removed' || variant === 'facade-observer-removed' || variant === 'facade-cpu-hooks-removed') {
    // One installation made and undone, to see which one leaves a trace in V8's inline caches
    // ('facade-tap-removed' keeps its historical name: it adds read/write hooks, now the MMU observer's `access` event).
    const kinds = variant === 'facade-tap-removed' ? (['read', 'write'] as const)
      : variant === 'facade-observer-removed' ? (['walk', 'rmp-check'] as const) : (['instruction', 'block', 'exception'] as const);
    for (const kind of kinds) {
      const h = m.hooks.add(kind, () => undefined);
      prepare(program, (i, v) => m.core.cpu.setReg(i, v), (v) => (m.regs.rip = v));
      m.run({ maxInstructions: 1000 });
      h.remove();
    }
  } else if (variant === 'facade-kernel-hooks') {
    // Kinds that install nothing on the CPU or MMU: free on a bare machine.
    m.hooks.add('kernel-decision', () => undefined);
    m.hooks.add('syscall', () => undefined);
  } else if (variant === 'facade-idle-instruction-hook') {
    m.hooks.add('instruction', () => undefined, { begin: 0x10, end: 0x10 }); // never matches: the checked loop's cost
  } else if (variant === 'facade-counting-instruction-hook') {
    m.hooks.add('instruction', () => void counter++);
  } else if (variant === 'facade-read-hook') {
    m.hooks.add('read', () => void counter++);
  } else if (variant !== 'facade') throw new Error(`unknown variant ${variant}`);
  const n = prepare(program, (i, v) => m.core.cpu.setReg(i, v), (v) => (m.regs.rip = v));
  return {
    n,
    pass: () => {
      prepare(program, (i, v) => m.core.cpu.setReg(i, v), (v) => (m.regs.rip = v));
      const r = m.run({ maxInstructions: n + 10 });
      if (r.outcome.kind !== 'halt') throw new Error(`${variant}: ${r.outcome.kind}`);
    },
  };
}

/**
 * Paired measurement in one process: passes of `a` and `b` alternate, so both see the same load;
 * returns each one's median and the median of the per-pair time ratios b/a.
 */
function runPair(a: string, b: string, program: Program): { aNs: number; bNs: number; ratio: number; n: number } {
  const va = setupVariant(a, program);
  const vb = setupVariant(b, program);
  for (let i = 0; i < 3; i++) {
    va.pass();
    vb.pass();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < 15; i++) {
    let s = process.hrtime.bigint();
    va.pass();
    const da = Number(process.hrtime.bigint() - s);
    s = process.hrtime.bigint();
    vb.pass();
    const db = Number(process.hrtime.bigint() - s);
    ta.push(da);
    tb.push(db);
    ratios.push(db / da);
  }
  const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  return { aNs: med(ta), bNs: med(tb), ratio: med(ratios), n: va.n };
}

// ---- snapshot costs ----------------------------------------------------------------------------------

/** PARSER of test/api/snapshot.test.ts: sums `len` input bytes; two planted bugs. */
const PARSER = '0f b6 0f 31 c0 48 8d 77 01 85 c9 74 0c 0f b6 16 01 d0 48 ff c6 ff c9 eb f0 3d ff 01 00 00 75 02 0f 0b 89 47 f8 f4';
const HELLO = 'b8 01 00 00 00 bf 01 00 00 00 48 8d 35 10 00 00 00 ba 03 00 00 00 0f 05 b8 3c 00 00 00 31 ff 0f 05 68 69 0a';

function snapshotCosts(kind: string): Record<string, number> {
  let m: Machine;
  if (kind === 'process-16M') {
    m = new Machine({ memory: '16M' });
    m.createProcess({ regions: [{ name: 'code', at: CODE, size: '4K', prot: 'r-x', bytes: HELLO }], entry: 'code' });
  } else {
    m = new Machine({ memory: kind === 'bare-64M' ? '64M' : '16M' });
    m.writePhysical(0x200000, PARSER);
    m.map({ va: CODE, pa: 0x200000, flags: ['P'] });
    m.map({ va: DATA, pa: 0x300000, flags: ['P', 'RW', 'NX'] });
    m.regs.rip = BigInt(CODE);
    m.regs.rdi = BigInt(DATA + 0xf80);
  }
  const snap = m.snapshot();
  const reps = 2000;
  const per = (fn: () => void): number => {
    for (let i = 0; i < 200; i++) fn();
    const s = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) fn();
    return Number(process.hrtime.bigint() - s) / reps;
  };
  const input = new Uint8Array([16, ...Array.from({ length: 16 }, (_, i) => i * 7)]);
  const iteration = kind === 'process-16M'
    ? () => {
      m.restore(snap);
      m.run();
    }
    : () => {
      m.restore(snap);
      m.writePhysical(0x300f80, input);
      m.run({ maxInstructions: 10_000 });
    };
  return {
    snapshotNs: per(() => void m.snapshot()),
    restoreNs: per(() => m.restore(snap)),
    iterationNs: per(iteration),
    objects: snap.objectCount,
    instructionsPerIteration: (() => {
      m.restore(snap);
      if (kind !== 'process-16M') m.writePhysical(0x300f80, input);
      return m.run({ maxInstructions: 10_000 }).stats.instructions;
    })(),
  };
}

// ---- driver ---------------------------------------------------------------------------------------------

const args = process.argv.slice(2);
/**
 * Does a read/write hook, once added and removed, slow the CPU's memory path for the rest of the
 * process (V8 inline caches that saw the MMU observer's `access` event)? The core machine's load/add/store loop, before and
 * after another machine in the process ran with `kinds` hooked; returns after/before.
 */
function pollution(kinds: string[]): { ratio: number } {
  const core = setupVariant('core', 'mem');
  const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const timed = (): number => {
    const s = process.hrtime.bigint();
    core.pass();
    return Number(process.hrtime.bigint() - s);
  };
  for (let i = 0; i < 5; i++) timed();
  const before = med(Array.from({ length: 15 }, timed));
  const other = new Machine({ memory: '4M', snp: false });
  other.writePhysical(0x200000, 'b8 05 00 00 00 48 83 07 01 ff c8 75 f8 f4'); // the LOOP of test/api/fixtures.ts
  other.map({ va: CODE, pa: 0x200000, flags: ['P'] });
  other.map({ va: DATA, pa: 0x300000, flags: ['P', 'RW', 'NX'] });
  for (const k of kinds) {
    other.regs.rip = BigInt(CODE);
    other.regs.rdi = BigInt(DATA);
    const h = other.hooks.add(k as 'read', () => undefined);
    other.run();
    h.remove();
  }
  for (let i = 0; i < 5; i++) timed();
  return { ratio: med(Array.from({ length: 15 }, timed)) / before };
}

if (args[0] === '--child') {
  const [, what, a, b, c] = args;
  const out = what === 'pair' ? runPair(a!, b!, c as Program)
    : what === 'pollution' ? pollution(a === 'none' ? [] : a!.split(','))
    : snapshotCosts(a!);
  console.log(JSON.stringify(out));
} else if (args[0] === '--pollution') {
  const self = fileURLToPath(import.meta.url);
  const ratios: Record<string, number[]> = { none: [], 'read,write': [] };
  for (let r = 0; r < 6; r++) {
    for (const k of Object.keys(ratios)) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', 'pollution', k], { encoding: 'utf8' });
      ratios[k]!.push(JSON.parse(out.trim().split('\n').pop()!).ratio);
    }
  }
  for (const [k, xs] of Object.entries(ratios)) {
    const sorted = [...xs].sort((x, y) => x - y);
    console.log(`hooked before: ${k.padEnd(10)} after/before median ${sorted[3]!.toFixed(3)} (${sorted.map((x) => x.toFixed(3)).join(', ')})`);
  }
} else {
  const roundsArg = args.indexOf('--rounds');
  const rounds = roundsArg >= 0 ? Number(args[roundsArg + 1]) : 5;
  const self = fileURLToPath(import.meta.url);
  const child = (...a: string[]): Record<string, number> =>
    JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', self, '--child', ...a], { encoding: 'utf8' }).trim().split('\n').pop()!);
  const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  // Each variant against the core machine, in the same process (paired), in a fresh process each round.
  const only = args.indexOf('--only');
  const variants = only >= 0 ? args[only + 1]!.split(',') : [
    'facade', 'facade-hooks-removed', 'facade-kernel-hooks', 'facade-idle-instruction-hook',
    'facade-counting-instruction-hook', 'facade-read-hook',
  ];
  for (const program of ['alu', 'mem'] as const) {
    console.log(`\n${program} loop: time per pass relative to the core Cpu.run in the same process (median of per-pair ratios; ${rounds} processes):`);
    const coreRates: number[] = [];
    for (const v of variants) {
      const ratios: number[] = [];
      const rates: number[] = [];
      let n = 0;
      for (let r = 0; r < rounds; r++) {
        const res = child('pair', 'core', v, program);
        ratios.push(res.ratio!);
        rates.push(res.n! / (res.bNs! / 1e9) / 1e6);
        coreRates.push(res.n! / (res.aNs! / 1e9) / 1e6);
        n = res.n!;
      }
      const pct = (med(ratios) - 1) * 100;
      const coreHere = coreRates.slice(-rounds);
      console.log(`  ${v.padEnd(34)} ${pct >= 0 ? '+' : ''}${pct.toFixed(1).padStart(6)} %  (per-process ${ratios.map((x) => ((x - 1) * 100).toFixed(1)).join(', ')})  ${med(rates).toFixed(1)} M insn/s, core in the same processes ${med(coreHere).toFixed(1)}; ${n} insns/pass`);
    }
    console.log(`  (core Cpu.run alongside: median ${med(coreRates).toFixed(1)} M insn/s)`);
  }
  console.log('\nsnapshots (ns per operation, mean over 2000):');
  for (const kind of only >= 0 ? [] : ['bare-16M', 'bare-64M', 'process-16M']) {
    const c = child('snapshot', kind);
    console.log(`  ${kind.padEnd(12)} snapshot ${c.snapshotNs!.toFixed(0).padStart(7)}  restore ${c.restoreNs!.toFixed(0).padStart(7)}  restore+run ${c.iterationNs!.toFixed(0).padStart(7)} (${c.instructionsPerIteration} insns; ${(1e9 / c.iterationNs!).toFixed(0)} iterations/s)  objects saved ${c.objects}`);
  }
}
