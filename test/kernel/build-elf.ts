// Build small static ELF programs at test time with the system toolchain (GNU as + ld, or cc), so
// the same bytes run natively and in the emulated kernel.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'snpemu-kernel-'));

export function haveToolchain(): boolean {
  try {
    execFileSync('as', ['--version'], { stdio: 'ignore' });
    execFileSync('ld', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Assemble and link `source` (GNU as syntax) into a static executable; its path. */
export function buildStatic(name: string, source: string, kind: 'exec' | 'pie' | 'object' | 'dynamic' = 'exec'): string {
  const s = join(dir, `${name}.s`);
  const o = join(dir, `${name}.o`);
  const out = join(dir, name);
  writeFileSync(s, source);
  if (kind === 'pie') {
    execFileSync('cc', ['-static-pie', '-nostdlib', '-o', out, s]);
    return out;
  }
  if (kind === 'dynamic') {
    execFileSync('cc', ['-nostdlib', '-o', out, s]);
    return out;
  }
  execFileSync('as', ['-o', o, s]);
  if (kind === 'object') return o;
  execFileSync('ld', ['-static', '-o', out, o]);
  return out;
}

export function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** Run a binary natively; stdout and the exit status (or the signal). */
export function runNative(path: string, args: string[] = [], stdin = ''): { stdout: string; status: number | null; signal: string | null } {
  try {
    const stdout = execFileSync(path, args, { input: stdin, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    return { stdout, status: 0, signal: null };
  } catch (e) {
    const x = e as { stdout?: string; status?: number | null; signal?: string | null };
    return { stdout: x.stdout ?? '', status: x.status ?? null, signal: x.signal ?? null };
  }
}

/** A program that writes a line and exits with argc + 40 (the status proves the stack layout). */
export const HELLO = `
    .globl _start
    .text
_start:
    mov $1, %eax
    mov $1, %edi
    lea msg(%rip), %rsi
    mov $len, %edx
    syscall
    mov (%rsp), %rdi
    add $40, %rdi
    mov $60, %eax
    syscall
    .data
msg: .ascii "hello from a static ELF\\n"
    .set len, . - msg
`;
