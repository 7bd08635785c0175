// `--trace insn` must not change the run it traces (src/cli/trace-insn.ts). An earlier tracer ran
// the CPU one instruction per run(1) call; each call translated RIP for fetch again, where the CPU
// translates once per block, so the result's stats.tlbHits rose (0 → 3 on
// scenarios/01-thp-shared-page-v7.json, 0 → 6 on guest code-case38). The JSON result must be
// byte-identical with and without the tracer; the trace lines themselves are checked here for the
// cases the new hook-based tracer has to reconstruct (a fault on the next fetch, a trap).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(repo, 'bin', 'snpemu.js');
const tmp = mkdtempSync(join(tmpdir(), 'snpemu-trace-insn-'));

function snpemu(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repo, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A kernel-none scenario: `hex` at PA 0x10000, mapped at VA 0x400000 (4K, P|RW), CPL 0. */
function bare(name: string, hex: string): string {
  const file = join(tmp, `${name}.json`);
  writeFileSync(file, JSON.stringify({
    format: 1, name, kernel: 'none', cpu: { cpl: 0, rip: '0x400000' },
    paging: { maps: [{ va: '0x400000', pa: '0x10000', size: '4K', flags: ['P', 'RW'] }] },
    physical: [{ pa: '0x10000', hex }],
  }));
  return file;
}

describe('--trace insn leaves the JSON result unchanged', () => {
  it('on the two files of the report and on every shipped scenario', () => {
    const guest = readdirSync(join(repo, 'scenarios', 'guest')).filter((f) => f.endsWith('.json')).map((f) => join('scenarios', 'guest', f));
    const host = readdirSync(join(repo, 'scenarios')).filter((f) => f.endsWith('.json')).map((f) => join('scenarios', f));
    const files = [...host, ...guest];
    expect(files).toContain(join('scenarios', '01-thp-shared-page-v7.json'));
    expect(files).toContain(join('scenarios', 'guest', 'code-case38-pvalidate-in-guest-code.json'));
    const plain = snpemu(['scenario', '--json', ...files]);
    const traced = snpemu(['scenario', '--json', '--trace', 'insn', '--trace-file', join(tmp, 'all.trace'), ...files]);
    expect(plain.status).toBe(0);
    expect(traced.status).toBe(0);
    const a = plain.stdout.trim().split('\n');
    const b = traced.stdout.trim().split('\n');
    expect(b.length).toBe(files.length);
    files.forEach((f, i) => expect(b[i], f).toBe(a[i]));
    // The two files of the report, by value (walks/misses from their untraced runs: no fetch hits).
    const thp = JSON.parse(b[files.indexOf(join('scenarios', '01-thp-shared-page-v7.json'))]!);
    expect(thp.stats).toMatchObject({ instructions: 4, tlbHits: 0 });
    const c38 = JSON.parse(b[files.indexOf(join('scenarios', 'guest', 'code-case38-pvalidate-in-guest-code.json'))]!);
    expect(c38.stats).toMatchObject({ instructions: 8, tlbHits: 0 });
  });
});

describe('--trace insn lines', () => {
  it('a jump into an unmapped page: the jump retires, the fetch of its target is its own faulted line', () => {
    // 48 31 c0 = xor rax,rax (0x400000); e9 rel32 = jmp 0x800000 from 0x400003: rel = 0x800000 - 0x400008 = 0x3ffff8.
    const r = snpemu(['scenario', '--trace', 'insn', bare('jmp-unmapped', '48 31 c0 e9 f8 ff 3f 00')]);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('insn'));
    expect(lines.length).toBe(3);
    expect(lines[0]).toMatch(/^insn +0000000000400000: 48 31 c0 +xor rax,rax +rflags=0000000000000046$/);
    expect(lines[1]).toMatch(/^insn +0000000000400003: e9 f8 ff 3f 00 +jmp 0000000000800000h\s*$/);
    expect(lines[2]).toMatch(/^insn +0000000000800000: +\(bytes not mapped\) +\(faulted: not retired\)$/);
  });

  it('INT3 retires (a trap: RIP is after it) and gets no extra fetch line', () => {
    // 48 ff c0 = inc rax; cc = int3.
    const r = snpemu(['scenario', '--trace', 'insn', bare('int3', '48 ff c0 cc 90 f4')]);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('insn'));
    expect(lines.length).toBe(2);
    expect(lines[0]).toMatch(/inc rax +rax=0000000000000001$/);
    expect(lines[1]).toMatch(/^insn +0000000000400003: cc +int3\s*$/);
  });

  it('a faulting store is shown once, not retired, with no register changes', () => {
    // c7 07 imm32 = mov dword [rdi],imm32 with RDI = 0: VA 0 is not mapped → #PF.
    const r = snpemu(['scenario', '--trace', 'insn', bare('store-fault', 'c7 07 78 56 34 12 f4')]);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('insn'));
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/mov dword ptr \[rdi\],12345678h +\(faulted: not retired\)$/);
  });
});
