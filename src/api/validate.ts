// Input checks for the library's public calls, in one place. TypeScript users get type errors for
// most bad input, but plain JavaScript users (and `as any` casts) reach the facade with anything:
// a misspelt option (`memroy`), a string where a boolean goes (`snp: 'yes'`), an address beyond RAM.
// Each check throws a MachineError whose message names the call, the bad key or value, and what
// would have been accepted (docs/api.md, "Errors"), instead of silently doing something else.

/** Input the library cannot use: the message says what was wrong and what was expected. */
export class MachineError extends Error {
  override name = 'MachineError';
}

/**
 * The largest instruction budget a run accepts. At the interpreter's ~100 M instructions/s
 * (bench/RESULTS.md), 1e10 instructions is under two minutes: long, but a run that still ends,
 * which docs/api.md promises. Beyond it (1e12 is hours; Infinity never ends) a run is a hang in
 * practice. The CLI's `run` default is 1e9.
 */
export const MAX_INSTRUCTIONS = 1e10;
/** The largest fault budget (exceptions are much rarer than instructions; each costs a kernel entry). */
export const MAX_FAULTS = 1e9;

function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

/** `value` must be a plain object whose keys are all in `allowed`; `what` names it in the message. */
export function checkKeys(value: unknown, allowed: readonly string[], what: string): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MachineError(`${what}: expected an object, got ${describe(value)}`);
  }
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    const list = unknown.map((k) => JSON.stringify(k)).join(', ');
    const expected = allowed.length === 0 ? 'it takes no options' : `expected ${allowed.join(', ')}`;
    throw new MachineError(`${what}: unknown ${unknown.length === 1 ? 'key' : 'keys'} ${list}; ${expected}`);
  }
}

/** An optional boolean option. */
export function checkBoolean(value: unknown, what: string): void {
  if (value !== undefined && typeof value !== 'boolean') throw new MachineError(`${what}: expected true or false, got ${describe(value)}`);
}

/** An optional value from a fixed list of words. */
export function checkOneOf(value: unknown, allowed: readonly string[], what: string): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new MachineError(`${what}: expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(value)}`);
  }
}

/** A run budget: an integer from 0 to `max` (the default applies when undefined). */
export function budget(value: unknown, fallback: number, max: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new MachineError(`run: ${what} must be an integer from 0 to ${max.toExponential()} (a run must end; docs/api.md "Running"), got ${describe(value)}`);
  }
  return value;
}

/** An address given as a bigint or a safe non-negative integer (hook ranges, `until`). */
export function integerValue(value: unknown, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new MachineError(`${what}: expected a bigint or a safe integer, got ${describe(value)}`);
}

/**
 * [pa, pa + length) must lie in RAM. The hardware reads 0xff and drops writes beyond RAM
 * (src/mem/physical.ts, an unbacked bus), but a library call that does so is always a mistake in
 * the caller's addresses, so the facade refuses it.
 */
export function checkInRam(pa: number, length: number, ramBytes: number, what: string): void {
  if (!Number.isSafeInteger(length) || length < 0) throw new MachineError(`${what}: length ${describe(length)} is not a byte count`);
  if (pa + length > ramBytes || pa >= ramBytes) {
    const last = length === 0 ? pa : pa + length - 1;
    throw new MachineError(`${what}: 0x${pa.toString(16)}..0x${last.toString(16)} is beyond RAM (0x${ramBytes.toString(16)} bytes: physical addresses 0..0x${(ramBytes - 1).toString(16)})`);
  }
}
