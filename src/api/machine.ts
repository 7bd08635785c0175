// The library's front door (docs/api.md): one class a researcher scripts. It owns a core machine
// (src/machine.ts: physical memory, RMP table, MMU, CPU), optionally an emulated Linux kernel running
// one process, the hook registry and the snapshot logic. Everything here goes through the modules'
// public interfaces; values cross the boundary as bigint (registers) or number/bigint (addresses).

import { Machine as CoreMachine, type MachineFeatures, type MachineQuirks } from '../machine.ts';
import { Kernel, KernelSetupError } from '../kernel/kernel.ts';
import type { DecisionRecord, ProcessInfo, RegionRequest } from '../kernel/types.ts';
import type { VmaKind } from '../kernel/vma.ts';
import { RmpTable } from '../rmp/table.ts';
import { stateNameOf, type PageStateSpec } from '../rmp/states.ts';
import type { RmpEntry } from '../rmp/entry.ts';
import { Access } from '../mmu/linear-memory.ts';
import { CpuFault } from '../cpu/fault.ts';
import type { WalkTrace } from '../mmu/walk-trace.ts';
import { parseInteger, parseHexBytes } from '../scenario/numbers.ts';
import { HookRegistry } from './hook-registry.ts';
import { HookPlumbing, RunStop } from './hook-plumbing.ts';
import { registerView, readAllRegisters, isRegisterName, RegisterNameError, type Registers, type RegisterName } from './registers.ts';
import { avoidRange, mapPage, type MapRequest, type PagingState } from './paging.ts';
import { takeSnapshot, restoreSnapshot, Snapshot, type SnapshotParts } from './snapshot.ts';
import { runBare, runProcess, type RunContext } from './run-loop.ts';
import type { RunLimits, RunResult } from './results.ts';
import {
  MachineError, MAX_FAULTS, MAX_INSTRUCTIONS, budget, checkBoolean, checkInRam, checkKeys, checkOneOf, integerValue,
} from './validate.ts';
import { buildScenario, type ScenarioBuild, type ScenarioResult } from './scenario-machine.ts';

export interface MachineConfig {
  /** RAM size: bytes, or "64M", "1G", "0x100000" (default "64M"). */
  memory?: number | bigint | string;
  /** SEV-SNP on: the RMP table is placed and SYSCFG.SNP_EN set, so host RMP checks run (default true). */
  snp?: boolean;
  /** RMP_BASE and RMP_END (inclusive). Default: a table covering all RAM at the top of RAM. */
  rmp?: { base: number | bigint; end: number | bigint };
  /** RMP-check the walk's page-table reads too (spec/rmp.md §9 item 3; default true). */
  rmpWalkReads?: boolean;
  /** CPU features: nx, smep, smap (default all on). */
  features?: Partial<MachineFeatures>;
  /** Named deviations from the architecture, e.g. { hostChecksImmutable: true }. */
  quirks?: Partial<MachineQuirks>;
}

/** One mapping of a process (the scenario `process.regions` vocabulary). */
export interface RegionSpec {
  name: string;
  at: number | bigint;
  /** Bytes or "4K", "2M"... */
  size: number | string;
  /** Like "rw-" or "r-x" (default "rw-"). */
  prot?: string;
  /** Host mapping size (default "4K"). */
  page?: '4K' | '2M' | '1G';
  kind?: VmaKind;
  /** Pin the backing frames at this physical address. */
  pa?: number | bigint;
  /** Initial bytes (a hex string like "0f 05" is accepted). */
  bytes?: Uint8Array | number[] | string;
  /** The scenario's word for `bytes` (a hex string); give one or the other. */
  hex?: string;
}

const CONFIG_KEYS = ['memory', 'snp', 'rmp', 'rmpWalkReads', 'features', 'quirks'] as const;
const FEATURE_KEYS = ['nx', 'smep', 'smap', 'pcid', 'la57'] as const;
const QUIRK_KEYS = ['hostChecksImmutable'] as const;
const PROCESS_KEYS = ['kernel', 'regions', 'entry', 'regs', 'stdin'] as const;
const REGION_KEYS = ['name', 'at', 'size', 'prot', 'page', 'kind', 'pa', 'bytes', 'hex'] as const;
const VMA_KINDS: readonly VmaKind[] = ['anon', 'thp', 'hugetlb', 'shared-file', 'private-file'];
const RUN_KEYS = ['maxInstructions', 'maxFaults', 'until'] as const;

/** Every key and word of a MachineConfig, checked before anything is built. */
function checkConfig(config: MachineConfig): void {
  checkKeys(config, CONFIG_KEYS, 'new Machine(config)');
  checkBoolean(config.snp, 'config.snp');
  checkBoolean(config.rmpWalkReads, 'config.rmpWalkReads');
  checkKeys(config.rmp, ['base', 'end'], 'config.rmp');
  checkKeys(config.features, FEATURE_KEYS, 'config.features');
  for (const k of FEATURE_KEYS) checkBoolean(config.features?.[k], `config.features.${k}`);
  checkKeys(config.quirks, QUIRK_KEYS, 'config.quirks');
  for (const k of QUIRK_KEYS) checkBoolean(config.quirks?.[k], `config.quirks.${k}`);
}

function checkProcessSpec(spec: ProcessSpec): void {
  checkKeys(spec, PROCESS_KEYS, 'createProcess(spec)');
  checkOneOf(spec.kernel, ['v7', 'mainline'], 'createProcess: kernel');
  if (!Array.isArray(spec.regions)) throw new MachineError('createProcess: regions must be an array of regions');
  spec.regions.forEach((r, i) => {
    checkKeys(r, REGION_KEYS, `createProcess: regions[${i}]`);
    checkOneOf(r.kind, VMA_KINDS, `createProcess: regions[${i}].kind`);
    checkOneOf(r.page, ['4K', '2M', '1G'], `createProcess: regions[${i}].page`);
    if (r.hex !== undefined && r.bytes !== undefined) throw new MachineError(`createProcess: regions[${i}] has both bytes and hex; give one`);
    if (r.hex !== undefined && typeof r.hex !== 'string') throw new MachineError(`createProcess: regions[${i}].hex must be a hex string like "0f 05"`);
  });
  for (const name of Object.keys(spec.regs ?? {})) if (!isRegisterName(name)) throw new RegisterNameError(name);
}

export interface ProcessSpec {
  /** The host's RMP fault-handling policy (default "v7"). */
  kernel?: 'v7' | 'mainline';
  regions: RegionSpec[];
  /** A region name, "name+0x10", or an address. */
  entry: string | number | bigint;
  /** Initial registers (values may be region names or "name+offset"). */
  regs?: Partial<Record<RegisterName, bigint | number | string>>;
  stdin?: string | Uint8Array;
}

/** A process's regions after setup. */
export interface ProcessSymbols {
  [name: string]: { va: number; pa: number; size: number };
}

export { MachineError };

/** The facade's own state, saved and restored with snapshots. */
interface FacadeState {
  kernel: Kernel | null;
  symbols: Map<string, { va: number; pa: number; size: number }>;
  paging: PagingState;
  /** How the process ended (exit, signal, oops): later runs return it again instead of executing. */
  ended: RunResult | null;
}

// fromScenario hands its pre-built machine to the constructor through this slot.
let pendingScenario: ScenarioBuild | null = null;

const BARE_CR0 = 0x80010033n; // PG WP NE ET MP PE (spec/scenario.md, kernel none defaults)
const CR4_PAE = 0x20n;
const CR4_SMEP = 1n << 20n;
const CR4_SMAP = 1n << 21n;
const EFER_LME_LMA_SCE = 0x501n;
const EFER_NXE = 0x800n;

function sizeValue(v: number | bigint | string, what: string): number {
  const n = typeof v === 'string' ? parseInteger(v) : typeof v === 'number' ? (Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined) : v;
  if (n === undefined || n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MachineError(`${what}: expected a size like 4096, "64M" or "0x1000", got ${JSON.stringify(String(v))}`);
  }
  return Number(n);
}

function address(v: number | bigint, what: string): number {
  const n = typeof v === 'bigint' ? v : Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : -1n;
  if (n < 0n || n >= 1n << 52n) throw new MachineError(`${what}: ${String(v)} is not a physical address (0 ≤ pa < 2^52)`);
  return Number(n);
}

function bytesOf(data: Uint8Array | number[] | string, what: string): Uint8Array {
  if (typeof data === 'string') {
    const b = parseHexBytes(data);
    if (b === undefined) throw new MachineError(`${what}: expected hex bytes like "0f 05", got ${JSON.stringify(data)}`);
    return b;
  }
  return data instanceof Uint8Array ? data : Uint8Array.from(data);
}

function protOf(text: string, what: string): { read: boolean; write: boolean; exec: boolean } {
  if (!/^[r-][w-][x-]$/.test(text)) throw new MachineError(`${what}: expected a protection like "rw-" or "r-x", got ${JSON.stringify(text)}`);
  return { read: text[0] === 'r', write: text[1] === 'w', exec: text[2] === 'x' };
}

export class Machine {
  /** The wired parts (phys, rmp, mmu, cpu) for anything the facade does not cover. */
  readonly core: CoreMachine;
  /** Registers by name, as bigint: `m.regs.rax = 1n`, `m.regs.rip`. Writes steer execution. */
  readonly regs: Registers;
  /** Register, switch and remove hooks (docs/api.md, "Hooks"). */
  readonly hooks: HookRegistry;
  /** The scenario this machine was built from (Machine.fromScenario), else null. */
  readonly scenario: ScenarioBuild['scenario'] | null;

  private readonly plumbing: HookPlumbing;
  private readonly state: FacadeState;
  private readonly scenarioBuild: ScenarioBuild | null;
  private readonly defaultLimits: Required<Pick<RunLimits, 'maxInstructions' | 'maxFaults'>>;
  private runDecisions: DecisionRecord[] = [];
  /** True during run(): snapshots, restores and nested runs are refused from hooks. */
  private running = false;

  constructor(config: MachineConfig = {}) {
    const pre = pendingScenario;
    pendingScenario = null;
    if (pre !== null) {
      this.core = pre.core;
    } else {
      checkConfig(config);
      const memoryBytes = sizeValue(config.memory ?? '64M', 'memory');
      if (memoryBytes === 0 || memoryBytes % 4096 !== 0) throw new MachineError(`memory: ${memoryBytes} bytes is not a positive multiple of 4 KiB`);
      try {
        this.core = new CoreMachine({
          memoryBytes,
          snp: config.snp ?? true,
          rmpBase: config.rmp === undefined ? undefined : address(config.rmp.base, 'rmp.base'),
          rmpEnd: config.rmp === undefined ? undefined : address(config.rmp.end, 'rmp.end'),
          features: config.features,
          quirks: config.quirks,
          rmpWalkReads: config.rmpWalkReads,
        });
      } catch (e) {
        if (e instanceof MachineError) throw e;
        throw new MachineError(`cannot build the machine: ${(e as Error).message}`);
      }
      this.setBareDefaults();
    }
    this.scenarioBuild = pre;
    this.scenario = pre?.scenario ?? null;
    this.defaultLimits = {
      maxInstructions: pre?.scenario.run.maxInstructions ?? 1_000_000,
      maxFaults: pre?.scenario.run.maxFaults ?? 64,
    };
    this.hooks = new HookRegistry((kind) => this.plumbing.update(kind));
    this.plumbing = new HookPlumbing(this, this.core.cpu, this.core.mmu, this.hooks, (d) => this.runDecisions.push(d));
    this.regs = registerView(() => this.core.cpu);
    const paging: PagingState = { root: null, tablePages: [], avoidPfns: new Set() };
    this.state = { kernel: pre?.kernel ?? null, symbols: pre?.symbols ?? new Map(), paging, ended: null };
    pre?.attachKernelTrace(this.plumbing.kernelTrace);
  }

  /**
   * The machine a scenario describes, built by the scenario loader exactly as `snpemu scenario`
   * builds it: a JSON object, JSON text, or a file path. Throws the loader's InputError (file, JSON
   * path, what was expected) for bad input.
   */
  static fromScenario(input: unknown, file?: string): Machine {
    pendingScenario = buildScenario(input, file);
    try {
      return new Machine();
    } finally {
      pendingScenario = null;
    }
  }

  /** Bare-machine CPU state: long mode at CPL 0, as a kernel-none scenario starts (spec/scenario.md). */
  private setBareDefaults(): void {
    const cpu = this.core.cpu;
    const f = this.core.features;
    cpu.efer = EFER_LME_LMA_SCE | (f.nx ? EFER_NXE : 0n);
    cpu.cr4 = CR4_PAE | (f.smep ? CR4_SMEP : 0n) | (f.smap ? CR4_SMAP : 0n);
    cpu.cr0 = BARE_CR0;
    cpu.rflags = 2n;
    cpu.cpl = 0;
  }

  // ---- the parts ---------------------------------------------------------------------------------------

  get phys() {
    return this.core.phys;
  }

  get rmp(): RmpTable {
    return this.core.rmp;
  }

  /** The emulated kernel, once a process exists. */
  get kernel(): Kernel | null {
    return this.state.kernel;
  }

  /** The process's regions (name → va, pa of the first byte, size); empty without a process. */
  get symbols(): ProcessSymbols {
    return Object.fromEntries(this.state.symbols);
  }

  /** Page-table pages `map()` has used, and CR3's table. */
  get pageTables(): { root: number | null; pages: number[] } {
    return { root: this.state.paging.root, pages: [...this.state.paging.tablePages] };
  }

  // ---- physical memory -----------------------------------------------------------------------------------

  /** Write bytes at a physical address (a hex string like "0f 05" is accepted). Refused beyond RAM. */
  writePhysical(pa: number | bigint, data: Uint8Array | number[] | string): void {
    const at = address(pa, 'writePhysical pa');
    const bytes = bytesOf(data, 'writePhysical data');
    checkInRam(at, bytes.length, this.core.phys.size, 'writePhysical');
    this.core.phys.writeBytes(at, bytes);
    avoidRange(this.state.paging, at, bytes.length);
  }

  /** Read bytes at a physical address. Refused beyond RAM. */
  readPhysical(pa: number | bigint, length: number): Uint8Array {
    const at = address(pa, 'readPhysical pa');
    checkInRam(at, length, this.core.phys.size, 'readPhysical');
    return this.core.phys.readBytes(at, length);
  }

  /** 64-bit little-endian read at a physical address. */
  readPhysical64(pa: number | bigint): bigint {
    const at = address(pa, 'readPhysical64 pa');
    checkInRam(at, 8, this.core.phys.size, 'readPhysical64');
    return this.core.phys.readU64(at);
  }

  /** 64-bit little-endian write at a physical address. */
  writePhysical64(pa: number | bigint, value: bigint): void {
    const at = address(pa, 'writePhysical64 pa');
    checkInRam(at, 8, this.core.phys.size, 'writePhysical64');
    this.core.phys.writeU64(at, BigInt.asUintN(64, value));
    avoidRange(this.state.paging, at, 8);
  }

  // ---- linear memory (as a debugger sees it) ----------------------------------------------------------

  /**
   * The walk of a linear address, without side effects (no A/D writes, no TLB fill, no counters):
   * every level, the physical address, the RMP checks the access would make, the fault it would raise.
   */
  translate(va: bigint | number, access: 'read' | 'write' | 'fetch' = 'read', cpl?: number): WalkTrace {
    const la = Number(BigInt.asUintN(48, BigInt(va)));
    const kind = access === 'read' ? Access.Read : access === 'write' ? Access.Write : Access.Fetch;
    return this.core.mmu.walkTrace(la, kind, cpl === undefined ? {} : { cpl });
  }

  private physicalOf(va: bigint): number {
    const t = this.translate(va, 'read', 0);
    if (t.physicalAddress === null) {
      throw new MachineError(`0x${BigInt.asUintN(64, va).toString(16)} is not mapped: ${t.fault?.why ?? 'no translation'}`);
    }
    return t.physicalAddress;
  }

  /** Read bytes at a linear address through the current page tables (as a debugger: no permission checks, no A/D). */
  readVirtual(va: bigint | number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let v = BigInt(va);
    for (let i = 0; i < length;) {
      const pa = this.physicalOf(v);
      const n = Math.min(length - i, 4096 - (pa % 4096));
      out.set(this.core.phys.readBytes(pa, n), i);
      i += n;
      v += BigInt(n);
    }
    return out;
  }

  /** Write bytes at a linear address through the current page tables (as a debugger: ignores R/W, no A/D). */
  writeVirtual(va: bigint | number, data: Uint8Array | number[] | string): void {
    const bytes = bytesOf(data, 'writeVirtual data');
    let v = BigInt(va);
    for (let i = 0; i < bytes.length;) {
      const pa = this.physicalOf(v);
      const n = Math.min(bytes.length - i, 4096 - (pa % 4096));
      this.core.phys.writeBytes(pa, bytes.subarray(i, i + n));
      i += n;
      v += BigInt(n);
    }
  }

  // ---- RMP -------------------------------------------------------------------------------------------------

  /**
   * Give a page an RMP state, in the scenario vocabulary: 'hypervisor', 'hv-fixed', 'firmware',
   * 'reclaim', 'pre-guest', 'guest-invalid', 'guest-valid', with asid, gpa, size ('4K'|'2M'), vmsa.
   * Cached translations and decoded code of the page are dropped (RmpTable.onChange).
   */
  setRmp(pa: number | bigint, spec: PageStateSpec): void {
    const at = address(pa, 'setRmp pa');
    try {
      this.core.rmp.setState(at, spec);
    } catch (e) {
      throw new MachineError(`setRmp(0x${at.toString(16)}): ${(e as Error).message}`);
    }
    avoidRange(this.state.paging, at - (at % 4096), spec.size === '2M' ? 2 << 20 : 4096);
  }

  /** The RMP entry of the page holding `pa`, with its state name. */
  rmpEntry(pa: number | bigint): { state: string; entry: RmpEntry } {
    const pfn = Math.floor(address(pa, 'rmpEntry pa') / 4096);
    if (!this.core.rmp.isCovered(pfn)) throw new MachineError(`rmpEntry: page 0x${(pfn * 4096).toString(16)} is not covered by the RMP table`);
    const entry = this.core.rmp.entry(pfn);
    return { state: stateNameOf(entry), entry };
  }

  // ---- paging and processes ---------------------------------------------------------------------------

  /**
   * Map a page in the bare machine's page tables (built on first use, CR3 set to them). Returns CR3.
   * Under a process the kernel owns the tables: use createProcess regions instead.
   */
  map(req: MapRequest): bigint {
    if (this.state.kernel !== null) throw new MachineError('map: this machine runs a process; its kernel owns the page tables');
    const p = this.core.rmp.placement;
    const reserved = p.end > p.base ? [{ start: p.base, end: p.end + 1 }] : [];
    checkKeys(req, ['va', 'pa', 'size', 'flags', 'levels'], 'map(request)');
    const sizeBytes = req.size === '2M' ? 2 << 20 : req.size === '1G' ? 1 << 30 : 4096;
    if (typeof req.pa === 'number' || typeof req.pa === 'bigint') checkInRam(address(req.pa, 'map pa'), sizeBytes, this.core.phys.size, 'map pa');
    const root = mapPage(this.core.phys, this.state.paging, req, reserved);
    const cpu = this.core.cpu;
    const cr3 = BigInt(root) | (cpu.cr3 & 0xfffn);
    if (cpu.cr3 !== cr3) cpu.cr3 = cr3;
    else this.core.mmu.flushTlb(); // new entries: nothing stale can be cached, but keep it simple and exact
    return cr3;
  }

  /**
   * Let the emulated Linux kernel build a process: every region mapped and populated (MAP_POPULATE),
   * a stack, RIP at `entry`, CPL 3. Returns the regions' addresses.
   */
  createProcess(spec: ProcessSpec): ProcessSymbols {
    if (this.state.kernel !== null) throw new MachineError('createProcess: this machine already runs a process');
    checkProcessSpec(spec);
    const reserved: { pa: number; bytes: number }[] = [];
    for (const pfn of this.state.paging.avoidPfns) reserved.push({ pa: pfn * 4096, bytes: 4096 });
    const f = this.core.features;
    const kernel = new Kernel(this.core, {
      policy: spec.kernel ?? 'v7', reserved, features: { nx: f.nx, smep: f.smep, smap: f.smap }, trace: this.plumbing.kernelTrace,
    });
    const regions: RegionRequest[] = spec.regions.map((r, i) => {
      const what = `regions[${i}]`;
      return {
        name: r.name,
        at: Number(BigInt(r.at)),
        size: sizeValue(r.size, `${what}.size`),
        prot: protOf(r.prot ?? 'rw-', `${what}.prot`),
        pageBytes: r.page === undefined ? undefined : sizeValue(r.page, `${what}.page`),
        kind: r.kind,
        pa: r.pa === undefined ? undefined : address(r.pa, `${what}.pa`),
        bytes: r.bytes !== undefined ? bytesOf(r.bytes, `${what}.bytes`) : r.hex !== undefined ? bytesOf(r.hex, `${what}.hex`) : undefined,
      };
    });
    const byName = new Map(regions.map((r) => [r.name, r.at]));
    const resolve = (v: string | number | bigint, what: string): bigint => {
      if (typeof v !== 'string') return BigInt(v);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\+(.+))?$/.exec(v.trim());
      if (m !== null && byName.has(m[1]!)) {
        const off = m[2] === undefined ? 0n : parseInteger(m[2]);
        if (off === undefined) throw new MachineError(`${what}: bad offset in ${JSON.stringify(v)}`);
        return BigInt(byName.get(m[1]!)!) + off;
      }
      const n = parseInteger(v);
      if (n === undefined) throw new MachineError(`${what}: ${JSON.stringify(v)} is neither a region name nor a number`);
      return n;
    };
    const regs: Record<string, bigint> = {};
    for (const [name, v] of Object.entries(spec.regs ?? {})) if (v !== undefined) regs[name] = resolve(v, `regs.${name}`);
    let info: ProcessInfo;
    try {
      info = kernel.createProcess({ regions, entry: resolve(spec.entry, 'entry'), regs, stdin: spec.stdin });
    } catch (e) {
      if (e instanceof KernelSetupError) throw new MachineError(`createProcess: ${e.message}`);
      throw e;
    }
    this.state.kernel = kernel;
    this.state.symbols = new Map([...info.symbols.values()].map((s) => [s.name, { va: s.va, pa: s.pa, size: s.size }]));
    return this.symbols;
  }

  // ---- CPU ---------------------------------------------------------------------------------------------------

  get cpl(): number {
    return this.core.cpu.cpl;
  }

  set cpl(v: number) {
    this.core.cpu.cpl = v;
  }

  /** Every register by name. */
  registers(): Record<RegisterName, bigint> {
    return readAllRegisters(this.core.cpu);
  }

  /** Decode the instruction at a linear address (through the page tables, for fetch). */
  decode(rip: bigint | number): { length: number; mnemonic: string } {
    try {
      const d = this.core.cpu.decodeAt(BigInt(rip));
      return { length: d.len, mnemonic: d.row?.mnemonic ?? '(invalid)' };
    } catch (e) {
      if (e instanceof CpuFault) throw new MachineError(`decode(0x${BigInt.asUintN(64, BigInt(rip)).toString(16)}): the fetch raises #${e.name}: ${e.why}`);
      throw e;
    }
  }

  // ---- running ---------------------------------------------------------------------------------------------

  /**
   * Run until something ends it: see Outcome for every reason. Never hangs: the budgets bound every
   * run (maxInstructions ≤ MAX_INSTRUCTIONS = 1e10). Once the process has ended (exit, signal, oops),
   * every later run returns that outcome again without executing (docs/api.md, "Running").
   */
  run(limits: RunLimits = {}): RunResult {
    checkKeys(limits, RUN_KEYS, 'run(limits)');
    const ctx: RunContext = {
      core: this.core,
      plumbing: this.plumbing,
      maxInstructions: budget(limits.maxInstructions, this.defaultLimits.maxInstructions, MAX_INSTRUCTIONS, 'maxInstructions'),
      maxFaults: budget(limits.maxFaults, this.defaultLimits.maxFaults, MAX_FAULTS, 'maxFaults'),
      until: limits.until === undefined ? null : BigInt.asUintN(64, integerValue(limits.until, 'run: until')),
    };
    if (this.running) throw new MachineError('run: the machine is already running (run called from a hook)');
    const ended = this.state.ended;
    if (ended !== null) return this.endedAgain(ended);
    this.runDecisions = [];
    const kernel = this.state.kernel;
    this.running = true;
    let result: RunResult;
    try {
      result = kernel === null ? runBare(ctx) : runProcess(ctx, kernel, () => this.runDecisions);
    } finally {
      this.running = false;
    }
    const kind = result.outcome.kind;
    if (kernel !== null && (kind === 'exit' || kind === 'signal' || kind === 'oops')) this.state.ended = result;
    const events = this.scenario?.events.length ?? 0;
    if (events > 0) {
      result.warning = `this scenario has ${events} event${events === 1 ? '' : 's'}, which run() does not fire; ` +
        'runScenario() runs it with its events, as the CLI does';
    }
    return result;
  }

  /** The process has ended: the same outcome, nothing executed, this run's counters zero. */
  private endedAgain(ended: RunResult): RunResult {
    const o = ended.outcome;
    return {
      ...ended,
      outcome: { ...o, message: `the process has already ended: ${o.message}` } as typeof o,
      faults: [],
      kernel: [],
      stats: { instructions: 0, walks: 0, tlbHits: 0, tlbMisses: 0, rmpChecks: 0 },
    };
  }

  /** Execute one instruction. */
  step(): RunResult {
    return this.run({ maxInstructions: 1 });
  }

  /**
   * Run the scenario this machine was built from, exactly as `snpemu scenario` does: its events,
   * budgets and expectations. Hooks fire; a hook's 'stop' is not supported here (use run()).
   */
  runScenario(): ScenarioResult {
    if (this.scenarioBuild === null) throw new MachineError('runScenario: this machine was not built with Machine.fromScenario');
    if (this.running) throw new MachineError('runScenario: the machine is already running (called from a hook)');
    this.running = true;
    try {
      return this.scenarioBuild.run();
    } catch (e) {
      if (e instanceof RunStop) {
        throw new MachineError(`runScenario: a ${e.by} hook answered 'stop', which a scenario run cannot honour; use machine.run() to stop runs from hooks`);
      }
      throw e;
    } finally {
      this.running = false;
      this.plumbing.endRun();
    }
  }

  // ---- snapshots --------------------------------------------------------------------------------------------

  private parts(): SnapshotParts {
    const c = this.core;
    return {
      phys: c.phys, rmp: c.rmp, mmu: c.mmu, cpu: c.cpu, kernel: this.state.kernel, facade: this.state,
      external: new Set<object>([c, c.phys, c.rmp, c.mmu, c.cpu, this, this.plumbing, this.hooks]),
    };
  }

  /** Save the whole machine: CPU, memory (copy-on-write), RMP, kernel. Cheap; see docs/api.md "Snapshots". */
  snapshot(): Snapshot {
    if (this.running) throw new MachineError('snapshot: the machine is running (called from a hook); take snapshots between runs');
    return takeSnapshot(this.parts());
  }

  /** Put the machine back exactly as it was at `snapshot` (any number of times). */
  restore(snapshot: Snapshot): void {
    if (this.running) throw new MachineError('restore: the machine is running (called from a hook); restore between runs');
    if (!(snapshot instanceof Snapshot)) throw new MachineError('restore: expected a Snapshot from machine.snapshot()');
    const p = this.parts();
    restoreSnapshot(snapshot, { ...p, kernel: snapshot.kernel });
  }
}

export { Snapshot };
