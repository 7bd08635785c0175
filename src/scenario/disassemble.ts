// iced-x86, loaded on first use: the disassembler behind the unsupported-instruction report
// (unsupported.ts) and the CLI's `--trace insn`. It is CommonJS + WASM, so it is required
// synchronously, and only when an instruction is actually decoded or traced.

import { createRequire } from 'node:module';

export type Iced = typeof import('iced-x86');
let iced: Iced | undefined;

export function loadIced(): Iced {
  iced ??= createRequire(import.meta.url)('iced-x86') as Iced;
  return iced;
}

/** Intel-syntax text of the 64-bit instruction at the start of `bytes`, or null when it is invalid. */
export function disassembleOne(bytes: Uint8Array, rip: bigint): string | null {
  const { Decoder, DecoderOptions, Formatter, FormatterSyntax } = loadIced();
  const d = new Decoder(64, bytes, DecoderOptions.None);
  d.ip = BigInt.asUintN(64, rip);
  const insn = d.decode();
  const f = new Formatter(FormatterSyntax.Intel);
  const text = insn.isInvalid ? null : f.format(insn);
  insn.free();
  d.free();
  f.free();
  return text;
}
