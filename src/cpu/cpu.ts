// The CPU: architectural state (CpuCore) plus the run loop, the decoded-block cache, exception
// delivery and hooks.
//
// Decode once, execute many (design.md, pattern 1): instructions are decoded into blocks that run
// straight-line up to a branch, a page end or a mode change. Blocks are cached by the PHYSICAL
// address of their first byte, so two linear aliases share one decoding and a remap is seen at the
// next fetch translation (one TLB lookup per block). Each frame we decode from is marked in
// PhysicalMemory.codeMarks; a write to such a frame calls onCodeWrite and drops its blocks, and if
// the running block is among them it stops after the current instruction (self-modifying code).
// An instruction that crosses a page boundary is never cached: it depends on two translations,
// so it is decoded afresh each time it runs.
//
// Exceptions leave through one place (deliver): RIP still names the faulting instruction and, since
// every handler commits registers and memory only once nothing can fault any more, the instruction
// has had no effect (pattern 8).
//
// Bookkeeping per block, not per instruction: while a block runs, `instructions` and RIP stay at
// the block's start (handlers use blockRip + Insn.offset/end; RDTSC adds Insn.blockIndex); the loop
// settles both when the block ends, stops, or faults. The fast loop is a bare dispatch; a separate
// checked loop handles the instruction limit and stopAt inside a block, and a third one (runHooked)
// is used only while instruction or block hooks are registered, so hooks cost nothing otherwise.
// Inside runHooked, a block that no instruction hook's range meets (decided per block, redone when
// the hook set changes) runs like the fast loop, so a hook on code that is not running costs
// about nothing either; hook lists and their dispatch rules are in hook-lists.ts.

import { Access } from '../mmu/linear-memory.ts';
import type { LinearMemory } from '../mmu/linear-memory.ts';
import type { PhysicalMemory } from '../mem/physical.ts';
import { CpuCore, StopCode } from './core.ts';
import { decode, type ByteSource } from './decoder.ts';
import { CpuFault, Vector } from './fault.ts';
import type { BlockHook, ExceptionHook, Hook, HookAction } from './hooks.ts';
import { HookEntry, HookList, InstructionEntry, InstructionHookList } from './hook-lists.ts';
import type { Insn } from './insn.ts';
import { callFollowed, callRel, jmpFollowed, jmpRel, ret, retFollowed } from './branch.ts';
import type { CpuRmpPort } from './rmp-port.ts';

/** Architectural state captured by Cpu.saveState. */
export interface CpuState {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  readonly rip: number;
  readonly rflags: number;
  readonly cpl: number;
  readonly cr0: number;
  readonly cr2: bigint;
  readonly cr3: number;
  readonly cr4: number;
  readonly efer: number;
  readonly fsBase: bigint;
  readonly gsBase: bigint;
  readonly kernelGsBase: bigint;
  readonly plainMsrs: ReadonlyMap<number, bigint>;
  readonly instructions: number;
  /** GDTR, IDTR (limit, base), LDTR, TR, DR0..DR7 and the user-gate bits (privileged.ts). */
  readonly tables: {
    gdtrLimit: number; gdtrBase: bigint; idtrLimit: number; idtrBase: bigint; ldtr: number; tr: number;
    dr: readonly bigint[]; userGates: Uint8Array;
  };
}

export type StopReason =
  | { kind: 'syscall' }
  | { kind: 'fault'; fault: CpuFault }
  | { kind: 'halt' }
  | { kind: 'limit' }
  | { kind: 'stop-address' }
  | { kind: 'hook' };

const STOP_SYSCALL: StopReason = Object.freeze({ kind: 'syscall' });
const STOP_HALT: StopReason = Object.freeze({ kind: 'halt' });
const STOP_LIMIT: StopReason = Object.freeze({ kind: 'limit' });
const STOP_ADDRESS: StopReason = Object.freeze({ kind: 'stop-address' });
const STOP_HOOK: StopReason = Object.freeze({ kind: 'hook' });

const PAGE = 4096;
const TWO47 = 140737488355328;
const TWO48 = 281474976710656;
/** Longest block, in instructions. */
const MAX_BLOCK = 64;
/** Exception-hook retries allowed in one run() before it stops with the fault. */
const MAX_RETRIES_PER_RUN = 100_000;

/** A run of decoded instructions from one page, entered at its first instruction. */
class Block {
  valid = true;
  /** Byte range the block's instructions cover, relative to its first instruction (followed branches can jump backwards). */
  lowOffset = 0;
  highEnd = 0;
  /** Successor blocks seen at run time (two slots: taken / fall-through), checked by physical address. */
  succA: Block | null = null;
  succB: Block | null = null;
  /**
   * Whether an instruction hook's range meets this block (runHooked), decided for the hook set of
   * InstructionHookList.epoch `hookEpoch` and the linear RIP `hookRip` it was entered at (a block is cached by
   * physical address, so an alias enters it at another RIP).
   */
  hooked = false;
  hookEpoch = -1;
  hookRip = NaN;
  constructor(
    readonly pa: number,
    readonly insns: Insn[],
    /** False for a lone page-crossing instruction (never cached or linked). */
    readonly cacheable: boolean,
  ) {}
}

/** Scratch for buildBlock (never re-entered): page offsets of the followed CALLs' return addresses. */
const FOLLOWED_RETURNS: number[] = [];

/** Thrown by the in-page byte source when an instruction runs past the end of its page. */
const CROSSES_PAGE = { crossesPage: true };

/** Bytes of one page, from a start offset; crossing the page end is signalled, not followed. */
class PageBytes implements ByteSource {
  frame: Uint8Array = new Uint8Array(0);
  offset = 0;
  byte(i: number): number {
    const o = this.offset + i;
    if (o >= PAGE) throw CROSSES_PAGE;
    return this.frame[o]!;
  }
}

/** Bytes of an instruction that may cross into the next page, fetched through the MMU. */
class CrossingBytes implements ByteSource {
  constructor(
    private readonly cpu: Cpu,
    private readonly la: number,
    private readonly pa: number,
  ) {}
  private nextPa = -1;
  byte(i: number): number {
    const off = (this.la % PAGE) + i;
    if (off < PAGE) return this.cpu.phys.read8(this.pa + i);
    if (this.nextPa < 0) {
      const nextLa = this.la - (this.la % PAGE) + PAGE;
      if (nextLa === TWO47) throw this.cpu.fault(Vector.GP, 'instruction fetch runs into the non-canonical hole');
      this.nextPa = this.cpu.mmu.translate(nextLa % TWO48, Access.Fetch);
    }
    return this.cpu.phys.read8(this.nextPa + (off - PAGE));
  }
}

export class Cpu extends CpuCore {
  /** A RIP (signed number) that ends the run before it executes; NaN when unset. */
  private stopAtValue = NaN;
  private readonly blocks = new Map<number, Block>();
  private readonly pageBlocks = new Map<number, Block[]>();
  private currentBlock: Block | null = null;
  private readonly pageBytes = new PageBytes();

  private readonly instructionHooks = new InstructionHookList();
  private readonly blockHooks = new HookList<HookEntry<BlockHook>>();
  private readonly exceptionHooks = new HookList<HookEntry<ExceptionHook>>();
  private nextHookId = 1;
  private hooksActive = false;
  private preciseRipWanted = false;
  /** RIP of the instruction the checked loop is executing; NaN outside it (currentRip). */
  private exactRip = NaN;

  /** Decoded-block cache statistics. */
  readonly cacheStats = { blocksBuilt: 0, invalidations: 0 };

  constructor(mmu: LinearMemory, phys: PhysicalMemory, rmp: CpuRmpPort | null = null) {
    super(mmu, phys, rmp);
    phys.onCodeWrite = (pfn) => this.invalidateCodePage(pfn);
    mmu.setCpl(this.cplValue);
    mmu.setAlignmentCheck(false);
    mmu.setControlRegisters(this.cr0Value, this.cr3Value, this.cr4Value, this.eferValue);
  }

  // ---- public register API (bigint at the boundary) ----------------------------------------------

  getReg(i: number): bigint {
    checkRegIndex(i);
    return (BigInt(this.hi[i]! >>> 0) << 32n) | BigInt(this.lo[i]! >>> 0);
  }

  setReg(i: number, v: bigint): void {
    checkRegIndex(i);
    const u = BigInt.asUintN(64, v);
    this.lo[i] = Number(u & 0xffffffffn) | 0;
    this.hi[i] = Number(u >> 32n) | 0;
  }

  /**
   * The RIP of the instruction executing now, exact also while it runs inside a cached block (where
   * `rip` names the block's first instruction), for callbacks that fire inside an instruction: MMU
   * observers, memory ports. Exact in the checked loop, which run() takes while a hook is registered
   * or `preciseRip` is set; between instructions it equals `rip`. A RIP written by a hook (the `rip`
   * setter) reads back here at once.
   */
  get currentRip(): bigint {
    const r = this.exactRip;
    return BigInt.asUintN(64, BigInt(r === r ? r : this.curRip));
  }

  /** Keep `currentRip` exact inside blocks (takes the checked loop, as a registered hook does). */
  get preciseRip(): boolean {
    return this.preciseRipWanted;
  }

  set preciseRip(on: boolean) {
    this.preciseRipWanted = on;
    this.updateHooksActive();
  }

  /**
   * Replace the memory port (e.g. a tap that observes accesses, wrapping the same MMU). The new port
   * hears the CPL and RFLAGS.AC now; it must already hold the CPU's CR0/CR3/CR4/EFER, which are not
   * re-sent because an MMU told its CR3 again flushes its TLB, as a CR3 write does (call
   * applyControlRegisters() for a port that does not). Decoded blocks are keyed by physical address
   * and every block entry translates its fetch through the current port, so they stay valid; the
   * running block ends after the current instruction, since its fetch went through the old port.
   */
  setMemory(mem: LinearMemory): void {
    (this as { mmu: LinearMemory }).mmu = mem;
    mem.setCpl(this.cplValue);
    mem.setAlignmentCheck((this.flagsOther & 0x40000) !== 0);
    this.breakBlock = true;
  }

  /** RIP as an unsigned 64-bit value. Setting a non-canonical RIP is allowed; the next fetch raises #GP(0). */
  get rip(): bigint {
    return BigInt.asUintN(64, BigInt(this.curRip));
  }

  set rip(v: bigint) {
    const s = BigInt.asIntN(64, v);
    // Non-canonical values are kept as a value outside the canonical range: fetch checks it.
    this.curRip = s >= -(1n << 47n) && s < 1n << 47n ? Number(s) : s < 0n ? -TWO48 : TWO48;
    // Inside the checked loop, currentRip must read back the write too (an instruction hook that
    // moved RIP, then asks currentRip): the instruction it fired for will not run.
    if (this.exactRip === this.exactRip) this.exactRip = this.curRip;
    this.breakBlock = true;
  }

  get rflags(): bigint {
    return BigInt(this.getRflags());
  }

  set rflags(v: bigint) {
    this.setRflags(Number(BigInt.asUintN(32, v)));
  }

  get cpl(): number {
    return this.cplValue;
  }

  set cpl(v: number) {
    if (!Number.isInteger(v) || v < 0 || v > 3) throw new RangeError(`CPL must be 0..3, got ${v}`);
    this.cplValue = v;
    this.mmu.setCpl(v);
  }

  get cr0(): bigint { return BigInt(this.cr0Value); }
  set cr0(v: bigint) { this.setControlRegisters(Number(BigInt.asUintN(32, v)), this.cr3Value, this.cr4Value, this.eferValue); }
  get cr2(): bigint { return BigInt.asUintN(64, this.cr2Value); }
  set cr2(v: bigint) { this.cr2Value = BigInt.asUintN(64, v); }
  get cr3(): bigint { return BigInt(this.cr3Value); }
  set cr3(v: bigint) { this.setControlRegisters(this.cr0Value, Number(BigInt.asUintN(52, v)), this.cr4Value, this.eferValue); }
  get cr4(): bigint { return BigInt(this.cr4Value); }
  set cr4(v: bigint) { this.setControlRegisters(this.cr0Value, this.cr3Value, Number(BigInt.asUintN(32, v)), this.eferValue); }
  get efer(): bigint { return BigInt(this.eferValue); }
  set efer(v: bigint) { this.setControlRegisters(this.cr0Value, this.cr3Value, this.cr4Value, Number(BigInt.asUintN(32, v))); }

  get fsBase(): bigint { return (BigInt(this.fsBaseHi >>> 0) << 32n) | BigInt(this.fsBaseLo >>> 0); }
  set fsBase(v: bigint) { this.setFsBase(v); }
  get gsBase(): bigint { return (BigInt(this.gsBaseHi >>> 0) << 32n) | BigInt(this.gsBaseLo >>> 0); }
  set gsBase(v: bigint) { this.setGsBase(v); }

  /** A RIP at which run() stops (before executing it) with kind 'stop-address'; null to clear. */
  get stopAt(): bigint | null {
    return Number.isNaN(this.stopAtValue) ? null : BigInt.asUintN(64, BigInt(this.stopAtValue));
  }

  set stopAt(v: bigint | null) {
    this.stopAtValue = v === null ? NaN : Number(BigInt.asIntN(64, v));
  }

  // ---- whole-CPU state (snapshots, issue 9) -----------------------------------------------------

  /** A copy of the architectural state (registers, RIP, RFLAGS, CPL, control registers, MSRs, counters). */
  saveState(): CpuState {
    return {
      lo: Int32Array.from(this.lo),
      hi: Int32Array.from(this.hi),
      rip: this.curRip,
      rflags: this.getRflags(),
      cpl: this.cplValue,
      cr0: this.cr0Value,
      cr2: this.cr2Value,
      cr3: this.cr3Value,
      cr4: this.cr4Value,
      efer: this.eferValue,
      fsBase: this.fsBase,
      gsBase: this.gsBase,
      kernelGsBase: this.kernelGsBase,
      plainMsrs: new Map(this.plainMsrs),
      instructions: this.instructions,
      tables: {
        gdtrLimit: this.gdtrLimit, gdtrBase: this.gdtrBase, idtrLimit: this.idtrLimit, idtrBase: this.idtrBase,
        ldtr: this.ldtr, tr: this.tr, dr: [...this.dr], userGates: Uint8Array.from(this.userGates),
      },
    };
  }

  /** Restore a state from saveState (the MMU hears the CPL and control registers again). */
  loadState(s: CpuState): void {
    this.setControlRegisters(s.cr0, s.cr3, s.cr4, s.efer);
    this.lo.set(s.lo);
    this.hi.set(s.hi);
    this.curRip = s.rip;
    this.cr2Value = s.cr2;
    this.cpl = s.cpl;
    this.setRflags(s.rflags);
    this.mmu.setAlignmentCheck((s.rflags & 0x40000) !== 0);
    this.setFsBase(s.fsBase);
    this.setGsBase(s.gsBase);
    this.kernelGsBase = s.kernelGsBase;
    this.plainMsrs.clear();
    for (const [k, v] of s.plainMsrs) this.plainMsrs.set(k, v);
    this.instructions = s.instructions;
    const t = s.tables;
    this.gdtrLimit = t.gdtrLimit;
    this.gdtrBase = t.gdtrBase;
    this.idtrLimit = t.idtrLimit;
    this.idtrBase = t.idtrBase;
    this.ldtr = t.ldtr;
    this.tr = t.tr;
    for (let i = 0; i < 8; i++) this.dr[i] = t.dr[i]!;
    this.userGates.set(t.userGates);
  }

  // ---- decoded-block cache -------------------------------------------------------------------------

  /** Drop every decoded block that starts in physical frame `pfn` (called on writes to code frames). */
  invalidateCodePage(pfn: number): void {
    const list = this.pageBlocks.get(pfn);
    if (list !== undefined) {
      for (const b of list) {
        b.valid = false;
        if (this.blocks.get(b.pa) === b) this.blocks.delete(b.pa);
        if (b === this.currentBlock) this.breakBlock = true;
      }
      this.pageBlocks.delete(pfn);
      this.cacheStats.invalidations++;
    }
    if (pfn < this.phys.codeMarks.length) this.phys.codeMarks[pfn] = 0;
  }

  /** Drop decoded blocks in a physical range (RMP changes, snapshot restores, DMA-like writes). */
  invalidateCodeRange(spa: number, bytes: number): void {
    const first = Math.floor(spa / PAGE);
    const last = Math.floor((spa + Math.max(bytes, 1) - 1) / PAGE);
    if (last - first > this.pageBlocks.size) {
      for (const pfn of [...this.pageBlocks.keys()]) if (pfn >= first && pfn <= last) this.invalidateCodePage(pfn);
      return;
    }
    for (let pfn = first; pfn <= last; pfn++) if (this.pageBlocks.has(pfn)) this.invalidateCodePage(pfn);
  }

  /** Drop the whole decoded-block cache. */
  flushDecodeCache(): void {
    for (const pfn of [...this.pageBlocks.keys()]) this.invalidateCodePage(pfn);
  }

  /** Decode one instruction at a linear address without executing it (tools, traces, tests). */
  decodeAt(rip: bigint): Insn {
    const la = Number(BigInt.asUintN(48, rip));
    const pa = this.mmu.translate(la, Access.Fetch);
    return decode(new CrossingBytes(this, la, pa));
  }

  private buildBlock(la: number, pa: number): Block {
    const pfn = Math.floor(pa / PAGE);
    const src = this.pageBytes;
    src.frame = this.phys.frameForRead(pfn);
    const insns: Insn[] = [];
    let off = pa % PAGE;
    const start = off;
    let low = 0;
    let high = 0;
    // Page offsets of the return addresses of the CALLs followed so far (innermost last).
    const returns = FOLLOWED_RETURNS;
    returns.length = 0;
    while (insns.length < MAX_BLOCK && off < PAGE) {
      src.offset = off;
      let d: Insn;
      try {
        d = decode(src);
      } catch (e) {
        if (e !== CROSSES_PAGE) throw e;
        if (insns.length > 0) break;
        // A lone page-crossing instruction: decode it through both translations, do not cache it.
        const one = decode(new CrossingBytes(this, la, pa));
        one.end = one.len;
        const lone = new Block(pa, [one], false);
        lone.highEnd = one.len;
        return lone;
      }
      d.blockIndex = insns.length;
      d.offset = off - start;
      d.end = d.offset + d.len;
      insns.push(d);
      if (d.offset < low) low = d.offset;
      if (d.end > high) high = d.end;
      off += d.len;
      if (d.endsBlock) {
        // A direct JMP/CALL whose target lies in the same page: the page's translation is the one
        // this block was fetched through, so the block goes on at the target (no block switch).
        // runHooked still ends the block after such a branch, so block hooks see every target.
        // A RET goes on at the return address of the innermost CALL followed in this block, a
        // guess that retFollowed checks when it runs.
        if (insns.length >= MAX_BLOCK) break;
        let targetOff: number;
        if (d.exec === jmpRel || d.exec === callRel) {
          targetOff = off + d.immLo;
          if (targetOff < 0 || targetOff >= PAGE) break;
          if (d.exec === callRel) {
            d.exec = callFollowed;
            returns.push(off);
          } else {
            d.exec = jmpFollowed;
          }
        } else if (d.exec === ret && returns.length > 0) {
          targetOff = returns.pop()!;
          if (targetOff >= PAGE) break;
          d.exec = retFollowed;
          d.returnOffset = targetOff - start;
        } else {
          break;
        }
        d.followed = true;
        off = targetOff;
      }
    }
    // A followed branch must not end the block (its target was not decoded: page crossing, block
    // length): it gets its own handler back.
    const last = insns[insns.length - 1]!;
    if (last.followed) {
      last.followed = false;
      last.exec = last.exec === jmpFollowed ? jmpRel : last.exec === callFollowed ? callRel : ret;
    }
    const block = new Block(pa, insns, true);
    block.lowOffset = low;
    block.highEnd = high;
    this.blocks.set(pa, block);
    let list = this.pageBlocks.get(pfn);
    if (list === undefined) {
      list = [];
      this.pageBlocks.set(pfn, list);
    }
    list.push(block);
    if (pfn < this.phys.codeMarks.length) this.phys.codeMarks[pfn] = 1;
    this.cacheStats.blocksBuilt++;
    return block;
  }

  /** The block to run at the current RIP: translate for fetch, then follow the link or the cache. */
  private blockAt(prev: Block | null): Block {
    const rip = this.curRip;
    if (rip >= TWO47 || rip < -TWO47) throw this.fault(Vector.GP, 'instruction fetch from a non-canonical address');
    const la = rip < 0 ? rip + TWO48 : rip;
    // One TLB lookup per block (measured: skipping it within a page gained nothing).
    const pa = this.mmu.translate(la, Access.Fetch);
    if (prev !== null) {
      const a = prev.succA;
      if (a !== null && a.pa === pa && a.valid) return a;
      const b = prev.succB;
      if (b !== null && b.pa === pa && b.valid) return b;
    }
    let block = this.blocks.get(pa);
    if (block === undefined || !block.valid) block = this.buildBlock(la, pa);
    if (prev !== null && block.cacheable && prev.cacheable) {
      if (prev.succA === null || !prev.succA.valid) prev.succA = block;
      else prev.succB = block;
    }
    return block;
  }

  // ---- exceptions ------------------------------------------------------------------------------------

  /**
   * The one exception-delivery path. Returns null when an exception hook asked to retry, else the
   * stop reason. There is no IDT: the layer above (kernel, snippet runner, API) handles the fault.
   */
  private deliver(e: unknown): StopReason | null {
    if (!(e instanceof CpuFault)) throw e;
    this.breakBlock = false;
    this.stopRequest = StopCode.None;
    if (e.vector === Vector.PF) this.cr2Value = BigInt.asUintN(64, e.address);
    // The list as it was when the exception arrived: hooks added by these callbacks wait for the next one.
    const hooks = this.exceptionHooks.entries;
    for (let i = 0; i < hooks.length; i++) {
      const h = hooks[i]!;
      if (!h.live) continue;
      if (h.hook.callback(this, e) === 'retry') {
        // Never a hang: a hook that keeps asking to retry without fixing anything ends the run.
        if (++this.retriesThisRun <= MAX_RETRIES_PER_RUN) return null;
        return { kind: 'fault', fault: new CpuFault(e.vector, e.errorCode, e.address, `${e.why} (exception hooks asked to retry ${MAX_RETRIES_PER_RUN} times in one run; stopping)`, e.rmp, e.detail) };
      }
    }
    return { kind: 'fault', fault: e };
  }

  private retriesThisRun = 0;

  // ---- hooks ---------------------------------------------------------------------------------------------

  /** Register a hook; returns its id for removeHook. Hooks fire on cached code too. */
  /**
   * Register a hook; returns its id for removeHook. Hooks fire on cached code too. A hook added
   * from inside a hook first fires at the next dispatch of its kind (the next instruction, block or
   * exception), never for the one being dispatched; a hook removed from inside a hook fires no more.
   */
  addHook(hook: Hook): number {
    const id = this.nextHookId++;
    if (hook.kind === 'instruction') this.instructionHooks.add(new InstructionEntry(id, hook));
    else if (hook.kind === 'block') this.blockHooks.add(new HookEntry(id, hook));
    else if (hook.kind === 'exception') this.exceptionHooks.add(new HookEntry(id, hook));
    else throw new TypeError(`unknown hook kind ${(hook as { kind: string }).kind}`);
    this.updateHooksActive();
    return id;
  }

  removeHook(id: number): boolean {
    const removed = this.instructionHooks.remove(id) || this.blockHooks.remove(id) || this.exceptionHooks.remove(id);
    this.updateHooksActive();
    return removed;
  }

  private updateHooksActive(): void {
    this.hooksActive = this.preciseRipWanted || this.instructionHooks.entries.length + this.blockHooks.entries.length > 0;
  }

  // ---- the run loop ------------------------------------------------------------------------------------

  /**
   * Run up to `maxInstructions` instructions. Returns why it stopped. RIP and all state are left
   * exactly at the stop point (for a fault: at the faulting instruction, unchanged by it).
   */
  run(maxInstructions: number): StopReason {
    if (!(maxInstructions >= 0)) throw new RangeError('maxInstructions must be a non-negative number');
    const limit = this.instructions + maxInstructions;
    this.retriesThisRun = 0;
    if (this.hooksActive) return this.runHookedFrom(limit);
    let prev: Block | null = null;
    for (;;) {
      if (this.instructions >= limit) return STOP_LIMIT;
      if (this.curRip === this.stopAtValue) return STOP_ADDRESS;
      const block = this.enterBlock(prev);
      if (block === null) {
        if (this.fetchStop !== null) return this.fetchStop;
        // An exception hook asked to retry; if it registered an instruction or block hook, the
        // rest of the run goes through the hooked loop so that the new hook fires at once.
        if (this.hooksActive) return this.runHookedFrom(limit);
        prev = null;
        continue;
      }
      const insns = block.insns;
      const n = insns.length;
      const stopAt = this.stopAtValue;
      const blockRip = this.blockRip;
      const checked = this.instructions + n > limit || (stopAt >= blockRip + block.lowOffset && stopAt < blockRip + block.highEnd);
      // `instructions` counts whole blocks and RIP is settled once per block: k is the position
      // inside this one (Insn.blockIndex), Insn.offset/end locate each instruction.
      let k = 0;
      try {
        if (!checked) {
          // Fast path: nothing can stop the run inside this block except a handler.
          for (;;) {
            while (k < n) {
              const d = insns[k]!;
              d.exec(this, d);
              k++;
              if (this.breakBlock) break;
            }
            // A loop whose body is this block branches back to its start: run it again at once,
            // with the same fetch translation (nothing in the block changed the mode, the TLB or
            // the code: any of those sets breakBlock) while the next pass fits in the limit.
            if (this.target !== blockRip || k !== n || this.breakBlock || this.stopRequest !== StopCode.None ||
              this.instructions + k + n > limit) break;
            this.target = NaN;
            this.instructions += k;
            k = 0;
          }
        } else {
          while (k < n) {
            const d = insns[k]!;
            const rip = blockRip + d.offset;
            if (this.instructions + k >= limit || rip === stopAt) {
              this.instructions += k;
              this.curRip = rip;
              this.currentBlock = null;
              return rip === stopAt ? STOP_ADDRESS : STOP_LIMIT;
            }
            d.exec(this, d);
            k++;
            if (this.breakBlock) break;
          }
        }
      } catch (e) {
        this.faultAt(insns[k]!, k);
        const r = this.deliver(e);
        if (r !== null) return r;
        if (this.hooksActive) return this.runHookedFrom(limit); // as above
        prev = null;
        continue;
      }
      this.settle(insns[k - 1]!, k);
      if (this.stopRequest !== StopCode.None) return this.takeStopRequest();
      prev = this.breakBlock ? null : block;
    }
  }

  /** runHooked, with the exact-RIP field cleared however it ends. */
  private runHookedFrom(limit: number): StopReason {
    try {
      return this.runHooked(limit);
    } finally {
      this.exactRip = NaN;
    }
  }

  /** Why the last enterBlock failed: the stop reason, or null when an exception hook asked to retry. */
  private fetchStop: StopReason | null = null;

  /**
   * Fetch the block at RIP and make it the running one (blockRip = RIP). On a fetch fault the
   * exception is delivered and the result is null, with the outcome in fetchStop.
   */
  private enterBlock(prev: Block | null): Block | null {
    let block: Block;
    try {
      block = this.blockAt(prev);
    } catch (e) {
      this.fetchStop = this.deliver(e);
      return null;
    }
    this.currentBlock = block;
    this.breakBlock = false;
    this.blockRip = this.curRip;
    return block;
  }

  /** A handler asked to end the run after its instruction (CpuCore.stopRequest): consume the request. */
  private takeStopRequest(): StopReason {
    const s = this.stopRequest;
    this.stopRequest = StopCode.None;
    return s === StopCode.Syscall ? STOP_SYSCALL : s === StopCode.Halt ? STOP_HALT : STOP_HOOK;
  }

  /** After a block ran its first k instructions: count them and set RIP (branch target or fall-through). */
  private settle(last: Insn, k: number): void {
    this.instructions += k;
    this.currentBlock = null;
    const t = this.target;
    if (t === t) {
      // not NaN: the last instruction branched (or asked to be re-executed)
      this.curRip = t;
      this.target = NaN;
    } else {
      this.curRip = this.blockRip + last.end;
    }
  }

  /**
   * The k-th instruction of the block raised an exception: RIP at it. A trap (INT3, INT n) has
   * retired: RIP after it, and it counts.
   */
  private faultAt(d: Insn, k: number): void {
    this.instructions += this.trap ? k + 1 : k;
    this.currentBlock = null;
    this.curRip = this.blockRip + (this.trap ? d.end : d.offset);
    this.trap = false;
    this.target = NaN;
  }

  /**
   * The loop used while hooks are registered (or preciseRip is set): same semantics, plus hook calls.
   * Instruction hooks are filtered per block: a block that no instruction hook's range meets runs
   * like run()'s fast path (QA overhead.ts: a hook on an address never reached made every block
   * check every instruction, 3.4x slower), unless block hooks (which must see every branch target)
   * or preciseRip (which tracks every instruction's RIP) need the per-instruction path. The decision
   * is cached in the block and redone when the hook set changes (InstructionHookList.epoch), so a hook added
   * later still fires on code that was decoded and cached before it.
   */
  private runHooked(limit: number): StopReason {
    const hooks = this.instructionHooks;
    let prev: Block | null = null;
    for (;;) {
      if (this.instructions >= limit) return STOP_LIMIT;
      if (this.curRip === this.stopAtValue) return STOP_ADDRESS;
      const blockHooks = this.blockHooks.entries;
      if (blockHooks.length > 0) {
        const rip = this.rip;
        const before = this.curRip;
        for (let i = 0; i < blockHooks.length; i++) {
          const h = blockHooks[i]!;
          if (h.live && h.hook.callback(this, rip) === 'stop') return STOP_HOOK;
        }
        if (this.curRip !== before) {
          prev = null;
          continue;
        }
      }
      const block = this.enterBlock(prev);
      if (block === null) {
        if (this.fetchStop !== null) return this.fetchStop;
        prev = null;
        continue;
      }
      const blockRip = this.blockRip;
      const insns = block.insns;
      const n = insns.length;
      if (block.hookEpoch !== hooks.epoch || block.hookRip !== blockRip) {
        // The block's instructions start within [blockRip + lowOffset, blockRip + highEnd - 1].
        block.hooked = hooks.anyMeets(blockRip + block.lowOffset, blockRip + block.highEnd - 1);
        block.hookEpoch = hooks.epoch;
        block.hookRip = blockRip;
      }
      let k = 0;
      if (!block.hooked && this.blockHooks.entries.length === 0 && !this.preciseRipWanted) {
        // No hook can fire inside this block: run()'s fast path (limit and stopAt checked per instruction
        // only when they fall inside it), including the repetition of a block that loops to its start.
        const stopAt = this.stopAtValue;
        const checked = this.instructions + n > limit || (stopAt >= blockRip + block.lowOffset && stopAt < blockRip + block.highEnd);
        const epoch = hooks.epoch;
        try {
          for (;;) {
            while (k < n) {
              const d = insns[k]!;
              if (checked) {
                const rip = blockRip + d.offset;
                if (this.instructions + k >= limit || rip === stopAt) {
                  this.instructions += k;
                  this.curRip = rip;
                  this.currentBlock = null;
                  return rip === stopAt ? STOP_ADDRESS : STOP_LIMIT;
                }
              }
              d.exec(this, d);
              k++;
              if (this.breakBlock) break;
            }
            if (checked || this.target !== blockRip || k !== n || this.breakBlock || this.stopRequest !== StopCode.None ||
              this.instructions + k + n > limit || hooks.epoch !== epoch) break;
            this.target = NaN;
            this.instructions += k;
            k = 0;
          }
        } catch (e) {
          this.faultAt(insns[k]!, k);
          const r = this.deliver(e);
          if (r !== null) return r;
          prev = null;
          continue;
        }
        this.settle(insns[k - 1]!, k);
        if (this.stopRequest !== StopCode.None) return this.takeStopRequest();
        prev = this.breakBlock ? null : block;
        continue;
      }
      let steered = false;
      let hookThrew = false;
      try {
        while (k < n) {
          const d = insns[k]!;
          const rip = blockRip + d.offset;
          this.exactRip = rip;
          if (this.instructions + k >= limit || rip === this.stopAtValue) {
            this.instructions += k;
            this.curRip = rip;
            this.currentBlock = null;
            return rip === this.stopAtValue ? STOP_ADDRESS : STOP_LIMIT;
          }
          if (hooks.entries.length > 0) {
            // Hooks see the exact pre-instruction state: RIP, and the count retired so far.
            this.curRip = rip;
            this.instructions += k;
            let action: HookAction | void;
            try {
              action = this.fireInstructionHooks(rip);
            } catch (e) {
              // A hook threw (the API's RunStop, or a bug in it): the instruction did not run, and
              // RIP stays where the hook left it, its own write included. Not the fault path below,
              // which would put RIP back at this instruction.
              hookThrew = true;
              this.currentBlock = null;
              this.target = NaN;
              throw e;
            }
            this.instructions -= k;
            if (action === 'stop') {
              this.instructions += k;
              this.currentBlock = null;
              return STOP_HOOK;
            }
            if (this.breakBlock) {
              steered = true; // a hook moved RIP (Cpu.rip setter): fetch again from there
              break;
            }
            this.curRip = blockRip;
          }
          d.exec(this, d);
          k++;
          if (this.breakBlock) break;
          if (d.followed) {
            // Block hooks see every branch target: end the block here, as if the branch had not
            // been followed (the next block starts at the target, which the next instruction is).
            this.target = blockRip + insns[k]!.offset;
            break;
          }
        }
      } catch (e) {
        this.exactRip = NaN;
        if (hookThrew) throw e;
        this.faultAt(insns[k]!, k);
        const r = this.deliver(e);
        if (r !== null) return r;
        prev = null;
        continue;
      }
      this.exactRip = NaN;
      if (steered) {
        this.instructions += k;
        this.currentBlock = null;
        this.target = NaN;
      } else {
        this.settle(insns[k - 1]!, k);
      }
      if (this.stopRequest !== StopCode.None) return this.takeStopRequest();
      prev = this.breakBlock || steered ? null : block;
    }
  }

  /**
   * Call the instruction hooks whose range holds `rip` (signed), in registration order, from the
   * list as it was before the first call: a hook added by one of them waits for the next instruction.
   */
  private fireInstructionHooks(rip: number): HookAction | void {
    const list = this.instructionHooks.entries;
    let unsigned = -1n; // built once, and only when a hook fires
    for (let i = 0; i < list.length; i++) {
      const h = list[i]!;
      if (!h.live || !h.covers(rip)) continue;
      if (unsigned < 0n) unsigned = BigInt.asUintN(64, BigInt(rip));
      if (h.hook.callback(this, unsigned) === 'stop') return 'stop';
    }
  }

  /** Execute exactly one instruction (tests, single-stepping tools). */
  step(): StopReason {
    return this.run(1);
  }
}

function checkRegIndex(i: number): void {
  if (!Number.isInteger(i) || i < 0 || i > 15) throw new RangeError(`register index must be 0..15, got ${i}`);
}

