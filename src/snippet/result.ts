// The output side of spec/snippet.md: a snippet's final state and its JSON line.

import { GPR_NAMES, RFLAGS_FIXED_ONE, SNIPPET_FLAGS_MASK, type SnippetCaseError } from './case.ts';

export interface SnippetException {
  vector: number;
  /** Mnemonic without the '#', e.g. "PF". */
  name: string;
  error_code: number;
  /** CR2 for #PF (sign-extended linear address), 0 otherwise. */
  addr: bigint;
}

export interface SnippetState {
  id: string | number | null;
  /** All 16 GPRs, unsigned 64-bit, architectural order. */
  regs: bigint[];
  rip: bigint;
  /** Masked to CF PF AF ZF SF DF OF, with bit 1 set. */
  rflags: bigint;
  /** The whole 4 KiB data page. */
  mem: Uint8Array;
  exception: SnippetException | null;
}

export type SnippetResult = SnippetState | SnippetCaseError;

export function isSnippetError(r: SnippetResult): r is SnippetCaseError {
  return 'error' in r;
}

/** 0x + 16 hex digits. */
export function hex64(v: bigint): string {
  return '0x' + v.toString(16).padStart(16, '0');
}

/** Mask RFLAGS as the output reports it. */
export function reportedFlags(rflags: bigint): bigint {
  return (rflags & SNIPPET_FLAGS_MASK) | RFLAGS_FIXED_ONE;
}

/** The output line of one case (without the newline). Key order follows spec/snippet.md. */
export function formatResult(r: SnippetResult): string {
  const id = JSON.stringify(r.id);
  if (isSnippetError(r)) return `{"id":${id},"error":${JSON.stringify(r.error)}}`;
  let regs = '';
  for (let i = 0; i < 16; i++) regs += `${i === 0 ? '' : ','}"${GPR_NAMES[i]}":"${hex64(r.regs[i]!)}"`;
  const e = r.exception;
  const exception =
    e === null
      ? 'null'
      : `{"vector":${e.vector},"name":${JSON.stringify(e.name)},"error_code":${e.error_code},"addr":"${hex64(e.addr)}"}`;
  const mem = Buffer.from(r.mem.buffer, r.mem.byteOffset, r.mem.byteLength).toString('hex');
  return (
    `{"id":${id},"regs":{${regs}},"rip":"${hex64(r.rip)}","rflags":"${hex64(r.rflags)}",` +
    `"mem":"${mem}","exception":${exception}}`
  );
}
