// Text of walk traces (src/mmu/walk-trace.ts): used by `snpemu walk` and `--trace mmu/rmp`.

import type { AdWriteTrace, LevelTrace, RmpCheckTrace, WalkTrace } from '../mmu/walk-trace.ts';
import type { EntryFlags } from '../mmu/paging-bits.ts';
import { errorCodeBits } from '../scenario/result.ts';

const h = (v: number | bigint): string => `0x${v.toString(16)}`;
const ACCESS = ['read', 'write', 'fetch'];
const TABLE = ['final', 'entry read', 'A/D write'];
const REASON: Record<string, string> = { 'not-present': 'not present', reserved: 'a reserved bit', protection: 'a protection check', rmp: 'the RMP check' };

export function sizeName(bytes: number | null): string {
  if (bytes === null) return '-';
  return bytes === 1 << 30 ? '1G' : bytes === 2 << 20 ? '2M' : bytes === 4096 ? '4K' : `${bytes}B`;
}

export function flagText(f: EntryFlags, leaf: boolean): string {
  const names: string[] = [];
  if (f.P) names.push('P'); else names.push('!P');
  if (f.RW) names.push('RW');
  if (f.US) names.push('US');
  if (f.PWT) names.push('PWT');
  if (f.PCD) names.push('PCD');
  if (f.A) names.push('A');
  if (leaf && f.D) names.push('D');
  if (f.PS) names.push('PS');
  if (leaf && f.G) names.push('G');
  if (f.NX) names.push('NX');
  return names.join(' ');
}

export function levelLine(l: LevelTrace): string {
  const rsvd = l.reservedBits !== 0n ? ` RESERVED ${h(l.reservedBits)}` : '';
  return `${l.name.padEnd(5)}[${String(l.index).padStart(3)}] @ ${h(l.entryAddress).padEnd(10)} = ${h(l.value).padEnd(20)} ${flagText(l.flags, l.leaf)}${l.leaf ? ' (leaf)' : ''}${rsvd}`;
}

/** One RMP check; `brief` names the failing check and pfn only (the full why follows elsewhere). */
export function rmpLine(c: RmpCheckTrace, brief = false): string {
  const what = `${TABLE[c.table] ?? 'check'}${c.level > 0 ? ` (level ${c.level})` : ''}`;
  const head = `RMP ${ACCESS[c.access]} spa ${h(c.spa)} as ${sizeName(c.mapBytes)}, ${what}`;
  if (c.failure === null) return `${head}: pass`;
  return brief ? `${head}: FAIL ${c.failure.check} on pfn ${h(c.failure.pfn)}` : `${head}: FAIL ${c.failure.check}: ${c.failure.why}`;
}

export function adLine(a: AdWriteTrace): string {
  return `A/D write level ${a.level} entry @ ${h(a.entryAddress)}: ${h(a.before)} -> ${h(a.after)}`;
}

/** A compact one-line walk for --trace mmu. */
export function walkOneLine(t: WalkTrace): string {
  const path = t.levels.map((l) => `${l.name}=${h(l.value)}`).join(' ');
  const end = t.fault !== null
    ? `#PF ${h(t.fault.errorCode)} (${t.fault.reason}): ${t.fault.why}`
    : `pa ${h(t.physicalAddress ?? 0)} ${sizeName(t.pageSize)}`;
  return `walk ${t.accessName} ${h(BigInt.asUintN(64, t.linearAddress))} ${t.mode} cr3=${h(t.cr3)}: ${path} -> ${end}`;
}

/** The full multi-line walk for `snpemu walk`. */
export function walkReport(t: WalkTrace): string {
  const lines: string[] = [];
  lines.push(`${t.accessName} of ${h(BigInt.asUintN(64, t.linearAddress))}, ${t.mode} mode, CR3 ${h(t.cr3)}${t.paging ? '' : ' (paging off: linear = physical)'}`);
  for (const l of t.levels) lines.push(`  ${levelLine(l)}`);
  if (t.physicalAddress !== null) {
    const rights = t.writable === null ? '' : ` (${t.writable ? 'writable' : 'read-only'}, ${t.user ? 'user' : 'supervisor'}${t.executeDisable ? ', no-execute' : ''}${t.global ? ', global' : ''})`;
    lines.push(`  -> physical ${h(t.physicalAddress)}, ${sizeName(t.pageSize)} page${rights}, pfn ${h(Math.floor(t.physicalAddress / 4096))}`);
  }
  for (const a of t.adWrites) lines.push(`  would ${adLine(a)}`);
  if (t.rmpChecks.length === 0) lines.push('  RMP: no check (SNP off, a host read or fetch, or a paging fault first)');
  for (const c of t.rmpChecks) lines.push(`  ${rmpLine(c, true)}`);
  lines.push(t.fault === null
    ? '  result: the access would succeed'
    : `  result: #PF error code ${errorCodeBits(14, t.fault.errorCode)}, ${REASON[t.fault.reason] ?? t.fault.reason}${t.fault.level > 0 ? ` at level ${t.fault.level}` : ''}, CR2 ${h(BigInt.asUintN(64, t.fault.address))}\n  why: ${t.fault.why}`);
  return lines.join('\n');
}

/**
 * Keys of a walk trace that hold physical addresses or frame numbers. In JSON they are hex strings,
 * like the entry values and like every number that can exceed 2^53 in spec/scenario.md ("Result"):
 * an address reads as an address, and one JSON type serves a field whatever its size.
 */
const ADDRESS_KEYS = new Set(['cr3', 'entryAddress', 'physicalAddress', 'spa', 'pfn', 'targetPfn']);

/** JSON.stringify replacer for walk traces: bigints and address fields as 0x hex strings. */
export function walkJsonReplacer(key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return h(BigInt.asUintN(64, v));
  if (typeof v === 'number' && ADDRESS_KEYS.has(key)) return h(v);
  return v;
}
