// CPU benchmarks (mitata), reporting instructions per second, through the real Machine
// (PhysicalMemory + RmpTable + Mmu with its TLB + Cpu), CPL 0, 4-level paging with 2 MiB pages:
//   alu       loop: add rax, rcx; xor rdx, rax; shl rdx, 1; dec rcx; jnz loop        (5 insns/iteration)
//   memory    load/add/store over 64 KiB: mov rax,[rsi]; add rax,rbx; mov [rsi],rax;
//             add rsi, 8; dec rcx; jnz loop                                            (6 insns/iteration)
//   call/ret  loop: call f; dec rcx; jnz loop ... f: ret                               (4 insns/iteration)
//   string    rep stosq 4 KiB + rep movsb 4 KiB (9 insns and 8 KiB written per iteration; a REP
//             instruction counts once, so bytes/s is the meaningful figure: insn/s * 8192 / 9)
// Run: `npx tsx bench/cpu.bench.ts` (add `--json` for one JSON summary line; `--qemu` also times the
// same ALU loop as a static ELF under qemu-x86_64, in the same run, and prints the ratio). Figures
// are recorded in bench/RESULTS.md, section "CPU".

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, do_not_optimize, run } from 'mitata';
import { Machine } from '../src/machine.ts';

const CODE = 0x400000;
const DATA = 0x600000;
const PML4 = 0x1000;
const PDPT = 0x2000;
const PD = 0x3000;

/** A machine with the first 1 GiB identity-mapped by 2 MiB pages. */
function machine(snp: boolean): Machine {
  const m = new Machine({ memoryBytes: 64 << 20, snp });
  const { phys, cpu } = m;
  phys.writeU64(PML4, BigInt(PDPT) | 7n);
  phys.writeU64(PDPT, BigInt(PD) | 7n);
  for (let i = 0; i < 32; i++) phys.writeU64(PD + i * 8, BigInt(i * 0x200000) | 0x87n);
  cpu.cr3 = BigInt(PML4);
  cpu.setReg(4, BigInt(0x800000)); // RSP
  return m;
}

function load(m: Machine, hex: string): void {
  const bytes = hex.replace(/\s+/g, '');
  for (let i = 0; i < bytes.length / 2; i++) m.phys.write8(CODE + i, parseInt(bytes.slice(i * 2, i * 2 + 2), 16));
}

interface Loop {
  name: string;
  machine: Machine;
  /** Prepare registers for one run; returns the instruction count it will retire. */
  prepare: () => number;
}

const ITER = 200_000;

function aluLoop(snp: boolean): Loop {
  const m = machine(snp);
  // add rax, rcx; xor rdx, rax; shl rdx, 1; dec rcx; jnz -15; hlt
  load(m, '4801c8 4831c2 48c1e201 48ffc9 75f1 f4');
  return {
    name: `alu loop (add/xor/shl/dec/jnz)${snp ? ', SNP on' : ''}`,
    machine: m,
    prepare: () => {
      m.cpu.setReg(1, BigInt(ITER));
      m.cpu.rip = BigInt(CODE);
      return ITER * 5 + 1;
    },
  };
}

function memoryLoop(): Loop {
  const m = machine(false);
  // loop: mov rax,[rsi]; add rax,rbx; mov [rsi],rax; add rsi,8; dec rcx; jnz loop;
  //       sub rsi, 0x10000; mov rcx, 8192; dec rdx; jnz loop; hlt
  load(m, '488b06 4801d8 488906 4883c608 48ffc9 75ee 4881ee00000100 48c7c100200000 48ffca 75db f4');
  const passes = 8;
  return {
    name: 'load/add/store over 64 KiB',
    machine: m,
    prepare: () => {
      m.cpu.setReg(6, BigInt(DATA));
      m.cpu.setReg(1, 8192n);
      m.cpu.setReg(2, BigInt(passes));
      m.cpu.setReg(3, 3n);
      m.cpu.rip = BigInt(CODE);
      return passes * (8192 * 6 + 4) + 1;
    },
  };
}

function callLoop(): Loop {
  const m = machine(false);
  // loop: call f (e8 rel32 -> +7); dec rcx; jnz loop; hlt; f: ret
  load(m, 'e806000000 48ffc9 75f6 f4 c3');
  return {
    name: 'call/ret loop',
    machine: m,
    prepare: () => {
      m.cpu.setReg(1, BigInt(ITER));
      m.cpu.rip = BigInt(CODE);
      return ITER * 4 + 1;
    },
  };
}

function stringLoop(): Loop {
  const m = machine(false);
  // loop: mov rdi, DATA; mov ecx, 512; rep stosq; mov rsi, DATA; mov rdi, DATA+4096; mov ecx, 4096;
  //       rep movsb; dec rdx; jnz loop; hlt   (9 instructions, 8 KiB written per iteration)
  load(m, '48c7c700006000b900020000f348ab48c7c60000600048c7c700106000b900100000f3a448ffca75d7f4');
  const iterations = 2000;
  return {
    name: 'string: rep stosq 4 KiB + rep movsb 4 KiB',
    machine: m,
    prepare: () => {
      m.cpu.setReg(2, BigInt(iterations));
      m.cpu.rip = BigInt(CODE);
      return iterations * 9 + 1;
    },
  };
}

const loops = [aluLoop(false), aluLoop(true), memoryLoop(), callLoop(), stringLoop()];
const counts = new Map<string, number>();
for (const l of loops) {
  const n = l.prepare();
  const stop = l.machine.cpu.run(n + 10);
  if (stop.kind !== 'halt') throw new Error(`${l.name}: expected halt, got ${stop.kind}`);
  counts.set(l.name, n);
  bench(l.name, () => {
    l.prepare();
    do_not_optimize(l.machine.cpu.run(n + 10));
  });
}

const json = process.argv.includes('--json');
const result = await run({ format: json ? 'quiet' : 'mitata' });
const summary: Record<string, { medianNs: number; instructionsPerSecond: number }> = {};
for (const trial of result.benchmarks) {
  for (const r of trial.runs) {
    if (r.stats === undefined) continue;
    const n = counts.get(r.name)!;
    const median = r.stats.p50;
    summary[r.name] = { medianNs: median, instructionsPerSecond: n / (median / 1e9) };
  }
}
// The machine is shared (2 cores, other jobs): also measure with this process's CPU time, which
// other processes inflate far less than wall time. Median of 7 runs per loop.
const cpuTime: Record<string, number> = {};
for (const l of loops) {
  const rates: number[] = [];
  for (let i = 0; i < 7; i++) {
    const n = l.prepare();
    const t = process.cpuUsage();
    l.machine.cpu.run(n + 10);
    const u = process.cpuUsage(t);
    rates.push(n / ((u.user + u.system) / 1e6));
  }
  cpuTime[l.name] = rates.sort((a, b) => a - b)[3]!;
}
if (json) {
  console.log(JSON.stringify({ bench: 'cpu', date: new Date().toISOString(), node: process.version, results: summary, cpuTimeInstructionsPerSecond: cpuTime }));
} else {
  console.log(`${'loop'.padEnd(44)} ${'wall (mitata p50)'.padStart(20)} ${'process CPU time'.padStart(18)}`);
  for (const [name, s] of Object.entries(summary)) {
    const c = cpuTime[name]!;
    console.log(`${name.padEnd(44)} ${(s.instructionsPerSecond / 1e6).toFixed(1).padStart(11)} M insn/s ${(c / 1e6).toFixed(1).padStart(9)} M insn/s`);
  }
}

/**
 * The ALU loop as a static Linux ELF (GNU as + ld), timed under qemu-x86_64 as a whole process:
 * instructions/s = 5 * N / (time(N iterations) - time(0 iterations)), median of 3 turns each.
 */
function qemuAluRate(): number | null {
  const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  if (!has('qemu-x86_64') || !has('as') || !has('ld')) return null;
  const dir = mkdtempSync(join(tmpdir(), 'snpemu-qemu-'));
  try {
    const build = (n: number) => {
      const src = join(dir, `alu${n}.s`);
      writeFileSync(src, [
        '.intel_syntax noprefix', '.globl _start', '_start:', `  mov rcx, ${n}`, '  xor eax, eax', '  test rcx, rcx', '  jz 2f',
        '1: add rax, rcx', '  xor rdx, rax', '  shl rdx, 1', '  dec rcx', '  jnz 1b',
        '2: mov eax, 60', '  xor edi, edi', '  syscall', '',
      ].join('\n'));
      execFileSync('as', ['--64', '-o', join(dir, `alu${n}.o`), src]);
      execFileSync('ld', ['-static', '-o', join(dir, `alu${n}`), join(dir, `alu${n}.o`)]);
      return join(dir, `alu${n}`);
    };
    const N = 400_000_000;
    const full = build(N);
    const empty = build(0);
    // CPU time (user + system) of the qemu process, from bash's `time`, to match the CPU-time
    // column of the snpemu figures on a shared machine.
    const time = (exe: string) => {
      const r = spawnSync('bash', ['-c', `TIMEFORMAT='%3U %3S'; time qemu-x86_64 ${exe}`]);
      const [u, sys] = r.stderr.toString().trim().split(/\s+/).map(Number);
      return u! + sys!;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const tFull = median([time(full), time(full), time(full)]);
    const tEmpty = median([time(empty), time(empty), time(empty)]);
    return (5 * N) / Math.max(tFull - tEmpty, 1e-6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--qemu')) {
  const q = qemuAluRate();
  const ours = Object.entries(cpuTime).find(([k]) => k.startsWith('alu loop') && !k.includes('SNP'))?.[1];
  if (q === null) console.log('qemu-x86_64 (or as/ld) not installed: no qemu figure');
  else console.log(`qemu-x86_64 alu loop ${(q / 1e6).toFixed(0)} M instructions/s (process CPU time); qemu / snpemu = ${ours ? (q / ours).toFixed(1) : 'n/a'}`);
}
