// The `process` section (kernel v7 / mainline): the regions the kernel maps and populates before
// the first instruction, the entry point, initial registers and stdin (spec/scenario.md, "process").

import { AssemblerError, assembleFlat } from './assemble.ts';
import { at } from './errors.ts';
import type { Reader } from './reader.ts';
import { GPR_NAMES, type ProcessSpec, type RegName, type RegionKind, type RegionSpec } from './types.ts';
import type { AddressValue } from './numbers.ts';

const REGION_KEYS = ['name', 'at', 'size', 'prot', 'page', 'kind', 'pa', 'hex', 'asm'] as const;
const REGION_KINDS: readonly RegionKind[] = ['anon', 'thp', 'hugetlb', 'shared-file', 'private-file'];
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The x86-64 Linux user address space ends at 2^47 (4-level paging, TASK_SIZE_MAX). */
const USER_TOP = 2 ** 47;
/** Registers a process may start with: the GPRs, RFLAGS and the FS/GS bases. */
const PROCESS_REGS: readonly RegName[] = [...GPR_NAMES, 'rflags', 'fsbase', 'gsbase'];

/** Region names, gathered first so that every section can check its symbols. */
export function regionNames(r: Reader, process: unknown, path: string): Set<string> {
  const names = new Set<string>();
  const o = r.object(process, path, ['regions', 'entry', 'regs', 'stdin'], ['regions']);
  const regions = r.array(o.regions, at(path, 'regions'));
  regions.forEach((reg, i) => {
    const p = at(at(path, 'regions'), i);
    const ro = r.object(reg, p, REGION_KEYS, ['name', 'at', 'size']);
    const name = r.string(ro.name, at(p, 'name'));
    if (!NAME.test(name)) r.fail(at(p, 'name'), `expected a name made of letters, digits and _ (not starting with a digit), got "${name}"`);
    if (names.has(name)) r.fail(at(p, 'name'), `region name "${name}" is used twice`);
    names.add(name);
  });
  return names;
}

function readProt(r: Reader, v: unknown, path: string): RegionSpec['prot'] {
  const s = r.string(v, path);
  // "r-x" (three positions) or a subset of the letters ("rx").
  const positional = /^[r-][w-][x-]$/.test(s);
  const letters = /^r?w?x?$/.test(s);
  if (!positional && !letters) r.fail(path, `expected a protection like "rw-" or "r-x", got "${s}"`);
  return { read: s.includes('r'), write: s.includes('w'), exec: s.includes('x') };
}

function readRegion(r: Reader, v: unknown, path: string): RegionSpec {
  const o = r.object(v, path, REGION_KEYS, ['name', 'at', 'size']);
  const name = o.name as string;
  const pageBytes = 'page' in o ? r.pageSize(o.page, at(path, 'page')) : 4096;
  const pageText = pageBytes === 4096 ? '4K' : pageBytes === 2 << 20 ? '2M' : '1G';
  const kind: RegionKind = 'kind' in o ? r.choice(o.kind, at(path, 'kind'), REGION_KINDS) : 'anon';
  // Linux: THP is PMD-sized only; hugetlb pages are 2M or 1G.
  if (kind === 'thp' && pageBytes !== 2 << 20) r.fail(at(path, 'page'), `a "thp" region is mapped by a PMD: expected page "2M", got "${pageText}"`);
  if (kind === 'hugetlb' && pageBytes === 4096) r.fail(at(path, 'page'), 'a "hugetlb" region needs page "2M" or "1G"');
  const va = r.aligned(o.at, at(path, 'at'), pageBytes, `with page "${pageText}" the address`, 2 ** 48);
  const size = r.integer(o.size, at(path, 'size'), 1, USER_TOP);
  if (size % pageBytes !== 0) r.fail(at(path, 'size'), `with page "${pageText}" the size must be a multiple of ${pageText}, got 0x${size.toString(16)}`);
  if (va + size > USER_TOP) r.fail(at(path, 'at'), `the region must end below 0x${USER_TOP.toString(16)} (the user address space), it ends at 0x${(va + size).toString(16)}`);
  const prot = 'prot' in o ? readProt(r, o.prot, at(path, 'prot')) : { read: true, write: true, exec: false };
  const region: RegionSpec = { name, at: va, size, prot, pageBytes, kind };
  if ('pa' in o) region.pa = r.aligned(o.pa, at(path, 'pa'), pageBytes, `with page "${pageText}" the physical address`);
  if ('hex' in o && 'asm' in o) r.fail(path, 'give either "hex" or "asm", not both');
  if ('hex' in o) region.bytes = r.hexBytes(o.hex, at(path, 'hex'));
  if ('asm' in o) {
    const text = r.string(o.asm, at(path, 'asm'));
    try {
      region.bytes = assembleFlat(text, va);
    } catch (e) {
      if (e instanceof AssemblerError) r.fail(at(path, 'asm'), e.message);
      throw e;
    }
  }
  if (region.bytes !== undefined && region.bytes.length > size) {
    r.fail(at(path, 'hex' in o ? 'hex' : 'asm'), `${region.bytes.length} bytes do not fit in the region's ${size} bytes`);
  }
  return region;
}

export function readProcess(r: Reader, v: unknown, path: string): ProcessSpec {
  const o = r.object(v, path, ['regions', 'entry', 'regs', 'stdin'], ['regions']);
  const regionsPath = at(path, 'regions');
  const list = r.array(o.regions, regionsPath);
  if (list.length === 0) r.fail(regionsPath, 'expected at least one region');
  const regions = list.map((reg, i) => readRegion(r, reg, at(regionsPath, i)));
  // No two regions may overlap, in virtual or in pinned physical space.
  for (let i = 0; i < regions.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = regions[i]!;
      const b = regions[j]!;
      if (a.at < b.at + b.size && b.at < a.at + a.size) {
        r.fail(at(at(regionsPath, i), 'at'), `region "${a.name}" overlaps region "${b.name}"`);
      }
      if (a.pa !== undefined && b.pa !== undefined && a.pa < b.pa + b.size && b.pa < a.pa + a.size) {
        r.fail(at(at(regionsPath, i), 'pa'), `region "${a.name}" shares physical frames with region "${b.name}"`);
      }
    }
  }
  let entry: AddressValue;
  if ('entry' in o) {
    entry = r.address(o.entry, at(path, 'entry'));
  } else {
    const exec = regions.find((reg) => reg.prot.exec);
    if (exec === undefined) r.fail(at(path, 'entry'), 'missing, and no region is executable to start in');
    entry = { symbol: exec.name, offset: 0n };
  }
  const regs: Partial<Record<RegName, AddressValue>> = {};
  if ('regs' in o) {
    const ro = r.object(o.regs, at(path, 'regs'), PROCESS_REGS);
    for (const [name, value] of Object.entries(ro)) regs[name as RegName] = r.address(value, at(at(path, 'regs'), name));
  }
  const stdin = 'stdin' in o ? r.string(o.stdin, at(path, 'stdin')) : '';
  return { regions, entry, regs, stdin };
}
