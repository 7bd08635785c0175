// Guest scenarios: spec/scenario.md format 1 with a `guest` section instead of `process`/`cpu`
// (docs/guest.md documents every key). This file parses and validates; scenario-run.ts runs.
// Every complaint is an InputError naming the file, the JSON path and what was expected; nothing
// runs when the file has a problem.

import { InputError, at } from '../scenario/errors.ts';
import { Reader, type JsonObject } from '../scenario/reader.ts';
import { PAGE_STATES, type PageStateName } from '../rmp/states.ts';
import { RmpTable } from '../rmp/table.ts';
import { PTE_BITS, type PteBitName } from '../mmu/paging-bits.ts';
import { C_BIT_MASK, SIZE_1G, SIZE_2M, SIZE_4K } from './constants.ts';
import type { GuestMapping } from './guest-tables.ts';
import type { GuestRegionConfig } from './guest-machine.ts';

export type GuestStep =
  | { kind: 'read'; va: number; size: number }
  | { kind: 'write'; va: number; size: number; value: bigint }
  | { kind: 'fetch'; va: number }
  | { kind: 'pvalidate'; va: bigint; size: number; validate: boolean }
  | { kind: 'rmpadjust'; va: bigint; size: number; vmpl: number; perms: number; vmsa: boolean }
  | { kind: 'vmpl'; vmpl: number }
  | { kind: 'cpl'; cpl: number };

export type GuestAction =
  | { kind: 'convert'; gpa: number; size: number; toPrivate: boolean }
  | { kind: 'psmash'; pa: number }
  | { kind: 'rmpupdate'; pa: number; state: PageStateName; asid?: number; gpa?: number; size?: '4K' | '2M' }
  | { kind: 'remap'; gpa: number; to: number; size: number }
  | { kind: 'zap'; gpa: number; size: number }
  | { kind: 'busy'; pa: number; accesses: number; instructions: number };

export interface GuestEvent {
  when: { step: number } | { exit: number };
  action: GuestAction;
}

export interface ExpectExit {
  exitCode?: number;
  exitInfo1?: bigint;
  exitInfo2?: bigint;
}

export interface ExpectFault {
  vector?: number;
  errorCode?: number;
  address?: bigint;
}

export interface ExpectRmp {
  pa: number;
  state?: string;
  validated?: boolean;
  size?: '4K' | '2M';
  vmsa?: boolean;
  vmpl?: number[];
}

export const GUEST_OUTCOMES = ['done', 'halt', 'exception', 'livelock', 'limit', 'memory-fault', 'vmrun-failed'] as const;
export type GuestOutcomeKind = (typeof GUEST_OUTCOMES)[number];

export const HV_ACTIONS = [
  'map', 'spurious', 'memory-fault', 'warn', 'rmp-spurious', 'psmash', 'zap', 'convert-shared',
  'convert-private', 'prepare', 'psmash-failed', 'vc-pvalidate', 'rmpupdate', 'rmpupdate-failed', 'remap', 'busy',
] as const;

export interface GuestExpect {
  outcome?: GuestOutcomeKind;
  exits?: ExpectExit[];
  faults?: ExpectFault[];
  hv?: string[];
  steps?: ({ value?: bigint; eax?: number; cf?: boolean } | null)[];
  rmp?: ExpectRmp[];
  memory?: { pa: number; hex: Uint8Array }[];
  /** Final guest registers (code mode). */
  regs?: Map<number, bigint>;
  rip?: bigint;
}

export const REG_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

export interface GuestScenario {
  file: string;
  name: string;
  notes?: string;
  memoryBytes: number;
  snpEnabled: boolean;
  asid: number;
  snpActive: boolean;
  vmpl: number;
  cpl: number;
  regions: GuestRegionConfig[];
  paging?: { maps: GuestMapping[]; tablesGpa: number };
  capAtRmpLevel: boolean;
  onMemoryFault: 'convert' | 'stop';
  onVc: 'stop' | 'pvalidate';
  populate: boolean;
  vmsa?: { pa: number; gpa?: number };
  rmp: { pa: number; state: PageStateName; asid?: number; gpa?: number; size?: '4K' | '2M'; vmsa?: boolean; vmpl?: [number, number, number, number] }[];
  nested: { gpa: number; pa: number; size: number; flags?: bigint }[];
  steps: GuestStep[];
  /** Guest code run through the CPU (instead of steps): bytes at GPAs, then the registers. */
  code?: { bytes: { gpa: number; hex: Uint8Array }[]; rip: bigint; regs: Map<number, bigint>; rflags?: bigint; maxInstructions: number };
  events: GuestEvent[];
  maxExits: number;
  expect: GuestExpect;
}

const TOP = ['format', 'name', 'notes', 'machine', 'guest', 'rmp', 'nested', 'events', 'run', 'expect'];
const ADDR_MAX = 2 ** 48 - 1;

function sizeName(n: number): '4K' | '2M' {
  return n === SIZE_2M ? '2M' : '4K';
}

/** Parse a guest scenario from its JSON text (or an already-parsed value). */
export function parseGuestScenario(input: string | unknown, file = '<inline>'): GuestScenario {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch (e) {
      throw new InputError(file, '', `malformed JSON: ${(e as Error).message}`);
    }
  }
  const r = new Reader(file, new Set());
  const o = r.object(doc, '', TOP, ['format', 'name', 'guest']);
  if (o.format !== 1) r.fail('format', `expected 1, got ${r.describe(o.format)}`);
  const name = r.string(o.name, 'name');
  const notes = o.notes === undefined ? undefined : r.string(o.notes, 'notes');

  let memoryBytes = 64 * 1024 * 1024;
  let snpEnabled = true;
  if (o.machine !== undefined) {
    const m = r.object(o.machine, 'machine', ['memory', 'snp']);
    if (m.memory !== undefined) {
      memoryBytes = r.integer(m.memory, 'machine.memory', 16 * 1024 * 1024, 2 ** 40);
      if (memoryBytes % SIZE_2M !== 0) r.fail('machine.memory', 'must be a multiple of 2M');
    }
    if (m.snp !== undefined) snpEnabled = r.bool(m.snp, 'machine.snp');
  }

  const g = r.object(o.guest, 'guest', ['asid', 'snp', 'vmpl', 'cpl', 'memory', 'paging', 'hypervisor', 'onVc', 'vmsa', 'steps', 'code', 'cpu'], ['memory']);
  const asid = g.asid === undefined ? 1 : r.integer(g.asid, 'guest.asid', 1, 1023);
  const snpActive = g.snp === undefined ? true : r.bool(g.snp, 'guest.snp');
  const vmpl = g.vmpl === undefined ? 0 : r.integer(g.vmpl, 'guest.vmpl', 0, 3);
  const cpl = g.cpl === undefined ? 0 : r.integer(g.cpl, 'guest.cpl', 0, 3);
  const regions = r.array(g.memory, 'guest.memory').map((v, i) => parseRegion(r, v, at('guest.memory', i), snpActive));
  if (regions.length === 0) r.fail('guest.memory', 'needs at least one region');

  let paging: GuestScenario['paging'];
  if (g.paging !== undefined) {
    const p = r.object(g.paging, 'guest.paging', ['tablesAt', 'maps'], ['maps']);
    const maps = r.array(p.maps, 'guest.paging.maps').map((v, i) => parseMap(r, v, at('guest.paging.maps', i), snpActive));
    let tablesGpa: number;
    if (p.tablesAt !== undefined) tablesGpa = r.aligned(p.tablesAt, 'guest.paging.tablesAt', SIZE_4K, 'tablesAt', ADDR_MAX);
    else {
      const first = regions[0]!;
      tablesGpa = first.gpa + first.size - 16 * SIZE_4K;
      if (first.size < 16 * SIZE_4K) r.fail('guest.paging', 'the first region is smaller than the 16 table pages; give tablesAt');
    }
    paging = { maps, tablesGpa };
  }
  checkLayout(r, regions, memoryBytes, snpActive, paging?.tablesGpa);
  if (snpActive && !snpEnabled) {
    r.fail('machine.snp', 'false, but the guest is SNP-active (guest.snp defaults to true): SNP-active guests and their RMP checks need SYSCFG.SNP_EN = 1 (spec/rmp.md §1.1); give "guest": { "snp": false } for a guest that is not SNP-active');
  }

  let capAtRmpLevel = true;
  let onMemoryFault: 'convert' | 'stop' = 'convert';
  let populate = true;
  if (g.hypervisor !== undefined) {
    const h = r.object(g.hypervisor, 'guest.hypervisor', ['capAtRmpLevel', 'onMemoryFault', 'populate']);
    if (h.capAtRmpLevel !== undefined) capAtRmpLevel = r.bool(h.capAtRmpLevel, 'guest.hypervisor.capAtRmpLevel');
    if (h.onMemoryFault !== undefined) onMemoryFault = r.choice(h.onMemoryFault, 'guest.hypervisor.onMemoryFault', ['convert', 'stop'] as const);
    if (h.populate !== undefined) populate = r.bool(h.populate, 'guest.hypervisor.populate');
  }
  const onVc = g.onVc === undefined ? 'stop' : r.choice(g.onVc, 'guest.onVc', ['stop', 'pvalidate'] as const);
  let vmsa: GuestScenario['vmsa'];
  if (g.vmsa !== undefined) {
    const v = r.object(g.vmsa, 'guest.vmsa', ['pa', 'gpa'], ['pa']);
    vmsa = { pa: r.aligned(v.pa, 'guest.vmsa.pa', SIZE_4K, 'the VMSA page'), gpa: v.gpa === undefined ? undefined : r.aligned(v.gpa, 'guest.vmsa.gpa', SIZE_4K, 'the VMSA GPA', ADDR_MAX) };
  }
  const steps = g.steps === undefined ? [] : r.array(g.steps, 'guest.steps').map((v, i) => parseStep(r, v, at('guest.steps', i)));
  let code: GuestScenario['code'];
  if (g.code !== undefined || g.cpu !== undefined) {
    if (g.steps !== undefined) r.fail('guest.steps', 'give either steps or code/cpu, not both');
    if (g.code === undefined || g.cpu === undefined) r.fail(g.code === undefined ? 'guest.code' : 'guest.cpu', 'guest code needs both `code` (bytes) and `cpu` (at least rip)');
    const bytes = r.array(g.code, 'guest.code').map((v, i) => {
      const p = at('guest.code', i);
      const c = r.object(v, p, ['gpa', 'hex'], ['gpa', 'hex']);
      return { gpa: r.integer(c.gpa, at(p, 'gpa'), 0, ADDR_MAX), hex: r.hexBytes(c.hex, at(p, 'hex')) };
    });
    const c = r.object(g.cpu, 'guest.cpu', ['rip', 'rflags', 'maxInstructions', ...REG_NAMES], ['rip']);
    const regs = new Map<number, bigint>();
    REG_NAMES.forEach((n, i) => {
      if (c[n] !== undefined) regs.set(i, r.bigInteger(c[n], at('guest.cpu', n)));
    });
    bytes.forEach((b, i) => {
      // The runner writes the bytes through the guest's backing (GuestRun.runCode).
      const inside = regions.some((g) => b.gpa >= g.gpa && b.gpa + b.hex.length <= g.gpa + g.size);
      if (!inside) r.fail(at(at('guest.code', i), 'gpa'), `the bytes ${range(b.gpa, b.gpa + b.hex.length)} must lie inside one guest.memory region`);
    });
    code = {
      bytes, regs, rip: r.bigInteger(c.rip, 'guest.cpu.rip'),
      rflags: c.rflags === undefined ? undefined : r.bigInteger(c.rflags, 'guest.cpu.rflags'),
      maxInstructions: c.maxInstructions === undefined ? 100000 : r.integer(c.maxInstructions, 'guest.cpu.maxInstructions', 1, 100000000),
    };
  } else if (g.steps === undefined) {
    r.fail('guest', 'needs `steps`, or `code` and `cpu`');
  }

  const rmp = o.rmp === undefined ? [] : r.array(o.rmp, 'rmp').map((v, i) => {
    const path = at('rmp', i);
    const e = r.object(v, path, ['pa', 'state', 'asid', 'gpa', 'size', 'vmsa', 'vmpl'], ['pa', 'state']);
    return {
      pa: r.aligned(e.pa, at(path, 'pa'), SIZE_4K, 'an RMP page'),
      state: r.choice(e.state, at(path, 'state'), PAGE_STATES),
      asid: e.asid === undefined ? undefined : r.integer(e.asid, at(path, 'asid'), 0, 1023),
      gpa: e.gpa === undefined ? undefined : r.aligned(e.gpa, at(path, 'gpa'), SIZE_4K, 'gpa', ADDR_MAX),
      size: e.size === undefined ? undefined : sizeName(r.pageSize(e.size, at(path, 'size'), [SIZE_4K, SIZE_2M])),
      vmsa: e.vmsa === undefined ? undefined : r.bool(e.vmsa, at(path, 'vmsa')),
      vmpl: e.vmpl === undefined ? undefined : parsePerms(r, e.vmpl, at(path, 'vmpl')),
    };
  });

  const nested = o.nested === undefined ? [] : r.array(o.nested, 'nested').map((v, i) => {
    const path = at('nested', i);
    const n = r.object(v, path, ['gpa', 'pa', 'size', 'flags'], ['gpa', 'pa', 'size']);
    const size = r.pageSize(n.size, at(path, 'size'));
    return {
      gpa: r.aligned(n.gpa, at(path, 'gpa'), size, 'a nested mapping GPA', ADDR_MAX),
      pa: r.aligned(n.pa, at(path, 'pa'), size, 'a nested mapping SPA'),
      size,
      flags: n.flags === undefined ? undefined : parseNestedFlags(r, n.flags, at(path, 'flags')),
    };
  });

  const events = o.events === undefined ? [] : r.array(o.events, 'events').map((v, i) => parseEvent(r, v, at('events', i)));

  let maxExits = 64;
  if (o.run !== undefined) {
    const run = r.object(o.run, 'run', ['maxExits']);
    if (run.maxExits !== undefined) maxExits = r.integer(run.maxExits, 'run.maxExits', 1, 100000);
  }

  const expect = o.expect === undefined ? {} : parseExpect(r, o.expect, 'expect');
  return {
    file, name, notes, memoryBytes, snpEnabled, asid, snpActive, vmpl, cpl, regions, paging, capAtRmpLevel,
    onMemoryFault, onVc, populate, vmsa, rmp, nested, steps, code, events, maxExits, expect,
  };
}

const hexOf = (v: number): string => `0x${v.toString(16)}`;
const range = (a: number, b: number): string => `[${hexOf(a)}, ${hexOf(b)})`;

/**
 * Checks that need the whole `guest.memory` list and the machine: GuestMachine and KvmVm would
 * otherwise stop on them with a RangeError (an "internal error" with no JSON path), or run a guest
 * whose frames alias each other (docs/guest.md "Host memory layout").
 */
function checkLayout(r: Reader, regions: GuestRegionConfig[], memoryBytes: number, snpActive: boolean, tablesGpa: number | undefined): void {
  // Guest-physical ranges: KVM memslots do not overlap (KVM_SET_USER_MEMORY_REGION rejects it with EEXIST).
  for (let j = 1; j < regions.length; j++) {
    const b = regions[j]!;
    for (let i = 0; i < j; i++) {
      const a = regions[i]!;
      if (b.gpa < a.gpa + a.size && a.gpa < b.gpa + b.size) {
        r.fail(at('guest.memory', j), `GPA range ${range(b.gpa, b.gpa + b.size)} overlaps guest.memory[${i}] (GPA ${range(a.gpa, a.gpa + a.size)}); guest regions must not overlap`);
      }
    }
  }
  // Pinned host backings: inside RAM, below the RMP table's reserved 2M blocks at the top of RAM
  // (the host pool and the table live there), and not shared between regions: one host frame
  // backing two GPAs breaks the RMP's reverse map (spec/rmp.md §3.2, the GPA check). A guest that
  // is not SNP-active uses only its shared backing, so its own `pa` may name the same frames.
  const rmp = RmpTable.defaultPlacement(memoryBytes);
  const reservedStart = Math.floor(rmp.base / SIZE_2M) * SIZE_2M;
  const pins: { path: string; region: number; start: number; end: number }[] = [];
  regions.forEach((g, i) => {
    for (const key of ['pa', 'sharedPa'] as const) {
      const start = g[key];
      if (start === undefined) continue;
      const path = at(at('guest.memory', i), key);
      const end = start + g.size;
      if (end > memoryBytes) {
        r.fail(path, `the backing ${range(start, end)} lies beyond RAM (machine.memory is ${hexOf(memoryBytes)} bytes); it must end at or below ${hexOf(reservedStart)}, or enlarge machine.memory`);
      }
      if (end > reservedStart) {
        r.fail(path, `the backing ${range(start, end)} reaches the 2M blocks reserved for the RMP table at the top of RAM (${range(reservedStart, memoryBytes)}); it must end at or below ${hexOf(reservedStart)}, or enlarge machine.memory`);
      }
      for (const p of pins) {
        if (!snpActive && p.region === i) continue;
        if (start < p.end && p.start < end) {
          r.fail(path, `the backing ${range(start, end)} overlaps the backing of ${p.path} (${range(p.start, p.end)}); one host frame cannot back two guest pages`);
        }
      }
      pins.push({ path, region: i, start, end });
    }
  });
  // Backings without `pa`/`sharedPa` come from the host pool [RAM/2, the RMP's blocks), which also
  // holds the nested tables: a first bound here, the allocator's own check at build time.
  const poolBytes = reservedStart - Math.floor(memoryBytes / 2 / SIZE_2M) * SIZE_2M;
  const autoBytes = regions.reduce((n, g) => n + (g.pa === undefined ? g.size : 0) + (g.sharedPa === undefined ? g.size : 0), 0);
  if (autoBytes > poolBytes) {
    r.fail('guest.memory', `the auto-placed backings (every region without \`pa\` or \`sharedPa\`) need ${hexOf(autoBytes)} bytes, but the host pool ${range(reservedStart - poolBytes, reservedStart)} holds ${hexOf(poolBytes)}; give pa/sharedPa below ${hexOf(reservedStart - poolBytes)} or enlarge machine.memory`);
  }
  // The 16 guest page-table pages must be guest memory (GuestMachine places the tables there).
  if (tablesGpa !== undefined) {
    for (let gpa = tablesGpa; gpa < tablesGpa + 16 * SIZE_4K; gpa += SIZE_4K) {
      if (!regions.some((g) => gpa >= g.gpa && gpa < g.gpa + g.size)) {
        r.fail('guest.paging.tablesAt', `the 16 guest page-table pages ${range(tablesGpa, tablesGpa + 16 * SIZE_4K)} must lie inside guest.memory regions; GPA ${hexOf(gpa)} is outside every region`);
      }
    }
  }
}

function parsePerms(r: Reader, v: unknown, path: string): [number, number, number, number] {
  const list = r.array(v, path);
  if (list.length !== 4) r.fail(path, `expected 4 permission masks (VMPL0..3), got ${list.length}`);
  return list.map((m, i) => r.integer(m, at(path, i), 0, 0x1f)) as [number, number, number, number];
}

function parseRegion(r: Reader, v: unknown, path: string, snpActive: boolean): GuestRegionConfig {
  const o = r.object(v, path, ['gpa', 'size', 'pa', 'sharedPa', 'page', 'attr', 'rmp', 'rmpSize', 'vmpl'], ['gpa', 'size']);
  const hostPageSize = o.page === undefined ? SIZE_4K : r.pageSize(o.page, at(path, 'page'));
  const gpa = r.aligned(o.gpa, at(path, 'gpa'), SIZE_4K, 'a region GPA', ADDR_MAX);
  const size = r.aligned(o.size, at(path, 'size'), SIZE_4K, 'a region size', ADDR_MAX);
  if (size === 0) r.fail(at(path, 'size'), 'must not be 0');
  const attr = o.attr === undefined ? (snpActive ? 'private' : 'shared') : r.choice(o.attr, at(path, 'attr'), ['private', 'shared'] as const);
  if (!snpActive && attr === 'private') r.fail(at(path, 'attr'), 'a guest that is not SNP-active has no private memory');
  const defaultState: PageStateName = snpActive && attr === 'private' ? 'guest-valid' : 'hypervisor';
  const rmpState = o.rmp === undefined ? defaultState : r.choice(o.rmp, at(path, 'rmp'), ['hypervisor', 'guest-invalid', 'guest-valid', 'pre-guest'] as const);
  const rmpSize = o.rmpSize === undefined ? SIZE_4K : r.pageSize(o.rmpSize, at(path, 'rmpSize'), [SIZE_4K, SIZE_2M]);
  const pa = o.pa === undefined ? undefined : r.aligned(o.pa, at(path, 'pa'), Math.min(hostPageSize, rmpSize === SIZE_2M ? SIZE_2M : hostPageSize), 'pa');
  if (rmpSize === SIZE_2M && rmpState !== 'hypervisor') {
    // A 2M RMP entry covers a 2M-aligned 2M frame range mapped at a 2M-aligned GPA (spec/rmp.md §1.4).
    if (gpa % SIZE_2M !== 0) r.fail(at(path, 'gpa'), `rmpSize "2M" needs a 2M-aligned GPA, got 0x${gpa.toString(16)}`);
    if (size % SIZE_2M !== 0) r.fail(at(path, 'size'), `rmpSize "2M" needs a size that is a multiple of 2M, got 0x${size.toString(16)}`);
    if (pa !== undefined && pa % SIZE_2M !== 0) r.fail(at(path, 'pa'), `rmpSize "2M" needs a 2M-aligned backing, got 0x${pa.toString(16)}`);
  }
  return {
    gpa, size, hostPageSize, private: attr === 'private', rmpState, rmpSize, pa,
    sharedPa: o.sharedPa === undefined ? undefined : r.aligned(o.sharedPa, at(path, 'sharedPa'), SIZE_4K, 'sharedPa'),
    vmplPerms: o.vmpl === undefined ? undefined : parsePerms(r, o.vmpl, at(path, 'vmpl')),
  };
}

const PTE_FLAGS: readonly PteBitName[] = ['RW', 'US', 'PWT', 'PCD', 'A', 'D', 'G', 'NX'];

function parseMap(r: Reader, v: unknown, path: string, snpActive: boolean): GuestMapping {
  const o = r.object(v, path, ['va', 'gpa', 'size', 'flags', 'c'], ['va', 'gpa']);
  const size = o.size === undefined ? SIZE_4K : r.pageSize(o.size, at(path, 'size'));
  const va = r.aligned(o.va, at(path, 'va'), size, 'va', 2 ** 47 - 1);
  const gpa = r.aligned(o.gpa, at(path, 'gpa'), size, 'gpa', ADDR_MAX);
  let flags = PTE_BITS.RW;
  if (o.flags !== undefined) {
    flags = 0n;
    r.array(o.flags, at(path, 'flags')).forEach((f, i) => {
      flags |= PTE_BITS[r.choice(f, at(at(path, 'flags'), i), PTE_FLAGS)];
    });
  }
  const c = o.c === undefined ? snpActive : r.bool(o.c, at(path, 'c'));
  if (c) flags |= C_BIT_MASK;
  return { va, gpa, size, flags };
}

const NESTED_FLAGS: readonly PteBitName[] = ['P', 'RW', 'US', 'PWT', 'PCD', 'A', 'D', 'G', 'NX'];

/**
 * A nested leaf's flag bits: the entry's low bits as an integer (0x7 = P|RW|US), or a list of names
 * as `paging.maps[].flags` takes them (here P is not implied: a nested entry can be not-present).
 */
function parseNestedFlags(r: Reader, v: unknown, path: string): bigint {
  if (!Array.isArray(v)) {
    const integer = (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(v.trim()));
    if (!integer) r.fail(path, `expected the entry's flag bits as an integer ("0x7" = P|RW|US) or a list of names from ${NESTED_FLAGS.join(', ')}, got ${r.describe(v)}`);
    return r.bigInteger(v, path);
  }
  let flags = 0n;
  v.forEach((f, i) => {
    flags |= PTE_BITS[r.choice(f, at(path, i), NESTED_FLAGS)];
  });
  return flags;
}

function parseStep(r: Reader, v: unknown, path: string): GuestStep {
  const o = r.object(v, path, ['read', 'write', 'fetch', 'size', 'value', 'pvalidate', 'rmpadjust', 'vmpl', 'cpl']);
  const kind = r.oneOf(o, path, ['read', 'write', 'fetch', 'pvalidate', 'rmpadjust', 'vmpl', 'cpl']);
  const accessSize = (): number => {
    if (o.size === undefined) return 1;
    const n = r.integer(o.size, at(path, 'size'), 1, 8);
    if (![1, 2, 4, 8].includes(n)) r.fail(at(path, 'size'), `expected 1, 2, 4 or 8, got ${n}`);
    return n;
  };
  switch (kind) {
    case 'read':
      return { kind, va: r.integer(o.read, at(path, 'read'), 0, ADDR_MAX), size: accessSize() };
    case 'write': {
      const size = accessSize();
      const value = o.value === undefined ? 0n : r.bigInteger(o.value, at(path, 'value'), 0n, (1n << BigInt(8 * size)) - 1n);
      return { kind, va: r.integer(o.write, at(path, 'write'), 0, ADDR_MAX), size, value };
    }
    case 'fetch':
      return { kind, va: r.integer(o.fetch, at(path, 'fetch'), 0, ADDR_MAX) };
    case 'pvalidate': {
      const p = r.object(o.pvalidate, at(path, 'pvalidate'), ['va', 'size', 'validate'], ['va']);
      return {
        kind, va: r.bigInteger(p.va, at(at(path, 'pvalidate'), 'va')),
        size: p.size === undefined ? 0 : r.pageSize(p.size, at(at(path, 'pvalidate'), 'size'), [SIZE_4K, SIZE_2M]) === SIZE_2M ? 1 : 0,
        validate: p.validate === undefined ? true : r.bool(p.validate, at(at(path, 'pvalidate'), 'validate')),
      };
    }
    case 'rmpadjust': {
      const p = r.object(o.rmpadjust, at(path, 'rmpadjust'), ['va', 'size', 'vmpl', 'perms', 'vmsa'], ['va', 'vmpl']);
      const pp = at(path, 'rmpadjust');
      return {
        kind, va: r.bigInteger(p.va, at(pp, 'va')),
        size: p.size === undefined ? 0 : r.pageSize(p.size, at(pp, 'size'), [SIZE_4K, SIZE_2M]) === SIZE_2M ? 1 : 0,
        vmpl: r.integer(p.vmpl, at(pp, 'vmpl'), 0, 255),
        perms: p.perms === undefined ? 0 : r.integer(p.perms, at(pp, 'perms'), 0, 255),
        vmsa: p.vmsa === undefined ? false : r.bool(p.vmsa, at(pp, 'vmsa')),
      };
    }
    case 'vmpl':
      return { kind, vmpl: r.integer(o.vmpl, at(path, 'vmpl'), 0, 3) };
    default:
      return { kind: 'cpl', cpl: r.integer(o.cpl, at(path, 'cpl'), 0, 3) };
  }
}

function parseEvent(r: Reader, v: unknown, path: string): GuestEvent {
  const o = r.object(v, path, ['when', 'do'], ['when', 'do']);
  const w = r.object(o.when, at(path, 'when'), ['step', 'exit']);
  const wk = r.oneOf(w, at(path, 'when'), ['step', 'exit']);
  const when = wk === 'step' ? { step: r.integer(w.step, at(at(path, 'when'), 'step')) } : { exit: r.integer(w.exit, at(at(path, 'when'), 'exit'), 1) };
  const dpath = at(path, 'do');
  const d = r.object(o.do, dpath, ['convert', 'psmash', 'rmpupdate', 'remap', 'zap', 'busy']);
  const dk = r.oneOf(d, dpath, ['convert', 'psmash', 'rmpupdate', 'remap', 'zap', 'busy']);
  const p = at(dpath, dk);
  let action: GuestAction;
  switch (dk) {
    case 'convert': {
      const c = r.object(d.convert, p, ['gpa', 'size', 'to'], ['gpa', 'to']);
      action = {
        kind: 'convert', gpa: r.aligned(c.gpa, at(p, 'gpa'), SIZE_4K, 'gpa', ADDR_MAX),
        size: c.size === undefined ? SIZE_4K : r.aligned(c.size, at(p, 'size'), SIZE_4K, 'size', ADDR_MAX),
        toPrivate: r.choice(c.to, at(p, 'to'), ['shared', 'private'] as const) === 'private',
      };
      break;
    }
    case 'psmash':
      action = { kind: 'psmash', pa: r.integer(d.psmash, p) };
      break;
    case 'rmpupdate': {
      const u = r.object(d.rmpupdate, p, ['pa', 'state', 'asid', 'gpa', 'size'], ['pa', 'state']);
      action = {
        kind: 'rmpupdate', pa: r.integer(u.pa, at(p, 'pa')), state: r.choice(u.state, at(p, 'state'), PAGE_STATES),
        asid: u.asid === undefined ? undefined : r.integer(u.asid, at(p, 'asid'), 0, 1023),
        gpa: u.gpa === undefined ? undefined : r.integer(u.gpa, at(p, 'gpa'), 0, ADDR_MAX),
        size: u.size === undefined ? undefined : sizeName(r.pageSize(u.size, at(p, 'size'), [SIZE_4K, SIZE_2M])),
      };
      break;
    }
    case 'remap': {
      const m = r.object(d.remap, p, ['gpa', 'to', 'size'], ['gpa', 'to']);
      const size = m.size === undefined ? SIZE_4K : r.pageSize(m.size, at(p, 'size'));
      action = { kind: 'remap', gpa: r.aligned(m.gpa, at(p, 'gpa'), size, 'gpa', ADDR_MAX), to: r.aligned(m.to, at(p, 'to'), size, 'to'), size };
      break;
    }
    case 'zap': {
      const z = r.object(d.zap, p, ['gpa', 'size'], ['gpa']);
      action = { kind: 'zap', gpa: r.integer(z.gpa, at(p, 'gpa'), 0, ADDR_MAX), size: z.size === undefined ? SIZE_4K : r.integer(z.size, at(p, 'size'), 1, SIZE_1G * 512) };
      break;
    }
    default: {
      const b = r.object(d.busy, p, ['pa', 'accesses', 'instructions'], ['pa']);
      action = {
        kind: 'busy', pa: r.integer(b.pa, at(p, 'pa')),
        accesses: b.accesses === undefined ? 0 : r.integer(b.accesses, at(p, 'accesses'), 0, 1000),
        instructions: b.instructions === undefined ? 0 : r.integer(b.instructions, at(p, 'instructions'), 0, 1000),
      };
    }
  }
  return { when, action };
}

function parseExpect(r: Reader, v: unknown, path: string): GuestExpect {
  const o: JsonObject = r.object(v, path, ['outcome', 'exits', 'faults', 'hv', 'steps', 'rmp', 'memory', 'regs']);
  const e: GuestExpect = {};
  if (o.outcome !== undefined) e.outcome = r.choice(o.outcome, at(path, 'outcome'), GUEST_OUTCOMES);
  if (o.exits !== undefined) {
    e.exits = r.array(o.exits, at(path, 'exits')).map((x, i) => {
      const p = at(at(path, 'exits'), i);
      const xo = r.object(x, p, ['exitCode', 'exitInfo1', 'exitInfo2']);
      const out: ExpectExit = {};
      if (xo.exitCode !== undefined) out.exitCode = xo.exitCode === 'npf' ? 0x400 : r.integer(xo.exitCode, at(p, 'exitCode'));
      if (xo.exitInfo1 !== undefined) out.exitInfo1 = r.bigInteger(xo.exitInfo1, at(p, 'exitInfo1'));
      if (xo.exitInfo2 !== undefined) out.exitInfo2 = r.bigInteger(xo.exitInfo2, at(p, 'exitInfo2'));
      return out;
    });
  }
  if (o.faults !== undefined) {
    e.faults = r.array(o.faults, at(path, 'faults')).map((x, i) => {
      const p = at(at(path, 'faults'), i);
      const xo = r.object(x, p, ['vector', 'errorCode', 'address']);
      const out: ExpectFault = {};
      if (xo.vector !== undefined) out.vector = r.integer(xo.vector, at(p, 'vector'), 0, 255);
      if (xo.errorCode !== undefined) out.errorCode = r.integer(xo.errorCode, at(p, 'errorCode'), 0, 0xffffffff);
      if (xo.address !== undefined) out.address = r.bigInteger(xo.address, at(p, 'address'));
      return out;
    });
  }
  if (o.hv !== undefined) e.hv = r.array(o.hv, at(path, 'hv')).map((x, i) => r.choice(x, at(at(path, 'hv'), i), HV_ACTIONS));
  if (o.steps !== undefined) {
    e.steps = r.array(o.steps, at(path, 'steps')).map((x, i) => {
      if (x === null) return null;
      const p = at(at(path, 'steps'), i);
      const xo = r.object(x, p, ['value', 'eax', 'cf']);
      const out: { value?: bigint; eax?: number; cf?: boolean } = {};
      if (xo.value !== undefined) out.value = r.bigInteger(xo.value, at(p, 'value'));
      if (xo.eax !== undefined) out.eax = r.integer(xo.eax, at(p, 'eax'), 0, 0xffffffff);
      if (xo.cf !== undefined) out.cf = r.bool(xo.cf, at(p, 'cf'));
      return out;
    });
  }
  if (o.rmp !== undefined) {
    e.rmp = r.array(o.rmp, at(path, 'rmp')).map((x, i) => {
      const p = at(at(path, 'rmp'), i);
      const xo = r.object(x, p, ['pa', 'state', 'validated', 'size', 'vmsa', 'vmpl'], ['pa']);
      const out: ExpectRmp = { pa: r.aligned(xo.pa, at(p, 'pa'), SIZE_4K, 'an RMP page') };
      if (xo.state !== undefined) out.state = r.string(xo.state, at(p, 'state'));
      if (xo.validated !== undefined) out.validated = r.bool(xo.validated, at(p, 'validated'));
      if (xo.size !== undefined) out.size = sizeName(r.pageSize(xo.size, at(p, 'size'), [SIZE_4K, SIZE_2M]));
      if (xo.vmsa !== undefined) out.vmsa = r.bool(xo.vmsa, at(p, 'vmsa'));
      if (xo.vmpl !== undefined) out.vmpl = parsePerms(r, xo.vmpl, at(p, 'vmpl'));
      return out;
    });
  }
  if (o.memory !== undefined) {
    e.memory = r.array(o.memory, at(path, 'memory')).map((x, i) => {
      const p = at(at(path, 'memory'), i);
      const xo = r.object(x, p, ['pa', 'hex'], ['pa', 'hex']);
      return { pa: r.integer(xo.pa, at(p, 'pa')), hex: r.hexBytes(xo.hex, at(p, 'hex')) };
    });
  }
  if (o.regs !== undefined) {
    const ro = r.object(o.regs, at(path, 'regs'), ['rip', ...REG_NAMES]);
    e.regs = new Map();
    REG_NAMES.forEach((n, i) => {
      if (ro[n] !== undefined) e.regs!.set(i, r.bigInteger(ro[n], at(at(path, 'regs'), n)));
    });
    if (ro.rip !== undefined) e.rip = r.bigInteger(ro.rip, at(at(path, 'regs'), 'rip'));
  }
  return e;
}
