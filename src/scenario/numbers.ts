// Integers and addresses as scenario files write them (spec/scenario.md, "Numbers and addresses"):
// JSON numbers up to 2^53-1, or strings "0x1f000", "4096", "4K"/"2M"/"1G" (powers of 1024), or a
// symbol "buf" / "buf+0x3000" naming a process region. Values are bigint here so that 64-bit
// register values survive; callers narrow them to numbers where the field is an address or a size.

export interface SymbolicAddress {
  /** Region name. */
  readonly symbol: string;
  /** Byte offset from the region's first byte (may be negative with "buf-0x10"). */
  readonly offset: bigint;
}

/** A value that may name a region: a plain integer, or a symbol plus offset. */
export type AddressValue = bigint | SymbolicAddress;

const HEX = /^0x[0-9a-fA-F]+$/;
const DECIMAL = /^[0-9]+$/;
const WITH_SUFFIX = /^([0-9]+)([KMG])$/;
const SYMBOL = /^([A-Za-z_][A-Za-z0-9_]*)(?:([+-])(.+))?$/;
const SUFFIX_SHIFT: Record<string, bigint> = { K: 10n, M: 20n, G: 30n };

/** Parse a plain integer (no symbol). Returns undefined when the value is not one. */
export function parseInteger(value: unknown): bigint | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (HEX.test(text)) return BigInt(text);
  if (DECIMAL.test(text)) return BigInt(text);
  const m = WITH_SUFFIX.exec(text);
  if (m !== null) return BigInt(m[1]!) << SUFFIX_SHIFT[m[2]!]!;
  return undefined;
}

/** Parse an integer or a symbolic address. Returns undefined when the value is neither. */
export function parseAddressValue(value: unknown): AddressValue | undefined {
  const n = parseInteger(value);
  if (n !== undefined) return n;
  if (typeof value !== 'string') return undefined;
  const m = SYMBOL.exec(value.trim());
  if (m === null) return undefined;
  if (m[2] === undefined) return { symbol: m[1]!, offset: 0n };
  const off = parseInteger(m[3]!.trim());
  if (off === undefined) return undefined;
  return { symbol: m[1]!, offset: m[2] === '-' ? -off : off };
}

export function isSymbolic(v: AddressValue): v is SymbolicAddress {
  return typeof v !== 'bigint';
}

/** "0x..." with no padding. */
export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** Text of an address value as the user wrote it, for messages. */
export function addressText(v: AddressValue): string {
  if (typeof v === 'bigint') return hex(v);
  if (v.offset === 0n) return v.symbol;
  return v.offset < 0n ? `${v.symbol}-${hex(-v.offset)}` : `${v.symbol}+${hex(v.offset)}`;
}

/** Parse "de ad be ef" / "deadbeef" (whitespace allowed between bytes). */
export function parseHexBytes(text: string): Uint8Array | undefined {
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(compact)) return undefined;
  // Whitespace may only separate whole bytes: "d ead" is rejected.
  for (const token of text.trim().split(/\s+/)) {
    if (token.length % 2 !== 0) return undefined;
  }
  const out = new Uint8Array(compact.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(compact.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** "de ad be ef" */
export function bytesToHex(bytes: ArrayLike<number>): string {
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i++) parts.push(bytes[i]!.toString(16).padStart(2, '0'));
  return parts.join(' ');
}

/** Sizes as the format writes them: 4096 → "4K". */
export function sizeText(bytes: number): string {
  if (bytes >= 1 << 30 && bytes % (1 << 30) === 0) return `${bytes / (1 << 30)}G`;
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)}M`;
  if (bytes >= 1 << 10 && bytes % (1 << 10) === 0) return `${bytes / (1 << 10)}K`;
  return `${bytes}`;
}
