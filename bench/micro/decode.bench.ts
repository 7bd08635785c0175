// Decode throughput in MB/s: snpemu's decoder (src/cpu/decoder.ts) against iced-x86's, on the
// same bytes.
//
// The bytes: bench/micro/decode-corpus.s (a mix of the integer instructions compiled code uses,
// in snpemu's subset), assembled with GNU as, its .text repeated to 64 KiB. Both decoders walk the
// buffer instruction by instruction, in 64-bit mode, producing their full decoded form (snpemu an
// Insn with its handler chosen, iced an Instruction). Before timing, every instruction's length is
// compared between the two: a disagreement is reported in the record's note, since a decoder that
// reads fewer bytes would also look faster.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Decoder, DecoderOptions, Instruction } from 'iced-x86';
import { decode, type ByteSource } from '../../src/cpu/decoder.ts';
import { summarize } from '../harness/stats.ts';
import type { BenchmarkRecord } from '../harness/record.ts';
import type { BenchOptions } from '../harness/modules.ts';

const CORPUS_SOURCE = fileURLToPath(new URL('decode-corpus.s', import.meta.url));
const BUFFER_BYTES = 64 * 1024;

/** The corpus's machine code (the .text section of decode-corpus.s). */
export function assembleCorpus(): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'snpemu-decode-'));
  try {
    const obj = join(dir, 'corpus.o');
    const bin = join(dir, 'corpus.bin');
    execFileSync('as', ['--64', '-o', obj, CORPUS_SOURCE], { stdio: 'pipe' });
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', obj, bin], { stdio: 'pipe' });
    return new Uint8Array(readFileSync(bin));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whole copies of the corpus, as many as fit in `bytes`. */
export function repeatCorpus(corpus: Uint8Array, bytes: number): Uint8Array {
  const copies = Math.max(1, Math.floor(bytes / corpus.length));
  const out = new Uint8Array(copies * corpus.length);
  for (let i = 0; i < copies; i++) out.set(corpus, i * corpus.length);
  return out;
}

/** A ByteSource over a buffer at a movable offset: one object for the whole run. */
class BufferSource implements ByteSource {
  offset = 0;
  constructor(private readonly bytes: Uint8Array) {}
  byte(i: number): number {
    return this.bytes[this.offset + i] ?? 0;
  }
}

/** Instruction lengths by snpemu's decoder; also counts decode faults (#UD, #GP). */
export function snpemuLengths(bytes: Uint8Array): { lengths: number[]; faults: number } {
  const src = new BufferSource(bytes);
  const lengths: number[] = [];
  let faults = 0;
  while (src.offset < bytes.length) {
    const insn = decode(src);
    if (insn.faultVector !== 0) faults++;
    lengths.push(insn.len);
    src.offset += insn.len;
  }
  return { lengths, faults };
}

export function icedLengths(bytes: Uint8Array): number[] {
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  const instr = new Instruction();
  const lengths: number[] = [];
  try {
    while (decoder.canDecode) {
      decoder.decodeOut(instr);
      lengths.push(instr.length);
    }
  } finally {
    instr.free();
    decoder.free();
  }
  return lengths;
}

function decodeAllSnpemu(src: BufferSource, length: number): number {
  let count = 0;
  src.offset = 0;
  while (src.offset < length) {
    src.offset += decode(src).len;
    count++;
  }
  return count;
}

function decodeAllIced(bytes: Uint8Array, instr: Instruction): number {
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  let count = 0;
  try {
    while (decoder.canDecode) {
      decoder.decodeOut(instr);
      count++;
    }
  } finally {
    decoder.free();
  }
  return count;
}

function timeMbPerSecond(bytes: number, once: () => number, samples: number, minMs: number): number[] {
  once(); // warm
  let start = performance.now();
  once();
  const passes = Math.max(1, Math.ceil(minMs / Math.max(performance.now() - start, 0.001)));
  const rates: number[] = [];
  for (let s = 0; s < samples; s++) {
    start = performance.now();
    for (let p = 0; p < passes; p++) once();
    rates.push((bytes * passes) / ((performance.now() - start) / 1000) / 1e6);
  }
  return rates;
}

export async function benchmarks(options: BenchOptions): Promise<BenchmarkRecord[]> {
  const samples = options.quick ? 3 : 7;
  const minMs = options.quick ? 60 : 300;
  const corpus = assembleCorpus();
  const buffer = repeatCorpus(corpus, BUFFER_BYTES);

  const ours = snpemuLengths(corpus);
  const theirs = icedLengths(corpus);
  const mismatches: string[] = [];
  let offset = 0;
  for (let i = 0; i < Math.max(ours.lengths.length, theirs.length) && mismatches.length < 3; i++) {
    if (ours.lengths[i] !== theirs[i]) mismatches.push(`instruction ${i} at byte ${offset}: snpemu ${ours.lengths[i]}, iced ${theirs[i]} bytes`);
    offset += theirs[i] ?? 0;
  }
  const agreement = mismatches.length === 0 && ours.faults === 0
    ? `both decoders agree on all ${theirs.length} instruction lengths of the corpus`
    : `length check: ${mismatches.join('; ') || 'lengths agree'}${ours.faults > 0 ? `; snpemu decodes ${ours.faults} of ${ours.lengths.length} corpus instructions as faults` : ''}`;

  const src = new BufferSource(buffer);
  const instr = new Instruction();
  const runs: [string, () => number][] = [
    ['snpemu', () => decodeAllSnpemu(src, buffer.length)],
    ['iced-x86', () => decodeAllIced(buffer, instr)],
  ];
  const medians = new Map<string, number>();
  const records: BenchmarkRecord[] = [];
  try {
    for (const [decoder, once] of runs) {
      const s = summarize(timeMbPerSecond(buffer.length, once, samples, minMs));
      medians.set(decoder, s.median);
      records.push({
        name: `decode.${decoder}`,
        group: 'decode',
        unit: 'MB/s',
        status: 'ok',
        median: s.median,
        spread: { kind: 'iqr', low: s.q1, high: s.q3 },
        samples: s.samples,
        note: agreement,
        details: { decoder, bufferBytes: buffer.length, instructionsPerCopy: theirs.length, bytesPerCopy: corpus.length },
      });
    }
  } finally {
    instr.free();
  }
  for (const r of records) r.details!.ratioToSnpemu = Math.round((r.median! / medians.get('snpemu')!) * 1000) / 1000;
  return records;
}
