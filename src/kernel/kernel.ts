// The emulated Linux host kernel: one process on one CPU. It builds the address space, runs the CPU
// at CPL3, and handles what comes back: SYSCALL (syscalls.ts), exceptions (the #PF path in
// fault-handler.ts, signals for the others), and its own kernel-mode faults (uaccess on user
// addresses, RMP-checked writes through the direct map).
//
// Run API (docs/kernel.md, "API"):
//   const k = new Kernel(machine, { policy: 'v7' | 'mainline', reserved, features, trace })
//   const info = k.createProcess({ regions, entry, regs, stdin })   // or k.loadElf(bytes, argv, envp)
//   const result = k.run({ maxInstructions, maxFaults, hooks })
//   mm operations for events: k.unmapRegion(name), k.munmapRegion(name), k.remapRegion(name, pa)
//   lookups: k.translate(va), k.tableOf(va, level)

import { CpuFault, PfErr, Vector } from '../cpu/fault.ts';
import { Access, type AccessKind } from '../mmu/linear-memory.ts';
import {
  Errno, GPR_NAMES, KERNEL_RIP, SIGNAL_NAMES, SIZE_4K, SiCode, Signal, TASK_SIZE_MAX, type SiCodeName,
} from './constants.ts';
import { ElfError, parseElf, PF_R, PF_W, PF_X, type ElfImage } from './elf.ts';
import { FaultHandler, type HandlerResult } from './fault-handler.ts';
import { FrameAllocator, OutOfFramesError } from './frame-allocator.ts';
import { DirectMapFault, KernelMemory } from './kernel-memory.ts';
import type { KernelCpu, KernelMachine, KernelMmu } from './machine-port.ts';
import { AddressSpace, hex, MmError } from './mm.ts';
import { TABLE_LEVEL } from './page-tables.ts';
import { rmpPortFor, type KernelRmpPort } from './rmp-port.ts';
import { buildInitialStack } from './stack.ts';
import {
  buildFrame, decodeSigAction, encodeSigAction, FIX_EFLAGS, FRAME_BYTES, readUcontext, SA_NODEFER, SA_RESETHAND,
  SA_RESTORER, SIGINFO_OFFSET, SIG_DFL, SIG_IGN, UC_OFFSET, type SigAction,
} from './signals.ts';
import { dispatchSyscall, type SyscallContext } from './syscalls.ts';
import type {
  DecisionRecord, FaultRecord, KernelOptions, KernelTrace, Outcome, ProcessInfo, ProcessRequest, RegionSymbol,
  RunOptions, RunResult, SyscallNote,
} from './types.ts';
import type { Vma } from './vma.ts';

/** A process setup that cannot be built (overlapping regions, no memory, bad alignment...). */
export class KernelSetupError extends Error {
  override name = 'KernelSetupError';
}

/** Thrown inside the kernel to unwind to the run loop once the outcome is decided. */
class RunEnded {}
/** Thrown by uaccess when the fixup path makes the copy fail with -EFAULT. */
export class UaccessFault {}

/** Top of the user stack (Linux STACK_TOP with 4-level paging and no randomisation). */
export const STACK_TOP = 0x7ffffffff000;
/** The stack VMA (RLIMIT_STACK's default 8 MiB) and the part populated at exec. */
const STACK_BYTES = 8 * 1024 * 1024;
const STACK_POPULATED = 128 * 1024;
/** Livelock: the same fault this many times in a row with nothing changed (scenario.md `expect`). */
export const LIVELOCK_REPEATS = 8;

/** CR0 = PG|WP|NE|ET|MP|PE, CR4 = PAE (+SMEP, SMAP), EFER = LME|LMA|SCE (+NXE): as scenario.md's defaults. */
const CR0_USER = 0x80010033n;
const CR4_PAE = 0x20n;
const CR4_SMEP = 1n << 20n;
const CR4_SMAP = 1n << 21n;
const EFER_BASE = 0x501n; // SCE | LME | LMA
const EFER_NXE = 0x800n;
const RFLAGS_AC = 1n << 18n;

export class Kernel {
  readonly policy: 'v7' | 'mainline';
  readonly frames: FrameAllocator;
  readonly kmem: KernelMemory;
  private mmState: AddressSpace | null = null;
  private handlerState: FaultHandler | null = null;
  readonly rmpPort: KernelRmpPort;
  private readonly cpu: KernelCpu;
  private readonly mmu: KernelMmu;
  private readonly features: { nx: boolean; smep: boolean; smap: boolean };
  private readonly trace: KernelTrace;

  private readonly regions = new Map<string, { start: number; end: number }>();
  private stdin: Uint8Array = new Uint8Array(0);
  private stdinPos = 0;
  private readonly stdout: Uint8Array[] = [];
  private readonly stderr: Uint8Array[] = [];
  brkStart = 0;
  brkEnd = 0;
  private instructionBase = 0;
  /** MMU counters when the run started: the result reports this run's share. */
  private statsBase = { walks: 0, tlbHits: 0, tlbMisses: 0, rmpChecks: 0 };
  private processReady = false;

  // Per-run state.
  private faults: FaultRecord[] = [];
  private decisions: DecisionRecord[] = [];
  private syscalls = 0;
  private outcome: Outcome | null = null;
  private maxFaults = 64;
  private hooks: RunOptions['hooks'] = {};
  private rmpGeneration = 0;
  private lastFaultKey = '';
  private sameFaultCount = 0;
  /** rt_sigaction handlers, and the blocked-signal mask (bit signo-1). */
  private readonly sigactions = new Map<number, SigAction>();
  private blocked = 0n;
  /** Notes the syscall layer leaves (ENOSYS and friends). */
  readonly notes: SyscallNote[] = [];

  constructor(private readonly machine: KernelMachine, opts: KernelOptions) {
    this.policy = opts.policy;
    this.cpu = machine.cpu;
    this.mmu = machine.mmu;
    this.trace = opts.trace ?? {};
    this.features = { nx: opts.features?.nx ?? true, smep: opts.features?.smep ?? true, smap: opts.features?.smap ?? true };
    this.frames = new FrameAllocator(machine.phys.size);
    const placement = machine.rmp.placement;
    if (placement.end > placement.base) {
      const r = machine.rmp.reservedRange();
      this.frames.reserve(r.start, r.end - r.start);
    }
    for (const r of opts.reserved ?? []) this.frames.reserve(r.pa, r.bytes);
    this.kmem = new KernelMemory(machine.phys, machine.rmp);
    this.rmpPort = rmpPortFor(machine.rmp);
    machine.rmp.onChange(() => {
      this.rmpGeneration++;
    });
  }

  /** The process's address space (exists once createProcess or loadElf has begun). */
  get mm(): AddressSpace {
    if (this.mmState === null) throw new KernelSetupError('no process: call createProcess or loadElf first');
    return this.mmState;
  }

  private get handler(): FaultHandler {
    this.handlerState ??= new FaultHandler(this.policy, this.mm, this.rmpPort);
    return this.handlerState;
  }

  /**
   * Create the address space (its PML4 is the first frame it takes), after every pinned range is
   * reserved, so the allocator can never hand a pinned frame to a page table.
   */
  private createAddressSpace(pinned: { name: string; pa: number; size: number }[]): void {
    for (const p of pinned) {
      if (!Number.isSafeInteger(p.pa) || p.pa < 0 || p.pa + p.size > this.machine.phys.size) {
        throw new KernelSetupError(`region "${p.name}": pinned frames ${hex(p.pa)}-${hex(p.pa + p.size)} are not all in RAM (RAM ends at ${hex(this.machine.phys.size)})`);
      }
      this.frames.reserve(p.pa, p.size);
    }
    this.setup(() => {
      this.mmState = new AddressSpace(this.kmem, this.frames, { invlpg: (la) => this.mmu.invlpg(la), flushAll: () => this.mmu.flushTlb() }, this.features.nx);
    });
  }

  // ---- building a process -------------------------------------------------------------------------

  /** Build a process from scenario-style regions: every region mapped and populated (MAP_POPULATE). */
  createProcess(req: ProcessRequest): ProcessInfo {
    if (this.processReady) throw new KernelSetupError('this kernel already runs a process');
    const symbols = new Map<string, RegionSymbol>();
    this.createAddressSpace(req.regions.filter((r) => r.pa !== undefined).map((r) => ({ name: r.name, pa: r.pa!, size: r.size })));
    this.setup(() => {
      for (const r of req.regions) {
        if (this.regions.has(r.name)) throw new KernelSetupError(`region name "${r.name}" is used twice`);
        this.mm.map({
          name: r.name, start: r.at, size: r.size, prot: r.prot, kind: r.kind ?? 'anon',
          pageBytes: r.pageBytes ?? SIZE_4K, pa: r.pa, bytes: r.bytes, populate: true,
        });
        this.regions.set(r.name, { start: r.at, end: r.at + r.size });
        symbols.set(r.name, { name: r.name, va: r.at, size: r.size, pa: this.mm.translate(r.at) ?? -1 });
      }
    });
    const highest = Math.max(0x400000, ...req.regions.filter((r) => r.at + r.size < 2 ** 32).map((r) => r.at + r.size));
    this.brkStart = this.brkEnd = Math.ceil(highest / SIZE_4K) * SIZE_4K + 0x1000000;
    const entry = Number(req.entry);
    const info = this.startProcess(entry, req.argv ?? [], req.envp ?? [], '', { phdr: 0, phent: 56, phnum: 0, entry });
    for (const [name, value] of Object.entries(req.regs ?? {})) this.setRegByName(name, value);
    this.setStdin(req.stdin);
    return { ...info, symbols };
  }

  /** execve of a static ELF64 (ET_EXEC or static-PIE). Throws ElfError for a bad file. */
  loadElf(bytes: Uint8Array, argv: string[] = ['program'], envp: string[] = [], stdin?: string | Uint8Array): ProcessInfo {
    if (this.processReady) throw new KernelSetupError('this kernel already runs a process');
    const image = parseElf(bytes);
    // Static PIE: no interpreter, so load_elf_binary puts it at ELF_ET_DYN_BASE (2/3 of TASK_SIZE,
    // page-aligned; no randomisation). Its own start code relocates itself.
    const bias = image.type === 'pie' ? 0x555555554000 : 0;
    this.createAddressSpace([]);
    this.setup(() => this.mapElf(bytes, image, bias));
    const entry = image.entry + bias;
    const phdr = image.phdrVaddr !== undefined ? image.phdrVaddr + bias : this.phdrAddress(image, bias);
    this.brkStart = this.brkEnd = Math.ceil((image.end + bias) / SIZE_4K) * SIZE_4K;
    const info = this.startProcess(entry, argv, envp, argv[0] ?? 'program', { phdr, phent: 56, phnum: image.phnum, entry }, image.execStack);
    this.setStdin(stdin);
    return { ...info, symbols: new Map() };
  }

  private phdrAddress(image: ElfImage, bias: number): number {
    // The program headers live in the file; find the PT_LOAD that maps their file offset.
    for (const s of image.segments) {
      if (image.phoff >= s.offset && image.phoff + image.phnum * 56 <= s.offset + s.filesz) return s.vaddr + (image.phoff - s.offset) + bias;
    }
    return 0;
  }

  private mapElf(bytes: Uint8Array, image: ElfImage, bias: number): void {
    image.segments.forEach((s, i) => {
      const start = Math.floor((s.vaddr + bias) / SIZE_4K) * SIZE_4K;
      const end = Math.ceil((s.vaddr + bias + s.memsz) / SIZE_4K) * SIZE_4K;
      const content = new Uint8Array(end - start);
      content.set(bytes.subarray(s.offset, s.offset + s.filesz), s.vaddr + bias - start);
      this.mm.map({
        name: `elf-segment-${i}`, start, size: end - start,
        prot: { read: (s.flags & PF_R) !== 0, write: (s.flags & PF_W) !== 0, exec: (s.flags & PF_X) !== 0 },
        kind: 'anon', pageBytes: SIZE_4K, bytes: content, populate: true,
      });
    });
  }

  /** Run `fn` (setup work); kernel faults and bad requests become KernelSetupError. */
  private setup(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof MmError || e instanceof OutOfFramesError) throw new KernelSetupError(e.message);
      if (e instanceof DirectMapFault) throw new KernelSetupError(`setup wrote through the direct map to pa ${hex(e.pa)} (${e.what}) and failed the RMP check: ${e.failure.why}`);
      throw e;
    }
  }

  private startProcess(entry: number, argv: string[], envp: string[], execfn: string, aux: { phdr: number; phent: number; phnum: number; entry: number }, execStack = false): Omit<ProcessInfo, 'symbols'> {
    const stack = buildInitialStack(STACK_TOP, argv, envp, execfn, aux);
    this.setup(() => {
      const start = STACK_TOP - STACK_BYTES;
      const vma = this.mm.map({ name: '[stack]', start, size: STACK_BYTES, prot: { read: true, write: true, exec: execStack }, kind: 'anon', pageBytes: SIZE_4K, populate: false });
      for (let va = STACK_TOP - STACK_POPULATED; va < STACK_TOP; va += SIZE_4K) this.mm.handleMmFault(vma, va, true, false);
      for (let off = 0; off < stack.bytes.length; ) {
        const va = stack.low + off;
        const chunk = Math.min(stack.bytes.length - off, SIZE_4K - (va % SIZE_4K));
        const pa = this.mm.translate(va)!;
        this.kmem.writeBytes(pa, stack.bytes.subarray(off, off + chunk), KERNEL_RIP.copy_user, 'create_elf_tables');
        off += chunk;
      }
    });
    const cpu = this.cpu;
    for (let i = 0; i < 16; i++) cpu.setReg(i, 0n);
    cpu.setReg(4, BigInt(stack.rsp));
    cpu.rflags = 0x202n; // start_thread: IF plus the fixed bit 1
    cpu.fsBase = 0n;
    cpu.gsBase = 0n;
    cpu.cr0 = CR0_USER;
    cpu.cr4 = CR4_PAE | (this.features.smep ? CR4_SMEP : 0n) | (this.features.smap ? CR4_SMAP : 0n);
    cpu.efer = EFER_BASE | (this.features.nx ? EFER_NXE : 0n);
    cpu.cr3 = BigInt(this.mm.tables.root);
    cpu.cpl = 3;
    cpu.rip = BigInt(entry);
    this.instructionBase = cpu.instructions;
    this.processReady = true;
    return { entry, rsp: stack.rsp, stackTop: STACK_TOP };
  }

  private setStdin(stdin: string | Uint8Array | undefined): void {
    this.stdin = typeof stdin === 'string' ? new TextEncoder().encode(stdin) : stdin ?? new Uint8Array(0);
    this.stdinPos = 0;
  }

  private setRegByName(name: string, value: bigint): void {
    const i = (GPR_NAMES as readonly string[]).indexOf(name);
    if (i >= 0) this.cpu.setReg(i, value);
    else if (name === 'rflags') this.cpu.rflags = value;
    else if (name === 'fsbase') this.cpu.fsBase = value;
    else if (name === 'gsbase') this.cpu.gsBase = value;
    else if (name === 'rip') this.cpu.rip = value;
    else throw new KernelSetupError(`a process cannot start with register "${name}" set`);
  }

  // ---- mm operations for scenario events and tools -------------------------------------------------

  private region(name: string): { start: number; end: number } {
    const r = this.regions.get(name);
    if (r === undefined) throw new KernelSetupError(`no region named "${name}"`);
    return r;
  }

  /** Zap the region's page-table entries (reclaim, MADV_DONTNEED): the VMA stays. */
  unmapRegion(name: string): void {
    const r = this.region(name);
    this.mmOp(() => this.mm.zap(r.start, r.end));
  }

  /** Remove the region's mapping and VMA (munmap). */
  munmapRegion(name: string): void {
    const r = this.region(name);
    this.mmOp(() => this.mm.munmap(r.start, r.end));
  }

  /** Point the region's present entries at frames starting at physical address `to`. */
  remapRegion(name: string, to: number): void {
    const r = this.region(name);
    this.mmOp(() => this.mm.remap(r.start, r.end, to));
  }

  private mmOp(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof DirectMapFault) {
        this.directMapFault(e);
        return;
      }
      if (e instanceof MmError) throw new KernelSetupError(e.message);
      throw e;
    }
  }

  /** Physical address `va` maps to now, or null. */
  translate(va: number): number | null {
    return this.mm.translate(va);
  }

  /** The page-table page the walk of `va` uses at `level`, or null (scenario `tableOf`). */
  tableOf(va: number, level: 'pml4' | 'pdpt' | 'pd' | 'pt'): number | null {
    return this.mm.tables.tableOf(va, TABLE_LEVEL[level]);
  }

  regionNames(): string[] {
    return [...this.regions.keys()];
  }

  // ---- running ------------------------------------------------------------------------------------

  run(opts: RunOptions = {}): RunResult {
    if (!this.processReady) throw new KernelSetupError('no process: call createProcess or loadElf first');
    const maxInstructions = opts.maxInstructions ?? 1_000_000;
    this.maxFaults = opts.maxFaults ?? 64;
    this.hooks = opts.hooks ?? {};
    this.faults = [];
    this.decisions = [];
    this.syscalls = 0;
    this.outcome = null;
    this.lastFaultKey = '';
    this.sameFaultCount = 0;
    const marks = [...new Set(this.hooks.instructionMarks ?? [])].filter((m) => m >= 0).sort((a, b) => a - b);
    const cpu = this.cpu;
    const runStart = cpu.instructions;
    const s0 = this.mmu.stats;
    this.statsBase = { walks: s0.walks, tlbHits: s0.tlbHits, tlbMisses: s0.tlbMisses, rmpChecks: s0.rmpChecks };
    let markIndex = 0;
    while (this.outcome === null) {
      const done = cpu.instructions - runStart;
      const sinceStart = cpu.instructions - this.instructionBase;
      while (markIndex < marks.length && marks[markIndex]! <= sinceStart) {
        this.guard(() => this.hooks!.afterInstructions?.(marks[markIndex]!));
        markIndex++;
      }
      if (this.outcome !== null) break;
      if (done >= maxInstructions) {
        this.outcome = { kind: 'limit', message: `the instruction budget (maxInstructions = ${maxInstructions}) ran out` };
        break;
      }
      let budget = maxInstructions - done;
      if (markIndex < marks.length) budget = Math.min(budget, marks[markIndex]! - sinceStart);
      const stop = cpu.run(budget);
      this.guard(() => {
        switch (stop.kind) {
          case 'syscall':
            this.syscall();
            break;
          case 'fault':
            this.userException(stop.fault);
            break;
          case 'halt':
            // HLT at CPL3 is #GP(0) (AMD APM Vol.3 HLT); a CPU that stops instead is treated the same.
            this.userException(new CpuFault(Vector.GP, 0, 0n, 'HLT at CPL3'));
            break;
          case 'hook':
          case 'stop-address':
            // A CPU hook (or stopAt) asked the run to stop: end it rather than re-enter the same stop.
            this.end({ kind: 'limit', message: `the run was stopped by a CPU ${stop.kind === 'hook' ? 'hook' : 'stop address'} at RIP ${hex(cpu.rip)}` });
            break;
          default:
            break;
        }
      });
    }
    return this.result();
  }

  /** Run kernel work; a decided outcome unwinds here, a kernel write fault becomes an oops. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof RunEnded) return;
      if (e instanceof DirectMapFault) {
        this.directMapFault(e);
        return;
      }
      throw e;
    }
  }

  private end(outcome: Outcome): never {
    if (this.outcome === null) this.outcome = outcome;
    throw new RunEnded();
  }

  private result(): RunResult {
    const cpu = this.cpu;
    const regs: Record<string, bigint> = {};
    GPR_NAMES.forEach((n, i) => {
      regs[n] = cpu.getReg(i);
    });
    regs.rip = cpu.rip;
    regs.rflags = cpu.rflags;
    regs.fsbase = cpu.fsBase;
    regs.gsbase = cpu.gsBase;
    const dec = new TextDecoder();
    const join = (parts: Uint8Array[]): string => dec.decode(concat(parts));
    const s = this.mmu.stats;
    return {
      outcome: this.outcome!,
      faults: this.faults,
      kernel: this.decisions,
      stdout: join(this.stdout),
      stderr: join(this.stderr),
      regs,
      stats: {
        instructions: cpu.instructions - this.instructionBase,
        walks: s.walks - this.statsBase.walks,
        tlbHits: s.tlbHits - this.statsBase.tlbHits,
        tlbMisses: s.tlbMisses - this.statsBase.tlbMisses,
        rmpChecks: s.rmpChecks - this.statsBase.rmpChecks,
        faults: this.faults.length, syscalls: this.syscalls,
      },
    };
  }

  /** Raw output bytes so far (for callers that want bytes, not text). */
  output(fd: 1 | 2): Uint8Array {
    return concat(fd === 1 ? this.stdout : this.stderr);
  }

  // ---- faults -------------------------------------------------------------------------------------

  /**
   * Record a raised fault, fire the hooks, check the budgets and the livelock rule. Returns the record
   * for the handler; ends the run (throws RunEnded) when a budget or the livelock rule says so.
   */
  private raise(f: CpuFault, rip: bigint, kernelMode: boolean): FaultRecord {
    const rec: FaultRecord = {
      vector: f.vector, errorCode: f.errorCode >>> 0, address: f.vector === Vector.PF ? f.address : 0n,
      rip, rmp: f.rmp || (f.vector === Vector.PF && (f.errorCode & PfErr.RMP) !== 0), kernelMode, why: f.why,
    };
    if (this.faults.length >= this.maxFaults) {
      this.end({ kind: 'limit', message: `the fault budget (maxFaults = ${this.maxFaults}) ran out at a #${f.name} at ${hex(rip)}` });
    }
    this.faults.push(rec);
    const n = this.faults.length;
    this.hooks?.onFault?.(n, rec);
    // Livelock (scenario.md `expect`): the same (vector, error code, address, RIP) raised
    // LIVELOCK_REPEATS times in a row, with registers, page tables and the RMP unchanged between raises.
    const key = `${rec.vector}|${rec.errorCode}|${rec.address}|${rip}|${kernelMode}|${this.stateFingerprint()}`;
    if (key === this.lastFaultKey) this.sameFaultCount++;
    else {
      this.lastFaultKey = key;
      this.sameFaultCount = 1;
    }
    if (this.sameFaultCount >= LIVELOCK_REPEATS) {
      const last = this.decisions[this.decisions.length - 1];
      const who = kernelMode ? `the kernel's ${rip === KERNEL_RIP.copy_user ? 'copy_to_user/copy_from_user' : 'access'} (a kernel-thread livelock: the exception fixup never runs)` : 'the user instruction';
      this.end({
        kind: 'livelock',
        message: `livelock: #${f.name} error code ${hex(rec.errorCode)} at ${hex(rec.address)} from ${who} at RIP ${hex(rip)} was raised ${LIVELOCK_REPEATS} times in a row with registers, page tables and RMP unchanged; the handler's last decision was "${last?.action ?? 'none'}": ${last?.why ?? ''}`,
      });
    }
    return rec;
  }

  private stateFingerprint(): string {
    const cpu = this.cpu;
    let s = `${this.kmem.tableGeneration}/${this.rmpGeneration}/${cpu.rip}/${cpu.rflags}`;
    for (let i = 0; i < 16; i++) s += `/${cpu.getReg(i)}`;
    return s;
  }

  private decide(result: HandlerResult, rec: FaultRecord): void {
    this.decisions.push(result.decision);
    this.trace.decision?.(result.decision, rec);
  }

  /** An exception the CPU raised at CPL3. */
  private userException(f: CpuFault): void {
    const rip = this.cpu.rip;
    const rec = this.raise(f, rip, false);
    this.hooks?.beforeHandler?.(rec, this.faults.length);
    if (f.vector !== Vector.PF) {
      this.signalForException(f, rip);
      return;
    }
    const r = this.handler.handle({ errorCode: rec.errorCode, address: f.address, rip }, true);
    this.decide(r, rec);
    this.applyHandlerResult(r);
  }

  private applyHandlerResult(r: HandlerResult): 'resume' | 'efault' {
    switch (r.kind) {
      case 'resume':
        return 'resume';
      case 'efault':
        return 'efault';
      case 'signal':
        this.deliverSignal(r.signo, r.siCode, r.siAddr, r.decision.why, { trapno: Vector.PF, err: this.faults[this.faults.length - 1]?.errorCode ?? 0, cr2: r.siAddr });
        return 'resume';
      case 'oops':
        return this.end({ kind: 'oops', message: r.message });
    }
  }

  /**
   * Force a synchronous signal (force_sig_fault). A handler installed with rt_sigaction (SA_RESTORER
   * required on x86-64) gets an rt_sigframe and the run goes on; a signal that is blocked, ignored
   * or at SIG_DFL takes the default action: terminate (the CLI exits with 128 + signo). As in Linux,
   * ignoring or blocking a synchronous fault signal does not let the program continue.
   */
  private deliverSignal(signo: number, siCode: SiCodeName, siAddr: bigint, why: string, trap: { trapno: number; err: number; cr2: bigint }): void {
    const signal = SIGNAL_NAMES[signo] ?? `signal ${signo}`;
    const act = this.sigactions.get(signo);
    const bit = 1n << BigInt(signo - 1);
    if (act !== undefined && act.handler !== SIG_DFL && act.handler !== SIG_IGN && (this.blocked & bit) === 0n) {
      // x64_setup_rt_frame refuses a handler without SA_RESTORER (-EFAULT → force_sigsegv).
      if ((act.flags & SA_RESTORER) !== 0n && this.setupRtFrame(signo, act, SiCode[siCode], siAddr, trap)) return;
      why = (act.flags & SA_RESTORER) === 0n
        ? `${why}; the ${signal} handler has no SA_RESTORER, so setup_rt_frame fails: force_sigsegv`
        : `${why}; then the signal frame could not be written to the user stack, so force_sigsegv`;
      signo = Signal.SIGSEGV;
      siCode = 'SI_KERNEL';
      siAddr = 0n;
    }
    const name = SIGNAL_NAMES[signo] ?? signal;
    this.end({ kind: 'signal', signal: name, signo, siCode, siAddr, message: `${name} (${siCode}) at ${hex(siAddr)}: ${why}` });
  }

  /** setup_rt_frame (arch/x86/kernel/signal_64.c): push an rt_sigframe and enter the handler. */
  private setupRtFrame(signo: number, act: SigAction, siCode: number, siAddr: bigint, trap: { trapno: number; err: number; cr2: bigint }): boolean {
    const cpu = this.cpu;
    // get_sigframe: skip the 128-byte red zone, make room, round down to 16 and subtract 8 so the
    // handler starts as if called (RSP ≡ 8 mod 16).
    let sp = cpu.getReg(4) - 128n - BigInt(FRAME_BYTES);
    sp = sp - (sp % 16n) - 8n;
    const gprs = Array.from({ length: 16 }, (_, i) => cpu.getReg(i));
    const frame = buildFrame({
      signo, siCode, siAddr, gprs, rip: cpu.rip, rflags: cpu.rflags, trapno: trap.trapno, err: trap.err, cr2: trap.cr2,
      blocked: this.blocked, restorer: act.restorer,
    });
    if (sp < 0n || !this.copyToUser(Number(sp), frame)) return false;
    cpu.setReg(7, BigInt(signo)); // rdi
    cpu.setReg(6, sp + BigInt(SIGINFO_OFFSET)); // rsi = &frame->info
    cpu.setReg(2, sp + BigInt(UC_OFFSET)); // rdx = &frame->uc
    cpu.setReg(0, 0n);
    cpu.setReg(4, sp);
    cpu.rip = act.handler;
    cpu.rflags = cpu.rflags & ~(0x400n | 0x100n | 0x10000n); // clear DF, TF, RF
    this.blocked |= act.mask | ((act.flags & SA_NODEFER) !== 0n ? 0n : 1n << BigInt(signo - 1));
    if ((act.flags & SA_RESETHAND) !== 0n) this.sigactions.delete(signo);
    return true;
  }

  /** rt_sigaction(sig, act, oact, sigsetsize). */
  private sysRtSigaction(sig: number, actPtr: bigint, oactPtr: bigint, setsize: bigint): bigint {
    if (setsize !== 8n || sig < 1 || sig > 64 || sig === 9 || sig === 19) return BigInt(-Errno.EINVAL);
    const old = this.sigactions.get(sig) ?? { handler: SIG_DFL, flags: 0n, restorer: 0n, mask: 0n };
    let next: SigAction | undefined;
    if (actPtr !== 0n) {
      const bytes = this.copyFromUser(Number(BigInt.asUintN(64, actPtr) < BigInt(TASK_SIZE_MAX) ? actPtr : -1n), 32);
      if (bytes === null) return BigInt(-Errno.EFAULT);
      next = decodeSigAction(bytes);
    }
    if (oactPtr !== 0n && !this.copyToUser(Number(BigInt.asUintN(64, oactPtr) < BigInt(TASK_SIZE_MAX) ? oactPtr : -1n), encodeSigAction(old))) return BigInt(-Errno.EFAULT);
    if (next !== undefined) {
      if (next.handler === SIG_DFL) this.sigactions.delete(sig);
      else this.sigactions.set(sig, next);
    }
    return 0n;
  }

  /** rt_sigreturn: restore the registers and mask saved in the frame (restore_sigcontext). */
  private sysRtSigreturn(): bigint {
    const cpu = this.cpu;
    const uc = cpu.getReg(4); // the handler's RET popped pretcode: RSP = &frame->uc
    const bytes = uc < BigInt(TASK_SIZE_MAX) ? this.copyFromUser(Number(uc), FRAME_BYTES - UC_OFFSET) : null;
    if (bytes === null) {
      this.deliverSignal(Signal.SIGSEGV, 'SI_KERNEL', 0n, `rt_sigreturn could not read the signal frame at ${hex(uc)}`, { trapno: 0, err: 0, cr2: 0n });
      return 0n;
    }
    const saved = readUcontext(bytes);
    saved.gprs.forEach((v, i) => cpu.setReg(i, v));
    cpu.rip = saved.rip;
    const fix = BigInt(FIX_EFLAGS);
    cpu.rflags = (cpu.rflags & ~fix) | (saved.rflags & fix);
    this.blocked = saved.blocked;
    return saved.gprs[0]!;
  }

  /**
   * Signals for the other exceptions, as arch/x86/kernel/traps.c sends them:
   * #DE → SIGFPE FPE_INTDIV (si_addr = RIP); #UD → SIGILL ILL_ILLOPN (si_addr = RIP);
   * #BP → SIGTRAP SI_KERNEL (do_int3_user → do_trap with no siginfo); #DB → SIGTRAP TRAP_BRKPT;
   * #GP → SIGSEGV SI_KERNEL; #SS → SIGBUS SI_KERNEL; #AC → SIGBUS BUS_ADRALN; others → SIGSEGV SI_KERNEL.
   */
  private signalForException(f: CpuFault, rip: bigint): void {
    const why = `#${f.name} at RIP ${hex(rip)}${f.why ? `: ${f.why}` : ''}`;
    const trap = { trapno: f.vector, err: f.errorCode >>> 0, cr2: 0n };
    switch (f.vector) {
      case Vector.DE: return this.deliverSignal(Signal.SIGFPE, 'FPE_INTDIV', rip, why, trap);
      case Vector.UD: return this.deliverSignal(Signal.SIGILL, 'ILL_ILLOPN', rip, why, trap);
      case Vector.BP: return this.deliverSignal(Signal.SIGTRAP, 'SI_KERNEL', 0n, why, trap);
      case Vector.DB: return this.deliverSignal(Signal.SIGTRAP, 'TRAP_BRKPT', rip, why, trap);
      case Vector.SS: return this.deliverSignal(Signal.SIGBUS, 'SI_KERNEL', 0n, why, trap);
      case Vector.AC: return this.deliverSignal(Signal.SIGBUS, 'BUS_ADRALN', 0n, why, trap);
      default: return this.deliverSignal(Signal.SIGSEGV, 'SI_KERNEL', 0n, why, trap);
    }
  }

  /** A kernel write through the direct map failed its RMP check: do_kern_addr_fault → oops. */
  private directMapFault(e: DirectMapFault): void {
    if (e.interrupted !== undefined) {
      this.decisions.push(e.interrupted);
      this.trace.decision?.(e.interrupted, this.faults[this.faults.length - 1]!);
    }
    try {
      const err = PfErr.P | PfErr.W | PfErr.RMP;
      const f = new CpuFault(Vector.PF, err, e.address, `kernel write (${e.what}) through the 4K direct map to pa ${hex(e.pa)}: ${e.failure.why}`, true);
      const rec = this.raise(f, e.rip, true);
      this.hooks?.beforeHandler?.(rec, this.faults.length);
      const r = this.handler.handle({ errorCode: err, address: e.address, rip: e.rip }, false);
      this.decide(r, rec);
      this.applyHandlerResult(r);
    } catch (x) {
      if (!(x instanceof RunEnded)) throw x;
    }
  }

  // ---- uaccess ------------------------------------------------------------------------------------

  /**
   * Translate a user address for a kernel access (copy_to_user/copy_from_user run at CPL0 with
   * RFLAGS.AC set by STAC, so SMAP allows them). A fault goes through the same #PF path with U=0;
   * "resume" retries the access, the exception fixup makes it throw UaccessFault (-EFAULT).
   */
  private uaccessTranslate(la: number, access: AccessKind): number {
    if (la < 0 || la >= TASK_SIZE_MAX) throw new UaccessFault(); // access_ok() fails: -EFAULT
    for (;;) {
      this.mmu.setCpl(0);
      this.mmu.setAlignmentCheck(true);
      let fault: CpuFault | null = null;
      let pa = 0;
      try {
        pa = this.mmu.translate(la, access);
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        fault = e;
      } finally {
        this.mmu.setCpl(3);
        this.mmu.setAlignmentCheck((this.cpu.rflags & RFLAGS_AC) !== 0n);
      }
      if (fault === null) return pa;
      const rec = this.raise(fault, KERNEL_RIP.copy_user, true);
      this.hooks?.beforeHandler?.(rec, this.faults.length);
      const r = this.handler.handle({ errorCode: rec.errorCode, address: fault.address, rip: KERNEL_RIP.copy_user }, false);
      this.decide(r, rec);
      if (this.applyHandlerResult(r) === 'efault') throw new UaccessFault();
    }
  }

  /** copy_to_user: false when the fixup returned -EFAULT. */
  copyToUser(va: number, bytes: Uint8Array): boolean {
    try {
      for (let off = 0; off < bytes.length; ) {
        const la = va + off;
        const chunk = Math.min(bytes.length - off, SIZE_4K - (la % SIZE_4K));
        const pa = this.uaccessTranslate(la, Access.Write);
        this.machine.phys.writeBytes(pa, bytes.subarray(off, off + chunk));
        off += chunk;
      }
      return true;
    } catch (e) {
      if (e instanceof UaccessFault) return false;
      throw e;
    }
  }

  /** copy_from_user: null when the fixup returned -EFAULT. */
  copyFromUser(va: number, length: number): Uint8Array | null {
    const out = new Uint8Array(length);
    try {
      for (let off = 0; off < length; ) {
        const la = va + off;
        const chunk = Math.min(length - off, SIZE_4K - (la % SIZE_4K));
        const pa = this.uaccessTranslate(la, Access.Read);
        out.set(this.machine.phys.readBytes(pa, chunk), off);
        off += chunk;
      }
      return out;
    } catch (e) {
      if (e instanceof UaccessFault) return null;
      throw e;
    }
  }

  // ---- syscalls -----------------------------------------------------------------------------------

  private syscall(): void {
    this.syscalls++;
    const cpu = this.cpu;
    const nr = Number(BigInt.asUintN(32, cpu.getReg(0)));
    const args = [7, 6, 2, 10, 8, 9].map((r) => cpu.getReg(r)); // rdi rsi rdx r10 r8 r9
    const ctx: SyscallContext = {
      mm: this.mm,
      cpu,
      policyName: this.policy,
      copyToUser: (va, b) => this.copyToUser(va, b),
      copyFromUser: (va, n) => this.copyFromUser(va, n),
      readStdin: (max) => {
        const chunk = this.stdin.subarray(this.stdinPos, this.stdinPos + max);
        this.stdinPos += chunk.length;
        return chunk;
      },
      unreadStdin: (n) => {
        this.stdinPos -= n;
      },
      output: (fd, b) => (fd === 1 ? this.stdout : this.stderr).push(b.slice()),
      exit: (code, group) => this.end({ kind: 'exit', exitCode: code & 0xff, message: `${group ? 'exit_group' : 'exit'}(${code & 0xff})` }),
      instructions: () => cpu.instructions - this.instructionBase,
      brk: { get: () => ({ start: this.brkStart, end: this.brkEnd }), set: (end) => { this.brkEnd = end; } },
      vmaOf: (va) => this.mm.vmas.find(va) as Vma | undefined,
      rtSigaction: (sig, act, oact, size) => this.sysRtSigaction(sig, act, oact, size),
      rtSigreturn: () => this.sysRtSigreturn(),
    };
    const { result, note, name } = dispatchSyscall(ctx, nr, args);
    cpu.setReg(0, BigInt.asUintN(64, result));
    const rec: SyscallNote = { nr, name, args, result, note };
    if (note !== undefined) this.notes.push(rec);
    this.trace.syscall?.(rec);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export { ElfError };
