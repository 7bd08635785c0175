// Static ELF programs built at test time (GNU as + ld, cc -static-pie), run natively on this machine
// and through the emulated kernel: stdout and the exit status (or the signal) must match.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Kernel, ElfError } from '../../src/kernel/index.ts';
import { buildStatic, haveToolchain, HELLO, readBytes, runNative } from './build-elf.ts';
import { makeMachine } from './machine-fixture.ts';

const tools = haveToolchain();
const here = dirname(fileURLToPath(import.meta.url));

function emulate(path: string, args: string[] = [], stdin = '', policy: 'v7' | 'mainline' = 'v7') {
  const machine = makeMachine();
  const k = new Kernel(machine, { policy });
  k.loadElf(readBytes(path), [path, ...args], [], stdin);
  return { result: k.run({ maxInstructions: 1_000_000 }), kernel: k };
}

/** Native signal name ("SIGILL") or exit status, in the kernel's terms (the CLI exits 128+signo). */
function same(path: string, args: string[] = [], stdin = '') {
  const native = runNative(path, args, stdin);
  const { result } = emulate(path, args, stdin);
  expect(result.stdout).toBe(native.stdout);
  if (native.signal !== null) {
    expect(result.outcome.kind).toBe('signal');
    expect(result.outcome.signal).toBe(native.signal);
  } else {
    expect(result.outcome.kind).toBe('exit');
    expect(result.outcome.exitCode).toBe(native.status);
  }
  return result;
}

describe.skipIf(!tools)('static ELF programs: emulated run == native run', () => {
  it('ET_EXEC hello: stdout and exit status (argc + 40) match, with 0 and 2 extra arguments', () => {
    const path = buildStatic('hello', HELLO);
    expect(same(path).outcome.exitCode).toBe(41);
    expect(same(path, ['a', 'b']).outcome.exitCode).toBe(43);
  });

  it('static-PIE hello (ET_DYN, loaded at 0x555555554000): same output and status', () => {
    const path = buildStatic('hellopie', HELLO, 'pie');
    same(path, ['x']);
  });

  it('the syscall program (brk, mmap, mprotect, munmap, MAP_FIXED, arch_prctl, getpid, uname, clock_gettime, ENOSYS, EFAULT, ENOMEM, EINVAL, read): same stdout and status', () => {
    const path = buildStatic('syscalls', readFileSync(join(here, 'syscalls.s'), 'utf8'));
    const r = same(path, [], 'echo me');
    expect(r.stdout).toBe('Linuxx86_64echo me\ndone\n');
    expect(r.outcome.exitCode).toBe(3);
  });

  const crash = (name: string, body: string) => buildStatic(name, `    .globl _start\n    .text\n_start:\n${body}\n`);
  it('signals match the native ones: ud2 → SIGILL, div by 0 → SIGFPE, int3 → SIGTRAP, store to 0 → SIGSEGV, hlt → SIGSEGV', () => {
    const cases: [string, string, string, string][] = [
      ['ud2', '    ud2', 'SIGILL', 'ILL_ILLOPN'],
      ['div0', '    xor %ecx, %ecx\n    mov $1, %eax\n    xor %edx, %edx\n    div %ecx', 'SIGFPE', 'FPE_INTDIV'],
      ['int3', '    int3', 'SIGTRAP', 'SI_KERNEL'],
      ['null', '    movq $1, 0', 'SIGSEGV', 'SEGV_MAPERR'],
      ['hlt', '    hlt', 'SIGSEGV', 'SI_KERNEL'],
    ];
    for (const [name, body, signal, siCode] of cases) {
      const r = same(crash(name, body));
      expect([name, r.outcome.signal, r.outcome.siCode]).toEqual([name, signal, siCode]);
    }
  });

  it('SIGSEGV from a write to the read-only text: SEGV_ACCERR with si_addr = the address', () => {
    const path = crash('rotext', '    lea _start(%rip), %rax\n    movb $0, (%rax)');
    const r = same(path);
    expect(r.outcome.siCode).toBe('SEGV_ACCERR');
    expect(r.outcome.siAddr).toBe(0x401000n);
  });
});

describe.skipIf(!tools)('emulator-only syscall behaviour', () => {
  it('MAP_HUGETLB|MAP_HUGE_2MB maps a 2M hugetlb page (a PS=1 PDE); madvise(MADV_HUGEPAGE) makes the next fault a THP', () => {
    const path = buildStatic('huge', `
    .globl _start
    .text
_start:
    xor %edi, %edi
    mov $0x200000, %esi
    mov $3, %edx
    mov $0x54040022, %r10d     # MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_2MB (21 << 26)
    mov $-1, %r8
    xor %r9d, %r9d
    mov $9, %eax
    syscall
    mov %rax, %r12
    movq $1, (%r12)
    xor %edi, %edi
    mov $0x400000, %esi
    mov $3, %edx
    mov $0x22, %r10d
    mov $9, %eax
    syscall
    mov %rax, %r13
    mov %r13, %rdi
    mov $0x400000, %esi
    mov $14, %edx              # MADV_HUGEPAGE
    mov $28, %eax
    syscall
    mov %rax, %r14
    movq $2, (%r13)
    mov $60, %eax
    xor %edi, %edi
    syscall
`);
    const { result, kernel } = emulate(path);
    expect(result.outcome).toMatchObject({ kind: 'exit', exitCode: 0 });
    const huge = Number(result.regs.r12);
    const thp = Number(result.regs.r13);
    expect(huge % 0x200000).toBe(0);
    expect(result.regs.r14).toBe(0n);
    expect(kernel.mm.tables.walk(huge).length).toBe(3); // PML4E, PDPTE, PS=1 PDE
    expect(kernel.mm.tables.walk(thp).length).toBe(3);
    expect(result.kernel.map((d) => d.action)).toEqual(['demand', 'demand']);
    expect(result.kernel[1]!.why).toMatch(/do_huge_pmd_anonymous_page/);
  });

  it('an unknown syscall leaves a trace note', () => {
    const path = buildStatic('enosys', '    .globl _start\n    .text\n_start:\n    mov $500, %eax\n    syscall\n    mov $60, %eax\n    xor %edi, %edi\n    syscall\n');
    const { kernel } = emulate(path);
    expect(kernel.notes.map((n) => [n.nr, n.result])).toEqual([[500, -38n]]);
    expect(kernel.notes[0]!.note).toMatch(/ENOSYS/);
  });

  it('loadElf of an object file throws ElfError', () => {
    const machine = makeMachine();
    const k = new Kernel(machine, { policy: 'v7' });
    expect(() => k.loadElf(readBytes(buildStatic('obj2', HELLO, 'object')))).toThrow(ElfError);
  });
});
