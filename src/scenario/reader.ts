// Reading untyped JSON with a JSON path at every step, so that every complaint names the file, the
// path (`process.regions[1].size`) and what was expected (spec/scenario.md). The first problem
// throws an InputError; nothing is half-loaded.

import { InputError, at } from './errors.ts';
import { parseAddressValue, parseInteger, parseHexBytes, type AddressValue, isSymbolic } from './numbers.ts';

export type Json = unknown;
export type JsonObject = Record<string, unknown>;

export class Reader {
  constructor(
    readonly file: string,
    /** Region names that symbols may use; empty when the scenario has no process. */
    readonly symbols: ReadonlySet<string>,
  ) {}

  fail(path: string, problem: string): never {
    throw new InputError(this.file, path, problem);
  }

  describe(v: Json): string {
    if (v === null) return 'null';
    if (v === undefined) return 'nothing';
    if (Array.isArray(v)) return 'a list';
    if (typeof v === 'object') return 'an object';
    if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}...` : v}"`;
    return `${typeof v} ${String(v)}`;
  }

  /** An object whose keys are all in `allowed`; `required` keys must be present. */
  object(v: Json, path: string, allowed: readonly string[], required: readonly string[] = []): JsonObject {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.fail(path, `expected an object, got ${this.describe(v)}`);
    }
    const o = v as JsonObject;
    for (const key of Object.keys(o)) {
      if (!allowed.includes(key)) {
        this.fail(at(path, key), `unknown key "${key}"; expected one of ${allowed.join(', ')}`);
      }
    }
    for (const key of required) {
      if (!(key in o)) this.fail(at(path, key), `missing; required`);
    }
    return o;
  }

  /** Exactly one of `choices` present in `o`; returns it. */
  oneOf(o: JsonObject, path: string, choices: readonly string[]): string {
    const present = choices.filter((k) => k in o);
    if (present.length !== 1) {
      this.fail(path, present.length === 0
        ? `expected one of ${choices.map((c) => `"${c}"`).join(', ')}`
        : `expected only one of ${present.map((c) => `"${c}"`).join(', ')}`);
    }
    return present[0]!;
  }

  array(v: Json, path: string): Json[] {
    if (!Array.isArray(v)) this.fail(path, `expected a list, got ${this.describe(v)}`);
    return v;
  }

  string(v: Json, path: string): string {
    if (typeof v !== 'string') this.fail(path, `expected a string, got ${this.describe(v)}`);
    return v;
  }

  bool(v: Json, path: string): boolean {
    if (typeof v !== 'boolean') this.fail(path, `expected true or false, got ${this.describe(v)}`);
    return v;
  }

  choice<T extends string>(v: Json, path: string, choices: readonly T[]): T {
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
      this.fail(path, `expected one of ${choices.map((c) => `"${c}"`).join(', ')}, got ${this.describe(v)}`);
    }
    return v as T;
  }

  /** An integer in [min, max] as a bigint. */
  bigInteger(v: Json, path: string, min = 0n, max = (1n << 64n) - 1n): bigint {
    const n = parseInteger(v);
    if (n === undefined) {
      this.fail(path, `expected an integer (a JSON number, "0x..", a decimal string or "4K"/"2M"/"1G"), got ${this.describe(v)}`);
    }
    if (n < min || n > max) this.fail(path, `expected a value from 0x${min.toString(16)} to 0x${max.toString(16)}, got 0x${n.toString(16)}`);
    return n;
  }

  /** An integer in [min, max] as a JS number (max must be a safe integer). */
  integer(v: Json, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    return Number(this.bigInteger(v, path, BigInt(min), BigInt(max)));
  }

  /** An integer that must be a multiple of `align`. */
  aligned(v: Json, path: string, align: number, what: string, max = 2 ** 52 - 1): number {
    const n = this.integer(v, path, 0, max);
    if (n % align !== 0) this.fail(path, `${what} must be ${align >= 1 << 20 ? `${align >> 20}M` : align >= 1024 ? `${align >> 10}K` : align}-aligned, got 0x${n.toString(16)}`);
    return n;
  }

  /** A page size: "4K", "2M" or "1G" (or the same number of bytes). */
  pageSize(v: Json, path: string, allowed: readonly number[] = [4096, 2 << 20, 1 << 30]): number {
    const n = parseInteger(v);
    if (n === undefined || !allowed.includes(Number(n))) {
      const names = allowed.map((b) => (b === 4096 ? '"4K"' : b === 2 << 20 ? '"2M"' : '"1G"'));
      this.fail(path, `expected a page size ${names.join(' or ')}, got ${this.describe(v)}`);
    }
    return Number(n);
  }

  /** An integer or a symbol naming a process region ("buf", "buf+0x3000"). */
  address(v: Json, path: string): AddressValue {
    const a = parseAddressValue(v);
    if (a === undefined) {
      this.fail(path, `expected an integer or a region symbol like "buf+0x1000", got ${this.describe(v)}`);
    }
    if (isSymbolic(a) && !this.symbols.has(a.symbol)) {
      this.fail(path, this.symbols.size === 0
        ? `symbol "${a.symbol}" names no region (this scenario has no process regions)`
        : `symbol "${a.symbol}" names no region; regions are ${[...this.symbols].join(', ')}`);
    }
    return a;
  }

  /** A region name that must exist. */
  regionName(v: Json, path: string): string {
    const name = this.string(v, path);
    if (!this.symbols.has(name)) {
      this.fail(path, this.symbols.size === 0
        ? `"${name}" names no region (this scenario has no process regions)`
        : `"${name}" names no region; regions are ${[...this.symbols].join(', ')}`);
    }
    return name;
  }

  hexBytes(v: Json, path: string): Uint8Array {
    const s = this.string(v, path);
    const bytes = parseHexBytes(s);
    if (bytes === undefined) this.fail(path, `expected hex bytes like "de ad be ef", got ${this.describe(v)}`);
    return bytes;
  }
}
