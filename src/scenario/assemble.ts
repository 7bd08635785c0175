// Assembly through the system's assembler (GNU as + ld, or nasm): the format's `asm` field and the
// CLI's `run FILE.s` / `run FILE.asm`. snpemu has no assembler of its own; when none is installed
// the caller says so plainly (spec/scenario.md, "process": "the tool says clearly when no
// assembler is available").
//
// Syntax of a region's `asm` (docs/scenarios.md): GNU as, Intel syntax without % prefixes
// (`.intel_syntax noprefix` is prepended; write `.att_syntax` to switch back). The code is linked at
// the region's address, so absolute references and RIP-relative labels resolve as written.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class AssemblerError extends Error {}

function hasTool(name: string): boolean {
  const r = spawnSync(name, ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

let gnuTools: boolean | undefined;
let nasmTool: boolean | undefined;
export function haveGnuAssembler(): boolean {
  gnuTools ??= hasTool('as') && hasTool('ld');
  return gnuTools;
}
export function haveNasm(): boolean {
  nasmTool ??= hasTool('nasm') && hasTool('ld');
  return nasmTool;
}

/**
 * Run one tool; on failure throw its first error line, without the temporary file name and with
 * line numbers of the user's text (`lineOffset` lines were prepended to it).
 */
function run(cmd: string, args: string[], cwd: string, lineOffset = 0): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.error !== undefined) throw new AssemblerError(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) {
    const text = r.stderr || r.stdout || '';
    const line = text.split('\n').find((l) => /error/i.test(l)) ?? text.trim().split('\n')[0] ?? `exit status ${r.status}`;
    // ld starts its own lines with "ld: "; say the tool's name once.
    const trimmed = line.trim().replace(new RegExp(`^${cmd}: `), '');
    const m = /^[^:]*\.(?:s|asm|o):(\d+):\s*(.*)$/.exec(trimmed);
    throw new AssemblerError(m === null ? `${cmd}: ${trimmed}` : `${cmd}: line ${Number(m[1]) - lineOffset}: ${m[2]}`);
  }
}

function withTempDir<T>(body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'snpemu-asm-'));
  try {
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Assemble Intel-syntax GNU as text into flat bytes linked at `origin`. */
export function assembleFlat(text: string, origin: number): Uint8Array {
  if (!haveGnuAssembler()) {
    throw new AssemblerError('no assembler found: `asm` needs GNU as and ld (Debian package binutils); give the bytes as `hex` instead');
  }
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'a.s'), `.intel_syntax noprefix\n${text}\n`);
    try {
      run('as', ['--64', '-o', 'a.o', 'a.s'], dir, 1);
      const o = `0x${origin.toString(16)}`;
      run('ld', ['-Ttext=' + o, '-e', o, '--oformat=binary', '-o', 'a.bin', 'a.o'], dir);
    } catch (e) {
      // AT&T text ("mov $60, %eax") often assembles as Intel syntax with "$60" taken for a symbol,
      // so the failure surfaces in ld; name the syntax the field expects.
      if (e instanceof AssemblerError) throw new AssemblerError(`${e.message} (\`asm\` is GNU as in Intel syntax without % prefixes, e.g. "mov eax, 60"; for AT&T syntax start the text with .att_syntax)`);
      throw e;
    }
    return new Uint8Array(readFileSync(join(dir, 'a.bin')));
  });
}

/**
 * Build a static ELF from an assembly source file: `.s`/`.S` with GNU as (its own default syntax,
 * AT&T unless the file says otherwise), `.asm` with nasm (-f elf64). Returns the ELF bytes.
 */
export function assembleProgram(path: string): Uint8Array {
  const isNasm = path.endsWith('.asm');
  if (isNasm ? !haveNasm() : !haveGnuAssembler()) {
    throw new AssemblerError(isNasm
      ? `cannot assemble ${path}: nasm and ld are not installed (Debian packages nasm, binutils)`
      : `cannot assemble ${path}: GNU as and ld are not installed (Debian package binutils)`);
  }
  const source = readFileSync(path);
  return withTempDir((dir) => {
    const src = join(dir, isNasm ? 'prog.asm' : 'prog.s');
    writeFileSync(src, source);
    if (isNasm) run('nasm', ['-f', 'elf64', '-o', 'prog.o', src], dir);
    else run('as', ['--64', '-o', 'prog.o', src], dir);
    run('ld', ['-static', '-o', 'prog', 'prog.o'], dir);
    return new Uint8Array(readFileSync(join(dir, 'prog')));
  });
}
