// The shape of bench/results.json, and the convention every benchmark module follows.
//
// A benchmark module (bench/cpu.bench.ts, bench/mmu.bench.ts, bench/micro/*.ts) exports
//
//     export async function benchmarks(options: { quick: boolean }): Promise<BenchmarkRecord[]>
//
// and returns one record per figure. It never prints its own figures and never invents one: a
// figure that cannot be measured (a module not written yet, a peer not installed) is a record with
// status 'waiting' or 'unavailable' and a reason, and no median.

export const RESULTS_SCHEMA_VERSION = 1;

export type RecordStatus = 'ok' | 'unavailable' | 'waiting' | 'failed';

export interface Spread {
  /** 'iqr': low = Q1, high = Q3 of the samples. 'min-max': the extremes. */
  kind: 'iqr' | 'min-max';
  low: number;
  high: number;
}

export type DetailValue = number | string | boolean | null;

export interface BenchmarkRecord {
  /** Unique and stable, dotted: 'program.alu.qemu', 'cpu.alu-loop', 'cost-growth.4k.64MiB'. */
  name: string;
  /** 'program', 'cpu', 'mmu', 'rmp', 'decode', 'cost-growth', ... */
  group: string;
  /** What median and spread count: 'instructions/s', 'walks/s', 'MB/s', 'ms'. */
  unit: string;
  status: RecordStatus;
  /** Why the status is not 'ok' (or a caveat about an 'ok' figure, e.g. why it has no spread). */
  note?: string;
  median?: number;
  /** Required for 'ok' records, unless the note says the source reports no spread. */
  spread?: Spread;
  samples?: number;
  /** Extra facts: engine, program, wall times, ratios, instruction counts. */
  details?: Record<string, DetailValue>;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  os: string;
  node: string;
}

export interface Results {
  schema: number;
  date: string;
  quick: boolean;
  machine: MachineInfo;
  benchmarks: BenchmarkRecord[];
}

export function waiting(name: string, group: string, unit: string, note: string): BenchmarkRecord {
  return { name, group, unit, status: 'waiting', note };
}

const STATUSES: readonly string[] = ['ok', 'unavailable', 'waiting', 'failed'];

/** Problems with a results document, one sentence each; empty when it is well formed. */
export function validateResults(value: unknown): string[] {
  const problems: string[] = [];
  if (typeof value !== 'object' || value === null) return ['results must be a JSON object'];
  const r = value as Record<string, unknown>;
  if (r.schema !== RESULTS_SCHEMA_VERSION) problems.push(`schema must be ${RESULTS_SCHEMA_VERSION}`);
  if (typeof r.date !== 'string' || Number.isNaN(Date.parse(r.date))) problems.push('date must be an ISO date string');
  if (typeof r.quick !== 'boolean') problems.push('quick must be a boolean');
  const m = r.machine as Record<string, unknown> | undefined;
  if (typeof m !== 'object' || m === null) {
    problems.push('machine must be an object');
  } else {
    if (typeof m.cpuModel !== 'string' || m.cpuModel === '') problems.push('machine.cpuModel must be a non-empty string');
    if (!Number.isInteger(m.cores) || (m.cores as number) < 1) problems.push('machine.cores must be a positive integer');
    if (!Number.isInteger(m.memoryBytes) || (m.memoryBytes as number) < 1) problems.push('machine.memoryBytes must be a positive integer');
    if (typeof m.os !== 'string') problems.push('machine.os must be a string');
    if (typeof m.node !== 'string' || !m.node.startsWith('v')) problems.push('machine.node must be a Node version like v20.1.0');
  }
  if (!Array.isArray(r.benchmarks)) {
    problems.push('benchmarks must be an array');
    return problems;
  }
  const seen = new Set<string>();
  r.benchmarks.forEach((b: unknown, i: number) => {
    const where = `benchmarks[${i}]`;
    if (typeof b !== 'object' || b === null) {
      problems.push(`${where} must be an object`);
      return;
    }
    const x = b as Record<string, unknown>;
    if (typeof x.name !== 'string' || x.name === '') problems.push(`${where}.name must be a non-empty string`);
    else if (seen.has(x.name)) problems.push(`${where}.name '${x.name}' is not unique`);
    else seen.add(x.name);
    if (typeof x.group !== 'string' || x.group === '') problems.push(`${where}.group must be a non-empty string`);
    if (typeof x.unit !== 'string' || x.unit === '') problems.push(`${where}.unit must be a non-empty string`);
    if (typeof x.status !== 'string' || !STATUSES.includes(x.status)) problems.push(`${where}.status must be one of ${STATUSES.join(', ')}`);
    if (x.status === 'ok') {
      if (typeof x.median !== 'number' || !Number.isFinite(x.median)) problems.push(`${where}: an 'ok' record needs a finite median`);
      if (!Number.isInteger(x.samples) || (x.samples as number) < 1) problems.push(`${where}: an 'ok' record needs samples >= 1`);
      // A spread, unless the record's note says why its source gave none (a mean-only script).
      const s = x.spread as Record<string, unknown> | undefined;
      if (s === undefined) {
        if (typeof x.note !== 'string' || !/no spread/.test(x.note)) problems.push(`${where}: an 'ok' record needs a spread, or a note saying the source reports no spread`);
      } else if (typeof s !== 'object' || s === null || (s.kind !== 'iqr' && s.kind !== 'min-max') ||
          typeof s.low !== 'number' || typeof s.high !== 'number' || s.low > s.high) {
        problems.push(`${where}: an 'ok' record needs a spread {kind: 'iqr' | 'min-max', low <= high}`);
      }
    } else if (x.status !== undefined) {
      if (x.median !== undefined) problems.push(`${where}: a '${String(x.status)}' record must not carry a median`);
      if (typeof x.note !== 'string' || x.note === '') problems.push(`${where}: a '${String(x.status)}' record needs a note saying why`);
    }
    if (x.details !== undefined) {
      if (typeof x.details !== 'object' || x.details === null || Array.isArray(x.details)) {
        problems.push(`${where}.details must be an object`);
      } else {
        for (const [k, v] of Object.entries(x.details)) {
          if (v !== null && !['number', 'string', 'boolean'].includes(typeof v)) problems.push(`${where}.details.${k} must be a number, string, boolean or null`);
        }
      }
    }
  });
  return problems;
}
