// QA findings on the CLI (issue 6): `bench` from another directory, the signal line of `run`, the
// instruction budget, unsupported instructions in `run --json` and in scenarios, trace write
// errors, ENOSYS trace notes and hex addresses in `walk --json`. Spawned through bin/snpemu.js,
// as a user meets it. Code is given as raw bytes (--raw), so no assembler is needed.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_INSTRUCTIONS } from '../../src/cli/cmd-run.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(repo, 'bin', 'snpemu.js');
const tmp = mkdtempSync(join(tmpdir(), 'snpemu-qa-'));
const THP = join(repo, 'scenarios', '01-thp-shared-page-v7.json');

function snpemu(args: string[], cwd = repo): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A raw code file; `run --raw FILE --at 0x400000` runs it as a process. */
function raw(name: string, hex: string): string {
  const path = join(tmp, name);
  writeFileSync(path, Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
  return path;
}

function runRaw(name: string, hex: string, extra: string[] = []): ReturnType<typeof snpemu> {
  return snpemu(['run', ...extra, '--raw', raw(name, hex), '--at', '0x400000']);
}

function scenarioFile(name: string, hex: string, extra: Record<string, unknown> = {}): string {
  const path = join(tmp, name);
  writeFileSync(path, JSON.stringify({
    format: 1, name, kernel: 'v7',
    process: { regions: [{ name: 'code', at: '0x400000', size: '4K', prot: 'r-x', hex }], entry: 'code' },
    ...extra,
  }));
  return path;
}

describe('bench', () => {
  it('works from another directory: options are checked with snpemu: lines, tsx comes from the package', () => {
    // Before: "ERR_MODULE_NOT_FOUND: Cannot find package 'tsx' imported from /tmp/" and a stack.
    const r = snpemu(['bench', '--frob'], tmpdir());
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('snpemu: unknown option --frob (see snpemu help bench)\n');
    const s = snpemu(['bench', '--samples', 'many'], tmpdir());
    expect(s.status).toBe(2);
    expect(s.stderr).toMatch(/^snpemu: --samples needs a positive integer, got "many"/);
  });
});

describe('run: the line that says why a signal ended the program', () => {
  it('names #DE once, with no invented #PF (xor ecx,ecx; div ecx)', () => {
    // 31 c9 = xor ecx,ecx; f7 f1 = div ecx at 0x400002: #DE → SIGFPE (FPE_INTDIV), exit 128+8.
    const r = runRaw('de.bin', '31 c9 f7 f1');
    expect(r.status).toBe(136);
    expect(r.stderr).toBe('snpemu: the program was killed by SIGFPE (FPE_INTDIV): #DE at RIP 0x400002: divide by zero\n');
  });
  it('names #BP, #UD and #GP the same way', () => {
    // cc = int3 (#BP: RIP after it, 0x400001); 0f 0b = ud2; f4 = hlt at CPL3 (#GP(0)).
    const bp = runRaw('bp.bin', 'cc').stderr;
    const ud = runRaw('ud.bin', '0f 0b').stderr;
    const gp = runRaw('gp.bin', 'f4').stderr;
    expect(bp).toMatch(/^snpemu: the program was killed by SIGTRAP \(SI_KERNEL\): #BP at RIP 0x400001: INT3 breakpoint\n$/);
    expect(ud).toMatch(/^snpemu: the program was killed by SIGILL \(ILL_ILLOPN\): #UD at RIP 0x400000: UD2\n$/);
    expect(gp).toMatch(/^snpemu: the program was killed by SIGSEGV \(SI_KERNEL\): #GP at RIP 0x400000: HLT is privileged/);
    // The signal is named once, and no #PF appears for a fault that was not one.
    for (const line of [bp, ud, gp]) expect(line).not.toMatch(/#PF|SIG\w+ \(\w+\).*SIG/);
  });
  it('gives #PF its error code and CR2', () => {
    // 8b 04 25 00 00 00 00 = mov eax,[0]: not-present user read, error 0x4 (U), CR2 0.
    const r = runRaw('pf.bin', '8b 04 25 00 00 00 00');
    expect(r.status).toBe(139);
    expect(r.stderr).toBe('snpemu: the program was killed by SIGSEGV (SEGV_MAPERR): #PF error 0x4 (not-present|U) CR2 0x0 at RIP 0x400000: bad_area: no VMA covers 0x0\n');
  });
});

describe('run: the instruction budget', () => {
  it('defaults to 10^9 (about ten seconds) and says so in the help', () => {
    expect(DEFAULT_MAX_INSTRUCTIONS).toBe(1_000_000_000);
    expect(snpemu(['help', 'run']).stdout).toMatch(/--max-instructions N stop after N instructions \(default 1000000000/);
  });
  it('ends a loop that never ends with one line naming the flag', () => {
    // eb fe = jmp $.
    const r = runRaw('loop.bin', 'eb fe', ['--max-instructions', '5000']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('snpemu: stopped after 5000 instructions without the program exiting (a loop that never ends?); raise the limit with --max-instructions N\n');
  });
});

describe('unsupported instructions are bad input everywhere', () => {
  it('run --json prints one JSON error object and exits 2', () => {
    // c5 f8 77 = vzeroupper (VEX), valid x86-64 outside the subset.
    const r = runRaw('vz.bin', 'c5 f8 77', ['--json']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      error: {
        kind: 'unsupported-instruction', rip: '0x400000', instruction: 'vzeroupper',
        message: 'unsupported instruction "vzeroupper" at 0x400000: valid x86-64, but outside the subset snpemu emulates (docs/cli.md)',
      },
    });
  });
  it('run without --json: one line naming the file, the instruction and the address', () => {
    const r = runRaw('vz2.bin', 'c5 f8 77');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^snpemu: .*vz2\.bin: unsupported instruction "vzeroupper" at 0x400000: valid x86-64, but outside the subset snpemu emulates \(docs\/cli\.md\)\n$/);
  });
  it('a scenario with the same bytes is an input error (exit 2), not a SIGILL that passes', () => {
    const file = scenarioFile('vz.json', 'c5 f8 77', { expect: { outcome: 'signal', signal: 'SIGILL' } });
    const r = snpemu(['scenario', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/vz\.json: unsupported instruction "vzeroupper" at 0x400000/);
    expect(r.stdout).not.toMatch(/PASS/);
  });
  it('a genuine invalid opcode stays SIGILL (ud2 in a scenario passes its expectation)', () => {
    const file = scenarioFile('ud2.json', '0f 0b', { expect: { outcome: 'signal', signal: 'SIGILL', siCode: 'ILL_ILLOPN' } });
    expect(snpemu(['scenario', file]).status).toBe(0);
  });
});

describe('trace write errors', () => {
  it('a closed pipe ends the trace quietly; the command keeps its own status', () => {
    // The THP story passes (status 0); before, EPIPE on the trace surfaced as an internal error (3).
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${bin}" scenario --trace all "${THP}" 2>&1 | head -3 >/dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout.trim()).toBe('0');
  });
  it.skipIf(process.platform !== 'linux')('a --trace-file that cannot be written is one line, exit 2', () => {
    // /dev/full accepts open() and fails every write with ENOSPC (Linux null(4)/full(4)).
    const r = snpemu(['scenario', '--trace', 'mmu', '--trace-file', '/dev/full', THP]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('snpemu: cannot write trace file /dev/full: ENOSPC (no space left on device)\n');
  });
});

describe('ENOSYS leaves a kernel trace line', () => {
  // b8 e7 03 00 00 = mov eax,999; 0f 05 = syscall (at 0x400005); b8 3c 00 00 00 = mov eax,60;
  // 31 ff = xor edi,edi; 0f 05 = syscall (exit 0).
  const CODE = 'b8 e7 03 00 00 0f 05 b8 3c 00 00 00 31 ff 0f 05';
  const LINE = 'kernel enosys at 0x400005: syscall 999 is not implemented by the emulated kernel: returned -ENOSYS';
  it('in a scenario under --trace kernel, and not in the result\'s kernel list', () => {
    const file = scenarioFile('enosys.json', CODE, { expect: { outcome: 'exit', exitCode: 0, kernel: [] } });
    const r = snpemu(['scenario', '--trace', 'kernel', file]);
    expect(r.status).toBe(0);
    expect(r.stderr.split('\n')).toContain(LINE);
  });
  it('in run under --trace kernel', () => {
    const r = runRaw('enosys.bin', CODE, ['--trace', 'kernel']);
    expect(r.status).toBe(0);
    expect(r.stderr.split('\n')).toContain(LINE);
  });
});

describe('walk --json', () => {
  it('gives addresses as hex strings, like entry values', () => {
    const r = snpemu(['walk', '--json', THP, 'buf+0x80010']);
    expect(r.status).toBe(0);
    const t = JSON.parse(r.stdout);
    // The kernel's PML4 is the first page-table frame, 0x100000 (the text walk prints cr3=0x100000).
    expect(t.cr3).toBe('0x100000');
    for (const l of t.levels) {
      expect(l.entryAddress).toMatch(/^0x[0-9a-f]+$/);
      expect(l.value).toMatch(/^0x[0-9a-f]+$/);
      expect(typeof l.index).toBe('number');
    }
    expect(t.physicalAddress).toMatch(/^0x[0-9a-f]+$/);
    expect(t.pageSize).toBe(2 << 20);
    for (const c of t.rmpChecks) expect(c.spa).toMatch(/^0x[0-9a-f]+$/);
  });
});
