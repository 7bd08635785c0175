// `snpemu scenario --trace KINDS` on guest scenarios (files with a `guest` section), spawned as a
// user runs it: each kind prints the lines a hand reading of the scenario predicts, --json gives
// JSON Lines, --trace-file writes them to a file, and without --trace nothing is traced.
//
// Scenario facts used below, read off the files (the scenarios' own notes work them out):
// case34: the guest's C=0 write to va 0x5000 (GPA 0x5000, private frame SPA 0x405000) fails
//   Hypervisor-Owned → #VMEXIT(NPF), EXITINFO1 = RMP(bit 31)|FINAL(bit 32)|P|W|U = 0x180000007,
//   EXITINFO2 = 0x5000; KVM: memory-fault exit, the VMM converts to shared; the retry faults
//   not-present (FINAL|W|U = 0x100000006); KVM maps GPA 0x5000 → shared SPA 0x805000.
// code-case38: guest code at 0x200000 "bf 00 50 00 00" = mov edi,0x5000; PVALIDATE (f2 0f 01 ff)
//   at 0x20000f takes the SIZEM NPF, EXITINFO1 = RMP|SIZEM|FINAL|ENC|P|U = 0xd80000005.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(repo, 'bin', 'snpemu.js');
const tmp = mkdtempSync(join(tmpdir(), 'snpemu-guest-trace-'));
const CASE34 = join('scenarios', 'guest', 'case34-shared-write-to-private.json');
const CODE38 = join('scenarios', 'guest', 'code-case38-pvalidate-in-guest-code.json');

function snpemu(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Trace lines of one kind (the text format: the kind padded to 6, a space, the text). */
const linesOf = (stderr: string, kind: string): string[] => stderr.split('\n').filter((l) => l.startsWith(`${kind.padEnd(6)} `));

describe('--trace on a guest scenario (case 34)', () => {
  const r = snpemu(['scenario', '--trace', 'all', CASE34]);

  it('runs and passes, the report on stdout', () => {
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^PASS /);
  });

  it('fault: one qemu-style vmexit line per #VMEXIT(NPF), EXITINFO1 decoded, EXITINFO2 the GPA', () => {
    const f = linesOf(r.stderr, 'fault');
    expect(f.length).toBe(2);
    expect(f[0]).toMatch(/^fault  vmexit\(00000400, 0000000180000007, 0000000000005000, step 0\)! NPF RMP\|FINAL\|P\|W\|U cpl=0: .*Hypervisor-Owned/);
    expect(f[1]).toMatch(/^fault  vmexit\(00000400, 0000000100000006, 0000000000005000, step 0\)! NPF FINAL\|W\|U cpl=0: .*not present/);
  });

  it('kernel: npf_interception and the model\'s decisions, in order', () => {
    const k = linesOf(r.stderr, 'kernel').map((l) => l.replace(/:.*/, ''));
    expect(k).toEqual([
      'kernel npf_interception at GPA 0x5000', 'kernel memory-fault at GPA 0x5000', 'kernel convert-shared at GPA 0x5000',
      'kernel npf_interception at GPA 0x5000', 'kernel map at GPA 0x5000',
    ]);
    expect(r.stderr).toContain('kernel map at GPA 0x5000: mapped GPA 0x5000 → SPA 0x805000 (shared) with a 4K nested leaf');
  });

  it('mmu: the 2D walk, its nested sub-walks, TLB misses with the ASID, A/D writes', () => {
    const m = linesOf(r.stderr, 'mmu');
    expect(m).toContain('mmu    tlb miss write 0x5000 asid=1 supervisor');
    const walks = m.filter((l) => l.startsWith('mmu    walk2d '));
    expect(walks.length).toBe(3);
    // Guest tables at GPA 0x1f0000 (last 16 pages of the 2M region); the guest PTE is 0x5003 (C=0, RW, P).
    expect(walks[0]).toMatch(/^mmu {4}walk2d write 0x5000 cpl=0 asid=1 cr3=0x1f0000 ncr3=0x[0-9a-f]+: PML4E=0x\S+ PDPTE=0x\S+ PDE=0x\S+ PTE=0x5003 -> #VMEXIT\(NPF\) EXITINFO1=0x180000007 EXITINFO2=0x5000, 24 refs$/);
    expect(walks[2]).toMatch(/-> gpa 0x5000 C=0 \(guest 4K\) -> spa 0x805000 \(nested 4K\), 24 refs$/);
    // PTE entry of va 0x5000: GPA 0x1f3000 + 5 * 8 = 0x1f3028 (a PAGE sub-walk), then the FINAL one.
    expect(m.some((l) => /^mmu {4}nested PAGE {2}gpa 0x1f3028 \(guest PTE\): nPML4E=\S+ nPDPTE=\S+ nPDE=\S+ nPTE=\S+ -> spa 0x5f3028 4K$/.test(l))).toBe(true);
    expect(m.some((l) => /^mmu {4}nested FINAL gpa 0x5000 \(final GPA\): .* -> spa 0x405000 4K$/.test(l))).toBe(true);
    // The guest PTE gets A and D: 0x5003 → 0x5063.
    expect(m).toContain('mmu    A/D write guest PTE @ 0x5f3028: 0x5003 -> 0x5063');
  });

  it('rmp: each check with its chain; the failing one names the check and the entry', () => {
    const c = linesOf(r.stderr, 'rmp');
    expect(c.length).toBe(14);
    expect(c[0]).toBe('rmp    RMP guest page-table access (PML4E) gpa 0x1f0000 spa 0x5f0000 C=1 as 4K: C=1 chain (ASID 1, VMPL0 needs RW): pass');
    expect(c[4]).toMatch(/^rmp {4}RMP guest write, final gpa 0x5000 spa 0x405000 C=0 as 4K: Hypervisor-Owned: FAIL Hypervisor-Owned -> NPF; pfn 0x405: Assigned=1/);
  });

  it('insn: each step (step mode), the faulting attempts marked', () => {
    expect(linesOf(r.stderr, 'insn')).toEqual([
      'insn   step 0: write 1 byte(s) 0x42 at 0x5000  (faulted: not completed)',
      'insn   step 0: write 1 byte(s) 0x42 at 0x5000  (faulted: not completed)',
      'insn   step 0: write 1 byte(s) 0x42 at 0x5000 -> done',
    ]);
  });

  it('only the kinds asked for', () => {
    const only = snpemu(['scenario', '--trace', 'fault', CASE34]);
    expect(only.status).toBe(0);
    const kinds = new Set(only.stderr.trim().split('\n').map((l) => l.split(' ')[0]));
    expect([...kinds]).toEqual(['fault']);
  });
});

describe('--trace insn on guest code', () => {
  it('shows address, bytes, disassembly and changed registers; the faulting PVALIDATE is not retired', () => {
    const r = snpemu(['scenario', '--trace', 'insn,fault', CODE38]);
    expect(r.status).toBe(0);
    const insn = linesOf(r.stderr, 'insn');
    expect(insn[0]).toMatch(/^insn {3}0000000000200000: bf 00 50 00 00 +mov edi,5000h +rdi=0000000000005000$/);
    expect(insn.find((l) => l.includes('pvalidate'))).toMatch(/^insn {3}000000000020000f: f2 0f 01 ff +pvalidate rax +\(faulted: not retired\)$/);
    expect(linesOf(r.stderr, 'fault')[0]).toMatch(/^fault  vmexit\(00000400, 0000000d80000005, 0000000000005000, 000000000020000f\)! NPF RMP\|FINAL\|ENC\|SIZEM\|P\|U cpl=0: /);
    // The retried PVALIDATE succeeds: EAX = 0 → RAX 0 (it held 0x5000).
    expect(insn.some((l) => /^insn {3}000000000020000f: f2 0f 01 ff +pvalidate rax +rax=0000000000000000/.test(l))).toBe(true);
  });
});

describe('--json and --trace-file on a guest scenario', () => {
  it('writes JSON Lines trace records to the file and the result to stdout', () => {
    const file = join(tmp, 'trace.jsonl');
    const r = snpemu(['scenario', '--json', '--trace', 'fault,kernel,rmp', '--trace-file', file, CASE34]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const result = JSON.parse(r.stdout.trim());
    expect(result.expect.passed).toBe(true);
    const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const exits = records.filter((x) => x.trace === 'fault' && x.type === 'vmexit');
    expect(exits.map((x) => [x.exitCode, x.exitInfo1, x.exitInfo2, x.bits])).toEqual([
      [0x400, '0x180000007', '0x5000', 'RMP|FINAL|P|W|U'],
      [0x400, '0x100000006', '0x5000', 'FINAL|W|U'],
    ]);
    expect(records.filter((x) => x.trace === 'kernel').map((x) => x.action)).toEqual(['npf_interception', 'memory-fault', 'convert-shared', 'npf_interception', 'map']);
    const failed = records.filter((x) => x.trace === 'rmp' && x.failed !== null);
    expect(failed).toMatchObject([{ type: 'guest-check', access: 'write', gpa: 0x5000, spa: 0x405000, cBit: false, chain: 'Hypervisor-Owned', failed: 'Hypervisor-Owned', entryPfn: 0x405, result: 'NPF' }]);
  });
});

describe('no --trace', () => {
  it('prints no trace line', () => {
    const r = snpemu(['scenario', CASE34, CODE38]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });
});
