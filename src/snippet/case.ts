// One snippet case: the input side of spec/snippet.md, parsed and validated.
//
// Parsing is strict about what it uses and silent about what it does not: unknown keys are ignored
// (corpus records carry their own metadata), but bad hex or an unknown register name makes the case
// an error line, never a guess.

import { GPR_NAMES } from '../kernel/constants.ts';

/** Register names of `regs` and of results: the 16 GPRs in encoding order. */
export { GPR_NAMES };

export const SNIPPET_CODE_BASE = 0x100000;
export const SNIPPET_DATA_BASE = 0x200000;
export const SNIPPET_PAGE_BYTES = 4096;
export const SNIPPET_DEFAULT_RSP = 0x2000c0n;
/** The RFLAGS bits a case sets and a result reports: CF PF AF ZF SF DF OF. */
export const SNIPPET_FLAGS_MASK = 0xcd5n;
/** RFLAGS bit 1 reads as 1 (AMD APM Vol.2 §3.1.6). */
export const RFLAGS_FIXED_ONE = 0x2n;

const U64_MASK = (1n << 64n) - 1n;
const REGISTER_INDEX = new Map<string, number>(GPR_NAMES.map((name, i) => [name, i]));

export interface SnippetCase {
  /** The case's id as the input gave it (a string or a number); null when absent. */
  id: string | number | null;
  code: Uint8Array;
  /** All 16 GPRs, unsigned 64-bit. */
  regs: bigint[];
  /** Only the bits of SNIPPET_FLAGS_MASK are used. */
  rflags: bigint;
  /** The first bytes of the data page (the rest is zero). */
  mem: Uint8Array;
}

/** A case that cannot run: the output line is `{"id":...,"error":...}`. */
export interface SnippetCaseError {
  id: string | number | null;
  error: string;
}

export class SnippetInputError extends Error {}

/** Parse a hex byte string ("4801d8"; an optional 0x prefix and whitespace are not allowed). */
export function parseHexBytes(hex: unknown, what: string, maxBytes: number): Uint8Array {
  if (typeof hex !== 'string') throw new SnippetInputError(`${what} must be a hex string`);
  if (hex.length % 2 !== 0) throw new SnippetInputError(`${what} has an odd number of hex digits`);
  if (!/^[0-9a-fA-F]*$/.test(hex)) throw new SnippetInputError(`${what} is not valid hex`);
  if (hex.length / 2 > maxBytes) {
    throw new SnippetInputError(`${what} is ${hex.length / 2} bytes, more than the ${maxBytes}-byte page`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/**
 * Parse a 64-bit value: a hex string ("0x1f" or "1f") or a JSON integer. Negative integers are
 * taken as two's complement, so -1 is 0xffffffffffffffff. Integers beyond 2^53 lose precision in
 * JSON and are refused: give them as hex strings.
 */
export function parseU64(value: unknown, what: string): bigint {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new SnippetInputError(`${what}: ${value} is not an exact integer (give large values as hex strings)`);
    }
    return BigInt(value) & U64_MASK;
  }
  if (typeof value === 'string') {
    const digits = value.startsWith('0x') || value.startsWith('0X') ? value.slice(2) : value;
    if (digits.length === 0 || digits.length > 16 || !/^[0-9a-fA-F]+$/.test(digits)) {
      throw new SnippetInputError(`${what}: "${value}" is not a 64-bit hex value`);
    }
    return BigInt('0x' + digits);
  }
  throw new SnippetInputError(`${what} must be a hex string or an integer`);
}

function idOf(record: unknown): string | number | null {
  if (record !== null && typeof record === 'object' && 'id' in record) {
    const id = (record as { id: unknown }).id;
    if (typeof id === 'string' || typeof id === 'number') return id;
  }
  return null;
}

/** Validate one decoded JSON record. */
export function caseFromRecord(record: unknown): SnippetCase | SnippetCaseError {
  const id = idOf(record);
  try {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new SnippetInputError('a case must be a JSON object');
    }
    const r = record as Record<string, unknown>;
    // A case without code is a mistake in the input (a misspelt key, say), not an empty snippet;
    // an explicitly empty "code": "" still runs nothing and reports the initial state.
    if (r.code === undefined) throw new SnippetInputError('missing code (the snippet\'s bytes as hex, e.g. "code":"4801d8")');
    const code = parseHexBytes(r.code, 'code', SNIPPET_PAGE_BYTES);
    const mem = r.mem === undefined ? new Uint8Array(256) : parseHexBytes(r.mem, 'mem', SNIPPET_PAGE_BYTES);
    const regs: bigint[] = new Array<bigint>(16).fill(0n);
    regs[4] = SNIPPET_DEFAULT_RSP;
    if (r.regs !== undefined) {
      if (r.regs === null || typeof r.regs !== 'object' || Array.isArray(r.regs)) {
        throw new SnippetInputError('regs must be an object of register names');
      }
      for (const [name, value] of Object.entries(r.regs)) {
        const index = REGISTER_INDEX.get(name);
        if (index === undefined) {
          throw new SnippetInputError(`unknown register "${name}" (expected one of ${GPR_NAMES.join(' ')})`);
        }
        regs[index] = parseU64(value, `regs.${name}`);
      }
    }
    const rflags = r.rflags === undefined ? 0n : parseU64(r.rflags, 'rflags') & SNIPPET_FLAGS_MASK;
    return { id, code, regs, rflags, mem };
  } catch (e) {
    if (e instanceof SnippetInputError) return { id, error: e.message };
    throw e;
  }
}

/** Parse one input line (JSON). */
export function parseCaseLine(line: string): SnippetCase | SnippetCaseError {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch (e) {
    return { id: null, error: `malformed JSON: ${(e as Error).message}` };
  }
  return caseFromRecord(record);
}

export function isCaseError(c: SnippetCase | SnippetCaseError): c is SnippetCaseError {
  return 'error' in c;
}
