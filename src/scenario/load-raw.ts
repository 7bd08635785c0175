// The bare-hardware sections: `cpu` and `paging` (kernel none), and `physical` (any kernel).
// spec/scenario.md, "cpu, paging (kernel none)".

import { at } from './errors.ts';
import type { Reader } from './reader.ts';
import {
  GPR_NAMES, PTE_FLAG_NAMES, type CpuSpec, type PagingMap, type PagingSpec, type PhysicalBytes, type PteFlagName,
} from './types.ts';

/** Defaults of spec/scenario.md: CR0 PG|WP|NE|ET|MP|PE, CR4 PAE|SMEP|SMAP, EFER LME|LMA|NXE|SCE. */
export const DEFAULT_CR0 = 0x80010033n;
export const DEFAULT_CR4 = 0x300020n;
export const DEFAULT_EFER = 0xd01n;

const CPU_KEYS = ['cpl', 'rip', ...GPR_NAMES, 'rflags', 'cr0', 'cr3', 'cr4', 'efer', 'fsbase', 'gsbase'];

export function readCpu(r: Reader, v: unknown, path: string): CpuSpec {
  const o = r.object(v, path, CPU_KEYS, ['rip']);
  const big = (key: string, dflt: bigint): bigint => (key in o ? r.bigInteger(o[key], at(path, key)) : dflt);
  const cpu: CpuSpec = {
    cpl: 'cpl' in o ? r.integer(o.cpl, at(path, 'cpl'), 0, 3) : 0,
    rip: big('rip', 0n),
    gprs: GPR_NAMES.map((name) => big(name, 0n)),
    rflags: big('rflags', 2n),
    cr0: big('cr0', DEFAULT_CR0),
    cr4: big('cr4', DEFAULT_CR4),
    efer: big('efer', DEFAULT_EFER),
    fsBase: big('fsbase', 0n),
    gsBase: big('gsbase', 0n),
  };
  if ('cr3' in o) cpu.cr3 = r.bigInteger(o.cr3, at(path, 'cr3'));
  return cpu;
}

function readFlags(r: Reader, v: unknown, path: string): PteFlagName[] {
  const list = r.array(v, path);
  const flags: PteFlagName[] = [];
  list.forEach((f, i) => {
    const name = r.choice(f, at(path, i), PTE_FLAG_NAMES);
    if (flags.includes(name)) r.fail(at(path, i), `flag "${name}" is given twice`);
    flags.push(name);
  });
  return flags;
}

/** A 64-bit canonical virtual address, returned as its low 48 bits (the MMU's linear address). */
function readVirtual(r: Reader, v: unknown, path: string, align: number, what: string): number {
  const n = r.bigInteger(v, path);
  const top = n >> 47n;
  if (top !== 0n && top !== 0x1ffffn) r.fail(path, `expected a canonical 48-bit virtual address, got 0x${n.toString(16)}`);
  const la = Number(n & 0xffffffffffffn);
  if (la % align !== 0) r.fail(path, `${what} must be aligned to the map size (0x${align.toString(16)}), got 0x${n.toString(16)}`);
  return la;
}

const LEVELS_FOR_SIZE: Record<number, readonly ('pml4e' | 'pdpte' | 'pde')[]> = {
  4096: ['pml4e', 'pdpte', 'pde'],
  [2 << 20]: ['pml4e', 'pdpte'],
  [1 << 30]: ['pml4e'],
};

function readMap(r: Reader, v: unknown, path: string): PagingMap {
  const o = r.object(v, path, ['va', 'pa', 'size', 'flags', 'levels'], ['va', 'pa', 'size', 'flags']);
  const sizeBytes = r.pageSize(o.size, at(path, 'size'));
  const map: PagingMap = {
    va: readVirtual(r, o.va, at(path, 'va'), sizeBytes, 'va'),
    pa: r.aligned(o.pa, at(path, 'pa'), sizeBytes, 'pa (to the map size)'),
    sizeBytes,
    flags: readFlags(r, o.flags, at(path, 'flags')),
    levels: {},
  };
  if ('levels' in o) {
    const lp = at(path, 'levels');
    const allowed = LEVELS_FOR_SIZE[sizeBytes]!;
    const lo = r.object(o.levels, lp, allowed);
    for (const level of allowed) {
      if (level in lo) {
        const entry = r.object(lo[level], at(lp, level), ['flags'], ['flags']);
        map.levels[level] = readFlags(r, entry.flags, at(at(lp, level), 'flags'));
      }
    }
  }
  return map;
}

export function readPaging(r: Reader, v: unknown, path: string): PagingSpec {
  const o = r.object(v, path, ['maps', 'entries']);
  const paging: PagingSpec = { maps: [], entries: [] };
  if ('maps' in o) {
    paging.maps = r.array(o.maps, at(path, 'maps')).map((m, i) => readMap(r, m, at(at(path, 'maps'), i)));
  }
  if ('entries' in o) {
    paging.entries = r.array(o.entries, at(path, 'entries')).map((e, i) => {
      const p = at(at(path, 'entries'), i);
      const eo = r.object(e, p, ['pa', 'u64'], ['pa', 'u64']);
      return { pa: r.aligned(eo.pa, at(p, 'pa'), 8, 'an entry address'), value: r.bigInteger(eo.u64, at(p, 'u64')) };
    });
  }
  return paging;
}

export function readPhysical(r: Reader, v: unknown, path: string): PhysicalBytes[] {
  return r.array(v, path).map((item, i) => {
    const p = at(path, i);
    const o = r.object(item, p, ['pa', 'hex'], ['pa', 'hex']);
    return { pa: r.address(o.pa, at(p, 'pa')), bytes: r.hexBytes(o.hex, at(p, 'hex')) };
  });
}
