// Checking a run against `expect` (spec/scenario.md, "expect"): every given key is checked, and each
// disagreement becomes one line naming the key, what was expected and what happened.
//
// `faults` and `kernel` are compared whole ([] means none), except when the run ended in
// `livelock` or `limit`: then the listed entries must match the first ones that happened.

import { addressText, bytesToHex, hex, type AddressValue } from './numbers.ts';
import type { RunRecord } from './record.ts';
import type { ExpectSpec, RegName } from './types.ts';

/** How symbols and expected memory are resolved against the machine after the run. */
export interface ExpectContext {
  /** A value as a 64-bit number (symbols: the region's virtual address plus offset). */
  resolve(v: AddressValue): bigint;
  /** Read bytes for `expect.memory`; a string says why they cannot be read. */
  readMemory(at: bigint, length: number): Uint8Array | string;
}

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

function valueText(v: AddressValue, resolved: bigint): string {
  return typeof v === 'bigint' ? hex(v) : `${addressText(v)} (${hex(resolved)})`;
}

export function checkExpectations(expect: ExpectSpec, run: RunRecord, ctx: ExpectContext): string[] {
  const out: string[] = [];
  const o = run.outcome;
  if (expect.outcome !== undefined && expect.outcome !== o.kind) {
    out.push(`outcome: expected ${expect.outcome}, got ${o.kind} (${o.message})`);
  }
  if (expect.exitCode !== undefined && expect.exitCode !== o.exitCode) {
    out.push(`exitCode: expected ${expect.exitCode}, got ${o.exitCode ?? `none (outcome ${o.kind})`}`);
  }
  if (expect.signal !== undefined && expect.signal !== o.signal) {
    out.push(`signal: expected ${expect.signal}, got ${o.signal ?? `none (outcome ${o.kind})`}`);
  }
  if (expect.siCode !== undefined && expect.siCode !== o.siCode) {
    out.push(`siCode: expected ${expect.siCode}, got ${o.siCode ?? 'none'}`);
  }
  if (expect.siAddr !== undefined) {
    const want = ctx.resolve(expect.siAddr);
    if (o.siAddr === undefined || u64(o.siAddr) !== u64(want)) {
      out.push(`siAddr: expected ${valueText(expect.siAddr, want)}, got ${o.siAddr === undefined ? 'none' : hex(u64(o.siAddr))}`);
    }
  }
  const prefixOnly = o.kind === 'livelock' || o.kind === 'limit';
  if (expect.faults !== undefined) {
    const want = expect.faults;
    const got = run.faults;
    if (prefixOnly ? got.length < want.length : got.length !== want.length) {
      out.push(prefixOnly
        ? `faults: expected at least ${want.length} fault(s) (a prefix under outcome ${o.kind}), got ${got.length}`
        : `faults: expected ${want.length} fault(s), got ${got.length}`);
    }
    want.forEach((w, i) => {
      const g = got[i];
      if (g === undefined) return;
      const at = `faults[${i}]`;
      if (w.vector !== undefined && w.vector !== g.vector) out.push(`${at}.vector: expected ${w.vector}, got ${g.vector}`);
      if (w.errorCode !== undefined && w.errorCode !== g.errorCode) out.push(`${at}.errorCode: expected ${hex(w.errorCode)}, got ${hex(g.errorCode)}`);
      if (w.rmp !== undefined && w.rmp !== g.rmp) out.push(`${at}.rmp: expected ${w.rmp}, got ${g.rmp}`);
      if (w.address !== undefined) {
        const a = ctx.resolve(w.address);
        if (u64(a) !== u64(g.address)) out.push(`${at}.address: expected ${valueText(w.address, a)}, got ${hex(u64(g.address))}`);
      }
      if (w.rip !== undefined) {
        const a = ctx.resolve(w.rip);
        if (u64(a) !== u64(g.rip)) out.push(`${at}.rip: expected ${valueText(w.rip, a)}, got ${hex(u64(g.rip))}`);
      }
    });
  }
  if (expect.kernel !== undefined) {
    const want = expect.kernel;
    const got = run.kernel.map((k) => k.action);
    const lengthOk = prefixOnly ? got.length >= want.length : got.length === want.length;
    const itemsOk = want.every((w, i) => got[i] === w);
    if (!lengthOk || !itemsOk) {
      const shown = prefixOnly ? got.slice(0, Math.max(want.length, 1)) : got;
      const more = prefixOnly && got.length > shown.length ? `, ... (${got.length} in all)` : '';
      out.push(`kernel: expected ${prefixOnly ? 'to start with ' : ''}[${want.join(', ')}], got [${shown.join(', ')}${more}]`);
    }
  }
  if (expect.regs !== undefined) {
    for (const [name, v] of Object.entries(expect.regs) as [RegName, AddressValue][]) {
      const want = ctx.resolve(v);
      const got = run.regs[name];
      if (got === undefined) out.push(`regs.${name}: expected ${valueText(v, want)}, but the run does not report ${name}`);
      else if (u64(got) !== u64(want)) out.push(`regs.${name}: expected ${valueText(v, want)}, got ${hex(u64(got))}`);
    }
  }
  if (expect.memory !== undefined) {
    expect.memory.forEach((m, i) => {
      const addr = ctx.resolve(m.at);
      const got = ctx.readMemory(addr, m.bytes.length);
      if (typeof got === 'string') {
        out.push(`memory[${i}] at ${valueText(m.at, addr)}: ${got}`);
      } else if (bytesToHex(got) !== bytesToHex(m.bytes)) {
        out.push(`memory[${i}] at ${valueText(m.at, addr)}: expected ${bytesToHex(m.bytes)}, got ${bytesToHex(got)}`);
      }
    });
  }
  if (expect.stdout !== undefined && expect.stdout !== run.stdout) {
    out.push(`stdout: expected ${JSON.stringify(expect.stdout)}, got ${JSON.stringify(run.stdout)}`);
  }
  if (expect.stderr !== undefined && expect.stderr !== run.stderr) {
    out.push(`stderr: expected ${JSON.stringify(expect.stderr)}, got ${JSON.stringify(run.stderr)}`);
  }
  return out;
}
