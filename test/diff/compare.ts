// Field-by-field comparison of a native result and an snpemu result for one generated case, with
// exactly the flags that are undefined where the case stopped masked out, and a readable report.

import iced from 'iced-x86';
import { CODE, undefinedFlagsFor, type GeneratedCase } from './generator.ts';
import { flagNames } from './flags.ts';
import { GPR_NAMES } from '../../src/snippet/case.ts';

const { Decoder, DecoderOptions, Formatter, FormatterSyntax, Code } = iced;

interface OutputRecord {
  id: unknown;
  error?: string;
  regs?: Record<string, string>;
  rip?: string;
  rflags?: string;
  mem?: string;
  exception?: { vector: number; name: string; error_code: number; addr: string } | null;
}

export interface FieldDiff {
  field: string;
  native: string;
  snpemu: string;
}

/** Compare two output lines of the same case. An empty list means they agree. */
export function compareOutputs(c: GeneratedCase, nativeLine: string, emuLine: string): FieldDiff[] {
  const n = JSON.parse(nativeLine) as OutputRecord;
  const e = JSON.parse(emuLine) as OutputRecord;
  const diffs: FieldDiff[] = [];
  if (n.error !== undefined || e.error !== undefined) {
    if (n.error !== e.error) diffs.push({ field: 'error', native: n.error ?? '(none)', snpemu: e.error ?? '(none)' });
    return diffs;
  }
  const exN = JSON.stringify(linuxView(n.exception));
  const exE = JSON.stringify(linuxView(e.exception));
  if (exN !== exE) diffs.push({ field: 'exception', native: exN, snpemu: exE });
  if (n.rip !== e.rip) diffs.push({ field: 'rip', native: n.rip!, snpemu: e.rip! });
  for (const name of GPR_NAMES) {
    if (n.regs![name] !== e.regs![name]) diffs.push({ field: name, native: n.regs![name]!, snpemu: e.regs![name]! });
  }
  const undef = BigInt(undefinedFlagsFor(c, BigInt(n.rip!), n.exception !== null));
  const fN = BigInt(n.rflags!);
  const fE = BigInt(e.rflags!);
  if ((fN & ~undef) !== (fE & ~undef)) {
    diffs.push({
      field: 'rflags',
      native: `${n.rflags} (${flagNames(Number(fN))})`,
      snpemu: `${e.rflags} (${flagNames(Number(fE))}); differing: ${flagNames(Number((fN ^ fE) & ~undef))}; undefined here, ignored: ${flagNames(Number(undef))}`,
    });
  }
  if (n.mem !== e.mem) {
    const a = Buffer.from(n.mem!, 'hex');
    const b = Buffer.from(e.mem!, 'hex');
    const offsets: string[] = [];
    for (let i = 0; i < Math.max(a.length, b.length) && offsets.length < 8; i++) {
      if (a[i] !== b[i]) offsets.push(`+0x${i.toString(16)}: ${hexByte(a[i])} vs ${hexByte(b[i])}`);
    }
    diffs.push({ field: 'mem', native: offsets.join(', '), snpemu: '(bytes: native vs snpemu)' });
  }
  return diffs;
}

/**
 * Linux ORs X86_PF_PROT into the error code of a user #PF at or above TASK_SIZE_MAX, to hide the
 * kernel's page tables (arch/x86/mm/fault.c, set_signal_archinfo); the native side cannot see the
 * hardware's P bit there, so it is compared as 1 on both sides. Nothing else is adjusted.
 */
function linuxView(ex: OutputRecord['exception']): OutputRecord['exception'] {
  if (ex && ex.vector === 14 && BigInt(ex.addr) >= 0xffff800000000000n) return { ...ex, error_code: ex.error_code | 1 };
  return ex ?? null;
}

function hexByte(v: number | undefined): string {
  return v === undefined ? '--' : v.toString(16).padStart(2, '0');
}

/** Disassemble a case's code with iced-x86, one line per instruction. */
export function disassemble(codeHex: string, max = 200): string[] {
  const bytes = Buffer.from(codeHex, 'hex');
  const decoder = new Decoder(64, new Uint8Array(bytes), DecoderOptions.None);
  decoder.ip = BigInt(CODE);
  const formatter = new Formatter(FormatterSyntax.Nasm);
  const lines: string[] = [];
  while (decoder.canDecode && lines.length < max) {
    const pos = decoder.position;
    const insn = decoder.decode();
    const raw = bytes.subarray(pos, pos + insn.length).toString('hex');
    lines.push(`${(CODE + pos).toString(16)}  ${raw.padEnd(30)} ${insn.code === Code.INVALID ? '(invalid)' : formatter.format(insn)}`);
    insn.free();
  }
  return lines;
}

/**
 * Check every generated instruction's length against iced-x86: the decoder must find an
 * instruction start exactly at each offset the generator recorded. Returns problems (empty = ok).
 */
export function checkLengths(c: GeneratedCase): string[] {
  const bytes = new Uint8Array(Buffer.from(c.code, 'hex'));
  const problems: string[] = [];
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  decoder.ip = BigInt(CODE);
  let k = 0;
  while (decoder.canDecode && k < c.starts.length) {
    const pos = decoder.position;
    const insn = decoder.decode();
    const invalid = insn.code === Code.INVALID;
    const length = insn.length;
    insn.free();
    if (pos !== c.starts[k]) {
      problems.push(`iced decodes an instruction at +0x${pos.toString(16)}, the generator emitted one at +0x${c.starts[k]!.toString(16)}`);
      break;
    }
    if (c.invalidAt.includes(pos)) break; // a deliberately invalid encoding ends the case
    if (invalid) {
      problems.push(`iced finds no valid instruction at +0x${pos.toString(16)}`);
      break;
    }
    const expected = (c.starts[k + 1] ?? bytes.length) - pos;
    if (length !== expected) {
      problems.push(`length at +0x${pos.toString(16)}: iced ${length}, generator ${expected}`);
      break;
    }
    k++;
  }
  return problems;
}

/** A mismatch report: bytes, disassembly, initial state and the differing fields. */
export function formatMismatch(c: GeneratedCase, diffs: FieldDiff[], seedNote: string): string {
  const lines = [`MISMATCH in case ${c.id} (${seedNote})`, `  code: ${c.code}`, '  disassembly:'];
  for (const l of disassemble(c.code)) lines.push(`    ${l}`);
  lines.push(`  initial regs: ${JSON.stringify(c.regs)}`);
  lines.push(`  initial rflags: ${c.rflags}   mem: ${c.mem.length / 2} bytes`);
  lines.push('  differing fields (native | snpemu):');
  for (const d of diffs) lines.push(`    ${d.field}: ${d.native} | ${d.snpemu}`);
  lines.push(`  replay: ${JSON.stringify({ id: c.id, code: c.code, regs: c.regs, rflags: c.rflags, mem: c.mem })}`);
  return lines.join('\n');
}
