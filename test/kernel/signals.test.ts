// rt_sigaction / rt_sigreturn: programs that catch a signal, read siginfo and return through the
// restorer, run natively and in the emulated kernel with the same result; then a v7 RMP SIGBUS caught
// by a handler that reads si_addr and si_code.

import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/index.ts';
import { buildStatic, haveToolchain, readBytes, runNative } from './build-elf.ts';
import { makeMachine } from './machine-fixture.ts';

const tools = haveToolchain();

// The handler exits with (si_addr & 0xff) + si_code + signo, so the status shows all three.
const CATCH = (signo: number, fault: string) => `
    .globl _start
    .text
_start:
    mov $13, %eax
    mov $${signo}, %edi
    lea act(%rip), %rsi
    xor %edx, %edx
    mov $8, %r10d
    syscall
${fault}
    mov $60, %eax
    mov $99, %edi
    syscall
handler:
    mov 16(%rsi), %rax
    and $0xff, %eax
    add 8(%rsi), %eax
    add %edi, %eax
    mov %eax, %edi
    mov $60, %eax
    syscall
restorer:
    mov $15, %eax
    syscall
    .data
act: .quad handler, 0x04000004, restorer, 0
    .bss
    .balign 4096
page: .skip 4096
`;

// int3 → SIGTRAP handler rewrites the saved RBX in uc_mcontext (slot 11, uc + 40 + 88) and returns
// through the restorer; rt_sigreturn restores RBX = 42, which becomes the exit status.
const SIGRETURN = `
    .globl _start
    .text
_start:
    mov $13, %eax
    mov $5, %edi
    lea act(%rip), %rsi
    xor %edx, %edx
    mov $8, %r10d
    syscall
    mov $7, %ebx
    int3
    mov %ebx, %edi
    mov $60, %eax
    syscall
handler:
    movq $42, 128(%rdx)
    ret
restorer:
    mov $15, %eax
    syscall
    .data
act: .quad handler, 0x04000004, restorer, 0
`;

function emulate(path: string, policy: 'v7' | 'mainline' = 'v7', rmpVa?: (k: Kernel) => number) {
  const machine = makeMachine();
  const k = new Kernel(machine, { policy });
  k.loadElf(readBytes(path), [path]);
  if (rmpVa !== undefined) machine.rmp.setState(k.translate(rmpVa(k))!, { state: 'guest-valid', asid: 1, gpa: 0x1000, size: '4K' });
  return k.run({ maxInstructions: 100_000 });
}

describe.skipIf(!tools)('signal handlers', () => {
  it('SIGSEGV handler reads si_addr 0x1234 and si_code SEGV_MAPERR: 0x34 + 1 + 11 = 64, natively and emulated', () => {
    const path = buildStatic('catchsegv', CATCH(11, '    movq $1, 0x1234'));
    expect(runNative(path).status).toBe(64);
    const r = emulate(path);
    expect(r.outcome).toMatchObject({ kind: 'exit', exitCode: 64 });
  });

  it('SIGTRAP handler edits the saved RBX and returns: rt_sigreturn restores it (exit 42), natively and emulated', () => {
    const path = buildStatic('sigreturn', SIGRETURN);
    expect(runNative(path).status).toBe(42);
    expect(emulate(path).outcome).toMatchObject({ kind: 'exit', exitCode: 42 });
  });

  it('v7: a SIGBUS handler catches the RMP fault and reads si_addr and BUS_ADRERR (0x10 + 2 + 7 = 25)', () => {
    const path = buildStatic('catchbus', CATCH(7, '    lea page+0x10(%rip), %rax\n    movq $1, (%rax)'));
    const r = emulate(path, 'v7', (k) => {
      // page is the only 4K-aligned .bss object; find it from the symbol-free layout: the last page mapped.
      const seg = k.mm.vmas.all().filter((v) => v.name.startsWith('elf-segment')).at(-1)!;
      return seg.end - 4096;
    });
    expect(r.kernel.map((d) => d.action)).toEqual(['sigbus']);
    expect(r.outcome).toMatchObject({ kind: 'exit', exitCode: 25 });
  });

  it('a SIGFPE handler without SA_RESTORER cannot be entered: force_sigsegv, as natively', () => {
    const path = buildStatic('norestorer', CATCH(8, '    xor %ecx, %ecx\n    xor %edx, %edx\n    mov $1, %eax\n    div %ecx').replace('0x04000004', '0x4'));
    expect(runNative(path).signal).toBe('SIGSEGV');
    expect(emulate(path).outcome).toMatchObject({ kind: 'signal', signal: 'SIGSEGV', siCode: 'SI_KERNEL' });
  });
});
