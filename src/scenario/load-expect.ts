// The `expect` section (spec/scenario.md, "expect"). Every key is optional; each given key is checked.

import { at } from './errors.ts';
import type { Reader } from './reader.ts';
import {
  KERNEL_ACTIONS, OUTCOME_KINDS, REG_NAMES, type ExpectSpec, type ExpectedFault, type RegName,
} from './types.ts';

const EXPECT_KEYS = [
  'outcome', 'exitCode', 'signal', 'siCode', 'siAddr', 'faults', 'kernel', 'regs', 'memory', 'stdout', 'stderr',
] as const;

function readFault(r: Reader, v: unknown, path: string): ExpectedFault {
  const o = r.object(v, path, ['vector', 'errorCode', 'address', 'rip', 'rmp']);
  const f: ExpectedFault = {};
  if ('vector' in o) f.vector = r.integer(o.vector, at(path, 'vector'), 0, 255);
  if ('errorCode' in o) f.errorCode = r.integer(o.errorCode, at(path, 'errorCode'), 0, 0xffffffff);
  if ('address' in o) f.address = r.address(o.address, at(path, 'address'));
  if ('rip' in o) f.rip = r.address(o.rip, at(path, 'rip'));
  if ('rmp' in o) f.rmp = r.bool(o.rmp, at(path, 'rmp'));
  return f;
}

export function readExpect(r: Reader, v: unknown, path: string): ExpectSpec {
  const e: ExpectSpec = {};
  if (v === undefined) return e;
  const o = r.object(v, path, EXPECT_KEYS);
  if ('outcome' in o) e.outcome = r.choice(o.outcome, at(path, 'outcome'), OUTCOME_KINDS);
  if ('exitCode' in o) e.exitCode = r.integer(o.exitCode, at(path, 'exitCode'), 0, 255);
  if ('signal' in o) {
    e.signal = r.string(o.signal, at(path, 'signal'));
    if (!/^SIG[A-Z0-9]+$/.test(e.signal)) r.fail(at(path, 'signal'), `expected a signal name like "SIGBUS", got "${e.signal}"`);
  }
  if ('siCode' in o) {
    e.siCode = r.string(o.siCode, at(path, 'siCode'));
    if (!/^[A-Z]+_[A-Z0-9_]+$/.test(e.siCode)) r.fail(at(path, 'siCode'), `expected an si_code name like "BUS_ADRERR", got "${e.siCode}"`);
  }
  if ('siAddr' in o) e.siAddr = r.address(o.siAddr, at(path, 'siAddr'));
  if ('faults' in o) e.faults = r.array(o.faults, at(path, 'faults')).map((f, i) => readFault(r, f, at(at(path, 'faults'), i)));
  if ('kernel' in o) {
    e.kernel = r.array(o.kernel, at(path, 'kernel')).map((k, i) => r.choice(k, at(at(path, 'kernel'), i), KERNEL_ACTIONS));
  }
  if ('regs' in o) {
    const ro = r.object(o.regs, at(path, 'regs'), REG_NAMES);
    e.regs = {};
    for (const [name, value] of Object.entries(ro)) e.regs[name as RegName] = r.address(value, at(at(path, 'regs'), name));
  }
  if ('memory' in o) {
    e.memory = r.array(o.memory, at(path, 'memory')).map((m, i) => {
      const p = at(at(path, 'memory'), i);
      const mo = r.object(m, p, ['at', 'hex'], ['at', 'hex']);
      const bytes = r.hexBytes(mo.hex, at(p, 'hex'));
      if (bytes.length === 0) r.fail(at(p, 'hex'), 'expected at least one byte');
      return { at: r.address(mo.at, at(p, 'at')), bytes };
    });
  }
  if ('stdout' in o) e.stdout = r.string(o.stdout, at(path, 'stdout'));
  if ('stderr' in o) e.stderr = r.string(o.stderr, at(path, 'stderr'));
  return e;
}
