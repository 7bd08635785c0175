// Syscall notes as kernel trace lines. The emulated kernel leaves a note for a syscall it does not
// implement (-ENOSYS, src/kernel/syscalls.ts); issue 5 asks that it leave a trace, so `--trace
// kernel` shows it as a line of kind kernel: "enosys at RIP: syscall 999 is not implemented ...".
// Notes are not handler decisions, so they stay out of the result's `kernel` list (which `expect`
// compares one decision per handled fault).

import type { Machine } from '../machine.ts';
import type { KernelTrace, SyscallNote } from '../kernel/types.ts';
import type { KernelRecord } from './record.ts';

/** SYSCALL is 0F 05 (AMD APM Vol.3 "SYSCALL"); the kernel reports the note with RIP past it. */
const SYSCALL_LENGTH = 2n;
/** -ENOSYS as RAX holds it (include/uapi/asm-generic/errno.h: ENOSYS = 38). */
const ENOSYS = -38n;

/** A KernelTrace.syscall callback that passes noted syscalls on as kernel records. */
export function syscallNoteTrace(machine: Machine, kernel: (k: KernelRecord) => void): NonNullable<KernelTrace['syscall']> {
  return (s: SyscallNote) => {
    if (s.note === undefined) return;
    kernel({ action: s.result === ENOSYS ? 'enosys' : 'syscall', address: machine.cpu.rip - SYSCALL_LENGTH, why: s.note });
  };
}
