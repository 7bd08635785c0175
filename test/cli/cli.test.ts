// The snpemu CLI as a user meets it: spawned through bin/snpemu.js. Help for every command, one-line
// errors with exit status 2 for every kind of bad input (never a stack trace), each trace kind on a
// scenario, JSON Lines, the walk and programs (the demo: demo.test.ts).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { haveGnuAssembler, haveNasm } from '../../src/scenario/assemble.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(repo, 'bin', 'snpemu.js');
const tmp = mkdtempSync(join(tmpdir(), 'snpemu-cli-'));
const THP = join(repo, 'scenarios', '01-thp-shared-page-v7.json');

function snpemu(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repo, input, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A bad-input run: status 2, exactly one line on stderr, no stack frames. */
function expectInputError(args: string[], message: RegExp, input?: string): void {
  const r = snpemu(args, input);
  expect(r.status).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines.length).toBe(1);
  expect(lines[0]).toMatch(/^snpemu: /);
  expect(lines[0]).toMatch(message);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

describe('help', () => {
  it('prints the overview with --help and with no arguments', () => {
    for (const args of [['--help'], [], ['help']]) {
      const r = snpemu(args);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^snpemu: an x86-64 emulator/);
      for (const cmd of ['run', 'scenario', 'walk', 'snippet', 'bench', 'demo']) expect(r.stdout).toContain(`  ${cmd} `);
    }
  });
  it('has help for every command, as `help CMD` and `CMD --help`', () => {
    for (const cmd of ['run', 'scenario', 'walk', 'snippet', 'bench', 'demo']) {
      const a = snpemu(['help', cmd]);
      const b = snpemu([cmd, '--help']);
      expect(a.status).toBe(0);
      expect(a.stdout).toMatch(new RegExp(`^Usage: snpemu ${cmd}`));
      expect(b.stdout).toBe(a.stdout);
    }
  });
});

describe('bad input: one line, exit status 2', () => {
  it('unknown command and unknown option', () => {
    expectInputError(['frobnicate'], /unknown command "frobnicate"/);
    expectInputError(['scenario', '--bogus', THP], /unknown option --bogus/);
    expectInputError(['scenario', '--trace', 'tlb', THP], /unknown trace kind "tlb"/);
  });
  it('missing file', () => {
    expectInputError(['scenario', join(tmp, 'nope.json')], /nope\.json: no such file/);
    expectInputError(['run', join(tmp, 'nope')], /nope: no such file/);
  });
  it('malformed JSON and malformed scenario', () => {
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '{ "format": 1, "name": "x", }');
    expectInputError(['scenario', bad], /bad\.json: malformed JSON at line 1, column \d+/);
    const wrong = join(tmp, 'wrong.json');
    const s = JSON.parse(readFileSync(THP, 'utf8'));
    s.process.regions[1].size = '3M';
    writeFileSync(wrong, JSON.stringify(s));
    expectInputError(['scenario', wrong], /wrong\.json: process\.regions\[1\]\.size: with page "2M" the size must be a multiple of 2M/);
    // With several files, each bad one is named and nothing runs, not even the good ones.
    const r = snpemu(['scenario', THP, wrong]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no scenario was run/);
  });
  it('malformed ELF', () => {
    const notElf = join(tmp, 'not-elf');
    writeFileSync(notElf, 'hello, I am text\n');
    expectInputError(['run', notElf], /not-elf: not a runnable static ELF64 program/);
  });
  it('unsupported instruction', () => {
    // c5 f8 77 = VZEROUPPER (AVX): valid x86-64, outside snpemu's integer subset.
    const code = join(tmp, 'avx.bin');
    writeFileSync(code, Buffer.from([0xc5, 0xf8, 0x77]));
    expectInputError(['run', '--raw', code, '--at', '0x400000'], /unsupported instruction.*vzeroupper/);
  });
});

describe('scenario', () => {
  it('prints a readable report with why sentences, exit 0', () => {
    const r = snpemu(['scenario', THP]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^PASS {2}v7: write to a shared page/);
    expect(r.stdout).toMatch(/fault 1: #PF error 0x80000007 \(P\|W\|U\|RMP\)/);
    expect(r.stdout).toMatch(/kernel 1: split/);
    expect(r.stdout).toMatch(/1 of 1 scenario\(s\) passed/);
  });
  it('prints JSON Lines with --json', () => {
    const r = snpemu(['scenario', '--json', THP, join(repo, 'scenarios', '02-thp-guest-page-v7.json')]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(2);
    expect(lines[0].expect).toEqual({ passed: true, mismatches: [] });
    expect(lines[1].outcome.signal).toBe('SIGBUS');
    expect(lines[0].faults[0].address).toBe('0x40080010');
  });
  it('runs guest scenarios (a `guest` section) through the guest runner', () => {
    const f = join(repo, 'scenarios', 'guest', 'case44-non-snp-write.json');
    const r = snpemu(['scenario', f]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^PASS {2}/);
    expect(r.stdout).toMatch(/^ {2}guest: /m);
    const j = snpemu(['scenario', '--json', f]);
    expect(JSON.parse(j.stdout).expect.passed).toBe(true);
  });
  it('exits 1 when an expectation does not hold', () => {
    const s = JSON.parse(readFileSync(THP, 'utf8'));
    s.expect.kernel = ['retry'];
    const f = join(tmp, 'fails.json');
    writeFileSync(f, JSON.stringify(s));
    const r = snpemu(['scenario', f]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/MISMATCH kernel: expected \[retry\], got \[split\]/);
  });
});

describe('traces', () => {
  const cases: [string, RegExp][] = [
    ['insn', /^insn +0000000000400000: c7 07 a5 a5 a5 a5 +mov dword ptr \[rdi\],0A5A5A5A5h/m],
    ['mmu', /^mmu +walk write 0x40080010 user/m],
    ['rmp', /^rmp +RMP write spa 0x[0-9a-f]+ as 2M, final: FAIL/m],
    ['fault', /^fault +v=0e e=80000007 cpl=3 IP=0000000000400000 CR2=0000000040080010 RMP: /m],
    ['kernel', /^kernel +split at 0x40080010: /m],
  ];
  for (const [kind, line] of cases) {
    it(`--trace ${kind}`, () => {
      const r = snpemu(['scenario', '--trace', kind, THP]);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(line);
    });
  }
  it('--trace mmu shows A/D writes and TLB misses', () => {
    const r = snpemu(['scenario', '--trace', 'mmu', join(repo, 'test', 'scenario', 'cases', 'none-1g-map-other-2m-subregion.json')]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^mmu +tlb miss write 0x40400010$/m);
    // The 1G PDPTE (0x83 = P|RW|PS, in the second table page the builder allocates, 0x40001000,
    // index 1) gets A on the fetch (0xa3) and D on the write (0xe3): Intel SDM Vol.3A §4.8.
    expect(r.stderr).toMatch(/^mmu +A\/D write level 3 entry @ 0x40001008: 0x83 -> 0xa3$/m);
    expect(r.stderr).toMatch(/^mmu +A\/D write level 3 entry @ 0x40001008: 0xa3 -> 0xe3$/m);
  });
  it('--trace-file and --json write JSON Lines traces to a file', () => {
    const f = join(tmp, 'trace.jsonl');
    const r = snpemu(['scenario', '--json', '--trace', 'fault,kernel', '--trace-file', f, THP]);
    expect(r.status).toBe(0);
    const records = readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((x) => x.trace)).toEqual(['fault', 'kernel']);
    expect(records[0]).toMatchObject({ vector: 14, errorCode: 0x80000007, address: '0x40080010', rmp: true });
    expect(records[1]).toMatchObject({ action: 'split', address: '0x40080010' });
  });
});

describe('more commands and options', () => {
  it('snippet --batch runs cases from standard input', () => {
    // 48 01 d8 = add rax, rbx: 1 + 2 = 3; flags PF (3 has two bits set) only.
    const r = snpemu(['snippet', '--batch'], '{"id":"c1","code":"4801d8","regs":{"rax":"0x1","rbx":"0x2"}}\n{"id":"bad","code":"zz"}\n');
    expect(r.status).toBe(0);
    const [a, b] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(a.regs.rax).toBe('0x0000000000000003');
    expect(a.rflags).toBe('0x0000000000000006');
    expect(b.id).toBe('bad');
    expect(typeof b.error).toBe('string');
    expectInputError(['snippet'], /snippet needs --batch/);
  });
  it('--trace insn and fault work on a kernel-none scenario too', () => {
    const r = snpemu(['scenario', '--trace', 'insn,fault', join(repo, 'test', 'scenario', 'cases', 'none-1g-map-same-2m-subregion.json')]);
    expect(r.status).toBe(0);
    // c7 03 78 56 34 12 = mov dword ptr [rbx],12345678h; its write faults: #PF RMP|W|P at CPL 0.
    expect(r.stderr).toMatch(/^insn +0000000040010000: c7 03 78 56 34 12 +mov dword ptr \[rbx\],12345678h .*faulted/m);
    expect(r.stderr).toMatch(/^fault +v=0e e=80000003 cpl=0 IP=0000000040010000 CR2=0000000040200010 RMP: /m);
  });
  it('an input error found while running exits 2', () => {
    const s = JSON.parse(readFileSync(THP, 'utf8'));
    s.rmp[0].page = 'buf+0x200000';
    const f = join(tmp, 'unmapped.json');
    writeFileSync(f, JSON.stringify(s));
    const r = snpemu(['scenario', f]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unmapped\.json: rmp\[0\]\.page: buf\+0x200000 is not mapped/);
  });
  it('--debug adds the stack trace', () => {
    const r = snpemu(['scenario', '--debug', join(tmp, 'nope.json')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^\s+at /m);
  });
  it('an unwritable --trace-file is a clear error', () => {
    expectInputError(['scenario', '--trace', 'fault', '--trace-file', join(tmp, 'no', 'such', 'dir.txt'), THP], /cannot write trace file .*ENOENT/);
  });
  it('run --json prints the run result', () => {
    const code = join(tmp, 'exit7.bin');
    writeFileSync(code, Buffer.from([0xbf, 7, 0, 0, 0, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05])); // mov edi,7; mov eax,60; syscall
    const r = snpemu(['run', '--json', '--raw', code, '--at', '0x401000']);
    expect(r.status).toBe(7);
    const j = JSON.parse(r.stdout);
    expect(j.outcome).toMatchObject({ kind: 'exit', exitCode: 7 });
    expect(j.stats.instructions).toBe(3);
  });
});

describe('walk', () => {
  it('--json prints the walk trace as one object', () => {
    const r = snpemu(['walk', '--json', '--access', 'read', THP, 'buf+0x80010']);
    expect(r.status).toBe(0);
    const t = JSON.parse(r.stdout);
    expect(t.accessName).toBe('read');
    expect(t.pageSize).toBe(2 << 20);
    expect(t.fault).toBeNull(); // host reads are not RMP-checked (spec/rmp.md §3.2)
    expect(t.levels.map((l: { name: string }) => l.name)).toEqual(['PML4E', 'PDPTE', 'PDE']);
  });
  it('rejects a symbol that names no region', () => {
    expectInputError(['walk', THP, 'heap+0x10'], /"heap" names no region/);
  });
  it('shows the levels, the 2M leaf and the failing RMP check', () => {
    const r = snpemu(['walk', THP, 'buf+0x80010']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/write of 0x40080010, user mode/);
    expect(r.stdout).toMatch(/PDE +\[ +0\] .*PS.* \(leaf\)/);
    expect(r.stdout).toMatch(/2M page/);
    expect(r.stdout).toMatch(/RMP write spa .* as 2M, final: FAIL/);
    expect(r.stdout).toMatch(/result: #PF error code 0x80000007/);
  });
  it('after the run the THP is split and the write passes', () => {
    const r = snpemu(['walk', '--after-run', THP, 'buf+0x80010']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/PTE +\[ *128\]/); // (0x80010 >> 12) & 511 = 0x80 = 128
    expect(r.stdout).toMatch(/result: the access would succeed/);
  });
});

describe('run', () => {
  it.runIf(haveGnuAssembler())('runs an assembled program: its output and exit status', () => {
    const src = join(tmp, 'hello.s');
    writeFileSync(src, [
      '.globl _start', '_start:',
      '  mov $1, %eax', '  mov $1, %edi', '  lea msg(%rip), %rsi', '  mov $6, %edx', '  syscall',
      '  mov $60, %eax', '  mov $42, %edi', '  syscall',
      'msg: .ascii "hello\\n"', '',
    ].join('\n'));
    const r = snpemu(['run', src]);
    expect(r.stdout).toBe('hello\n');
    expect(r.status).toBe(42);
  });
  it.runIf(haveGnuAssembler())('passes standard input to the program (read from fd 0)', () => {
    const src = join(tmp, 'cat.s');
    writeFileSync(src, [
      '.globl _start', '_start:',
      '  sub $64, %rsp',
      '  xor %eax, %eax', '  xor %edi, %edi', '  mov %rsp, %rsi', '  mov $64, %edx', '  syscall', // n = read(0, buf, 64)
      '  mov %rax, %rdx', '  mov $1, %eax', '  mov $1, %edi', '  mov %rsp, %rsi', '  syscall', // write(1, buf, n)
      '  mov $60, %eax', '  xor %edi, %edi', '  syscall', '',
    ].join('\n'));
    const r = snpemu(['run', src], 'echo me\n');
    expect(r.stdout).toBe('echo me\n');
    expect(r.status).toBe(0);
  });
  it.runIf(haveNasm())('assembles .asm files with nasm', () => {
    const src = join(tmp, 'three.asm');
    writeFileSync(src, 'global _start\nsection .text\n_start:\n  mov eax, 60\n  mov edi, 3\n  syscall\n');
    expect(snpemu(['run', src]).status).toBe(3);
  });
  it('exits with 128+signo when a signal kills the program', () => {
    // mov dword [0], 1: a write to an unmapped page, SIGSEGV (11) → 139.
    const code = join(tmp, 'segv.bin');
    writeFileSync(code, Buffer.from([0xc7, 0x04, 0x25, 0, 0, 0, 0, 1, 0, 0, 0]));
    const r = snpemu(['run', '--raw', code, '--at', '0x400000']);
    expect(r.status).toBe(139);
    expect(r.stderr).toMatch(/killed by SIGSEGV \(SEGV_MAPERR\)/);
  });
});

// The demo has its own file: test/cli/demo.test.ts.
