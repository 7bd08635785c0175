// Loading a format-1 scenario (spec/scenario.md): parse, validate every section, apply the spec's
// defaults. Any problem is an InputError naming the file, the JSON path and what was expected;
// a scenario that loads is complete and consistent, so the builder and runner need not re-check.

import { readFileSync } from 'node:fs';
import { InputError, at } from './errors.ts';
import { readExpect } from './load-expect.ts';
import { readMachine, readRun } from './load-machine.ts';
import { readProcess, regionNames } from './load-process.ts';
import { readCpu, readPaging, readPhysical } from './load-raw.ts';
import { readEvents, readRmpList } from './load-rmp.ts';
import { checkRmpDuplicates, checkWithinRam } from './load-checks.ts';
import { checkDuplicateKeys } from './load-duplicate-keys.ts';
import { Reader } from './reader.ts';
import type { KernelPolicy, Scenario } from './types.ts';

const TOP_KEYS = [
  'format', 'name', 'notes', 'machine', 'kernel', 'process', 'cpu', 'paging', 'physical', 'rmp', 'events', 'run', 'expect',
] as const;

/** "Unexpected token } in JSON at position 57" → "line 3, column 5: Unexpected token }". */
function jsonErrorText(text: string, error: Error): string {
  const m = /position (\d+)/.exec(error.message);
  const message = error.message.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '');
  if (m === null) return `malformed JSON: ${message}`;
  const pos = Number(m[1]);
  const before = text.slice(0, pos).split('\n');
  return `malformed JSON at line ${before.length}, column ${before[before.length - 1]!.length + 1}: ${message}`;
}

/** Validate an already-parsed JSON value as a scenario. */
export function scenarioFromJson(json: unknown, file = '<inline>'): Scenario {
  const top = new Reader(file, new Set());
  const o = top.object(json, '', TOP_KEYS, ['format', 'name']);
  if (o.format !== 1) top.fail('format', `expected 1 (the only format), got ${top.describe(o.format)}`);
  const name = top.string(o.name, 'name');
  if (name.trim() === '') top.fail('name', 'expected a one-line name, got an empty string');
  if (name.includes('\n')) top.fail('name', 'expected one line, got several');
  const kernel: KernelPolicy = 'kernel' in o ? top.choice(o.kernel, 'kernel', ['v7', 'mainline', 'none'] as const) : 'v7';

  if (kernel === 'none') {
    if ('process' in o) top.fail('process', 'a process needs a kernel ("v7" or "mainline"); kernel none runs raw "cpu" state');
    if (!('cpu' in o)) top.fail('cpu', 'missing; kernel none needs the raw CPU state (at least "rip")');
  } else {
    if ('cpu' in o) top.fail('cpu', `"cpu" is for kernel none; under kernel "${kernel}" use process.regs and process.entry`);
    if ('paging' in o) top.fail('paging', `"paging" is for kernel none; under kernel "${kernel}" the kernel builds the page tables`);
    if (!('process' in o)) top.fail('process', `missing; kernel "${kernel}" needs a process to run`);
  }
  const symbols = 'process' in o ? regionNames(top, o.process, 'process') : new Set<string>();
  const r = new Reader(file, symbols);

  const scenario: Scenario = {
    file,
    name,
    kernel,
    machine: readMachine(r, o.machine, 'machine'),
    physical: 'physical' in o ? readPhysical(r, o.physical, 'physical') : [],
    rmp: 'rmp' in o ? readRmpList(r, o.rmp, 'rmp', kernel) : [],
    events: 'events' in o ? readEvents(r, o.events, 'events', kernel) : [],
    run: readRun(r, o.run, 'run'),
    expect: readExpect(r, o.expect, 'expect'),
  };
  if ('notes' in o) scenario.notes = r.string(o.notes, 'notes');
  if ('process' in o) scenario.process = readProcess(r, o.process, 'process');
  if ('cpu' in o) scenario.cpu = readCpu(r, o.cpu, 'cpu');
  if ('paging' in o) scenario.paging = readPaging(r, o.paging, 'paging');
  if (scenario.cpu !== undefined) checkEnabledFeatures(r, scenario);
  checkWithinRam(r, scenario);
  checkRmpDuplicates(r, scenario.rmp);
  if (!scenario.machine.snp) {
    // With SYSCFG.SNP_EN=0 the machine places no RMP (spec/rmp.md §1.1: the table exists for SNP).
    if (scenario.rmp.length > 0) r.fail('rmp', 'machine.snp is false, so there is no RMP to put entries in; remove "rmp" or turn snp on');
    if (scenario.machine.rmp !== undefined) r.fail('machine.rmp', 'machine.snp is false, so no RMP is placed; remove machine.rmp or turn snp on');
  }
  if (scenario.cpu !== undefined && scenario.cpu.cr3 === undefined) {
    if (scenario.paging === undefined || scenario.paging.maps.length === 0) {
      r.fail(at('cpu', 'cr3'), 'missing; required unless paging.maps builds the tables');
    }
  }
  return scenario;
}

/**
 * Under kernel none the cpu registers say what is enabled; a register that enables a feature the
 * machine's CPUID does not report is refused here (on hardware the MOV to CR4 / WRMSR would #GP,
 * AMD APM Vol.2 §3.1.3, §3.1.7), so the run cannot start in a state the CPU could not be in.
 */
function checkEnabledFeatures(r: Reader, s: Scenario): void {
  const cpu = s.cpu!;
  const f = s.machine.features;
  const checks: [boolean, bigint, bigint, string, string][] = [
    [f.smep, cpu.cr4, 1n << 20n, 'cpu.cr4', 'SMEP (bit 20)'],
    [f.smap, cpu.cr4, 1n << 21n, 'cpu.cr4', 'SMAP (bit 21)'],
    [f.pcid, cpu.cr4, 1n << 17n, 'cpu.cr4', 'PCIDE (bit 17)'],
    [f.la57, cpu.cr4, 1n << 12n, 'cpu.cr4', 'LA57 (bit 12)'],
    [f.nx, cpu.efer, 1n << 11n, 'cpu.efer', 'NXE (bit 11)'],
  ];
  for (const [supported, value, bit, path, name] of checks) {
    if (!supported && (value & bit) !== 0n) {
      r.fail(path, `enables ${name}, which machine.features says this CPU does not support (hardware would raise #GP)`);
    }
  }
}

/** Parse JSON text; a syntax error is an InputError with line and column. */
export function parseJsonText(text: string, file = '<inline>'): unknown {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(file, '', jsonErrorText(text, e as Error));
  }
  checkDuplicateKeys(text, file);
  return json;
}

/** Read and parse a JSON file; a missing or unreadable file is an InputError. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(path, '', code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a scenario file' : `cannot read: ${(e as Error).message}`);
  }
  return parseJsonText(text, path);
}

/** Parse JSON text as a scenario. */
export function scenarioFromText(text: string, file = '<inline>'): Scenario {
  return scenarioFromJson(parseJsonText(text, file), file);
}

/** Read and load a scenario file. */
export function loadScenarioFile(path: string): Scenario {
  return scenarioFromJson(readJsonFile(path), path);
}

/**
 * The library entry point: a scenario from a parsed JSON object, or from a file path when given a
 * string that does not start with "{" (then JSON text when it does).
 */
export function loadScenario(input: unknown, file?: string): Scenario {
  if (typeof input === 'string') {
    return input.trimStart().startsWith('{') ? scenarioFromText(input, file) : loadScenarioFile(input);
  }
  return scenarioFromJson(input, file);
}
