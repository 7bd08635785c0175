// The `machine` and `run` sections (spec/scenario.md, "machine", "Top level").

import { DEFAULT_MACHINE_FEATURES } from '../machine.ts';
import { at } from './errors.ts';
import type { Reader } from './reader.ts';
import type { Features, MachineSpec, Quirks } from './types.ts';

const FEATURE_NAMES = ['nx', 'smep', 'smap', 'pcid', 'la57'] as const;
const QUIRK_NAMES = ['hostChecksImmutable'] as const;
const MIB = 1 << 20;
/** Largest machine accepted: memory is sparse, but the per-frame bookkeeping is not. */
const MAX_MEMORY = 64 * 1024 * MIB;

export function readMachine(r: Reader, v: unknown, path: string): MachineSpec {
  const spec: MachineSpec = {
    memoryBytes: 64 * MIB,
    snp: true,
    rmpWalkReads: true,
    features: { ...DEFAULT_MACHINE_FEATURES },
    quirks: { hostChecksImmutable: false },
  };
  if (v === undefined) return spec;
  const o = r.object(v, path, ['memory', 'snp', 'rmp', 'rmpWalkReads', 'features', 'quirks']);
  if ('memory' in o) {
    spec.memoryBytes = r.aligned(o.memory, at(path, 'memory'), 4096, 'memory', MAX_MEMORY);
    if (spec.memoryBytes < MIB) r.fail(at(path, 'memory'), 'expected at least 1M of memory');
  }
  if ('snp' in o) spec.snp = r.bool(o.snp, at(path, 'snp'));
  if ('rmpWalkReads' in o) spec.rmpWalkReads = r.bool(o.rmpWalkReads, at(path, 'rmpWalkReads'));
  if ('rmp' in o) {
    const p = at(path, 'rmp');
    const rmp = r.object(o.rmp, p, ['base', 'end'], ['base', 'end']);
    // spec/rmp.md §1.1: RMP_BASE and RMP_END+1 are 8 KB aligned; §1.2: 16 KB bookkeeping first.
    const base = r.aligned(rmp.base, at(p, 'base'), 8192, 'RMP_BASE');
    const end = r.integer(rmp.end, at(p, 'end'), 0, 2 ** 52 - 1);
    if ((end + 1) % 8192 !== 0) r.fail(at(p, 'end'), `RMP_END+1 must be 8K-aligned (RMP_END like 0x...1fff), got 0x${end.toString(16)}`);
    if (end + 1 - base <= 0x4000) r.fail(at(p, 'end'), 'RMP_END must leave room for the 16K bookkeeping area and at least one 2M block of entries');
    spec.rmp = { base, end };
  }
  if ('features' in o) spec.features = readFeatures(r, o.features, at(path, 'features'));
  if ('quirks' in o) spec.quirks = readQuirks(r, o.quirks, at(path, 'quirks'));
  return spec;
}

/** `features` as an object of booleans (defaults kept for names not given) or a list of the names on. */
function readFeatures(r: Reader, v: unknown, path: string): Features {
  if (Array.isArray(v)) {
    const f: Features = { nx: false, smep: false, smap: false, pcid: false, la57: false };
    v.forEach((name, i) => { f[r.choice(name, at(path, i), FEATURE_NAMES)] = true; });
    return f;
  }
  const o = r.object(v, path, FEATURE_NAMES);
  const f: Features = { ...DEFAULT_MACHINE_FEATURES };
  for (const name of FEATURE_NAMES) if (name in o) f[name] = r.bool(o[name], at(path, name));
  return f;
}

/** `quirks` as an object of booleans or a list of the names on. */
function readQuirks(r: Reader, v: unknown, path: string): Quirks {
  const q: Quirks = { hostChecksImmutable: false };
  if (Array.isArray(v)) {
    v.forEach((name, i) => { q[r.choice(name, at(path, i), QUIRK_NAMES)] = true; });
    return q;
  }
  const o = r.object(v, path, QUIRK_NAMES);
  for (const name of QUIRK_NAMES) if (name in o) q[name] = r.bool(o[name], at(path, name));
  return q;
}

export function readRun(r: Reader, v: unknown, path: string): { maxInstructions: number; maxFaults: number } {
  const run = { maxInstructions: 1_000_000, maxFaults: 64 };
  if (v === undefined) return run;
  const o = r.object(v, path, ['maxInstructions', 'maxFaults']);
  if ('maxInstructions' in o) run.maxInstructions = r.integer(o.maxInstructions, at(path, 'maxInstructions'), 1, 1_000_000_000);
  if ('maxFaults' in o) run.maxFaults = r.integer(o.maxFaults, at(path, 'maxFaults'), 1, 1_000_000);
  return run;
}
