// Assemble Intel-syntax snippets with the system's GNU assembler (one `as` run per batch), so the
// tests state instructions in words rather than in hand-encoded bytes.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Assemble each snippet (lines separated by ';' or newlines) and return its bytes. */
export function assemble(snippets: readonly string[]): Uint8Array[] {
  const dir = mkdtempSync(join(tmpdir(), 'snpemu-as-'));
  try {
    const lines = ['.intel_syntax noprefix', '.text'];
    snippets.forEach((s, i) => {
      lines.push(`s${i}_begin:`);
      for (const l of s.split(/[;\n]/)) if (l.trim() !== '') lines.push('  ' + l.trim());
      lines.push(`s${i}_end:`);
    });
    const src = join(dir, 'x.s');
    const obj = join(dir, 'x.o');
    const bin = join(dir, 'x.bin');
    writeFileSync(src, lines.join('\n') + '\n');
    execFileSync('as', ['--64', '-o', obj, src]);
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', obj, bin]);
    const text = readFileSync(bin);
    const syms = new Map<string, number>();
    for (const line of execFileSync('nm', [obj]).toString().split('\n')) {
      const m = /^([0-9a-f]+)\s+\w\s+(s\d+_(?:begin|end))$/.exec(line.trim());
      if (m) syms.set(m[2]!, parseInt(m[1]!, 16));
    }
    return snippets.map((_, i) => {
      const b = syms.get(`s${i}_begin`)!;
      const e = syms.get(`s${i}_end`)!;
      return new Uint8Array(text.subarray(b, e));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Assemble one snippet. */
export function asm(snippet: string): Uint8Array {
  return assemble([snippet])[0]!;
}
