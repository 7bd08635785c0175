// The committed corpus format (test/diff/corpus.jsonl): each line is a generated case plus its
// native result, with the result's 4 KiB data page stored deflated and base64-encoded ("memz")
// instead of 8 KiB of hex, so the file stays small.
import { deflateRawSync, inflateRawSync } from 'node:zlib';

export function packNativeResult(line: string): Record<string, unknown> {
  const { mem, ...rest } = JSON.parse(line) as Record<string, unknown>;
  if (typeof mem !== 'string') return rest;
  return { ...rest, memz: deflateRawSync(Buffer.from(mem, 'hex'), { level: 9 }).toString('base64') };
}

/** The native result as the output line it was. */
export function unpackNativeResult(packed: Record<string, unknown>): string {
  const { memz, ...rest } = packed;
  if (typeof memz !== 'string') return JSON.stringify(rest);
  const mem = inflateRawSync(Buffer.from(memz, 'base64')).toString('hex');
  // Restore the key order of spec/snippet.md (mem before exception).
  const { id, regs, rip, rflags, exception } = rest;
  return JSON.stringify({ id, regs, rip, rflags, mem, exception });
}
