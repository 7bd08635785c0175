// The architectural state of one x86-64 logical processor, and the small helpers every instruction
// family uses: register access by operand size, lazy flags, effective addresses, memory access
// through the MMU, and the stack.
//
// 64-bit values (design.md, pattern 4) are kept as two signed 32-bit halves in Int32Arrays: the
// benchmark (bench/cpu.bench.ts) runs 32-bit and 64-bit ALU work without BigInt and without
// floating-point rounding risk. Every helper that takes or returns a 64-bit value uses (lo, hi)
// pairs; a helper that "returns" a 64-bit value returns lo and leaves hi in `vHi`.
//
// RIP is a JS number holding the signed 64-bit value (-2^47 <= rip < 2^47 when canonical): branch
// targets and RIP-relative addresses are exact double additions.

import { CpuFault, Vector } from './fault.ts';
import { FlagOp, F, PARITY, SIGN_BIT, STATUS_FLAGS } from './flags.ts';
import { BASE_RIP, type Insn } from './insn.ts';
import type { LinearMemory } from '../mmu/linear-memory.ts';
import type { PhysicalMemory } from '../mem/physical.ts';
import type { CpuGuestSnpPort, CpuRmpPort } from './rmp-port.ts';
import { type CpuFeatures, DEFAULT_FEATURES } from './cpuid.ts';

export const TWO32 = 4294967296;
const TWO47 = 140737488355328;
/** Accesses starting above this can reach the non-canonical hole (at most 16 bytes long). */
const CANONICAL_EDGE = TWO47 - 16;

/** Why a handler asked the run loop to stop after the current instruction (CpuCore.stopRequest). */
export const StopCode = { None: 0, Syscall: 1, Halt: 2, Hook: 3 } as const;

export class CpuCore {
  /** Low and high 32-bit halves of RAX..R15 (0=rax, 1=rcx, 2=rdx, 3=rbx, 4=rsp, 5=rbp, 6=rsi, 7=rdi, 8..15). */
  readonly lo = new Int32Array(16);
  readonly hi = new Int32Array(16);
  /**
   * RIP (the signed 64-bit value as a number; Cpu.rip is the bigint view). Between instructions it
   * is exact; while a cached block runs, the run loop leaves it at the block's first instruction
   * and handlers locate themselves with blockRip + Insn.offset / Insn.end instead (no per-instruction
   * RIP bookkeeping).
   */
  curRip = 0;
  /** RIP of the first instruction of the running block. */
  blockRip = 0;
  /** Branch target set by the instruction that ends the block; NaN when it falls through. */
  target = NaN;
  /** Set by INT3: the exception is a trap, reported with RIP after the instruction. */
  trap = false;

  // Lazy flags (flags.ts): operation, operand size, result, operands, explicit bits.
  fOp: number = FlagOp.Known;
  fSize = 4;
  fRLo = 0;
  fRHi = 0;
  fALo = 0;
  fAHi = 0;
  fBLo = 0;
  fBHi = 0;
  fBits = 0;
  /** RFLAGS bits other than the six status flags (DF, IF, AC, ID... and the fixed bit 1). */
  flagsOther = F.FIXED1 | F.IF;

  /** Current privilege level, 0..3. Set through Cpu.cpl so the MMU hears of it. */
  cplValue = 0;
  cr0Value = 0x80050033; // PG WP NE ET MP PE and AM, as Linux runs
  cr2Value = 0n;
  cr3Value = 0;
  cr4Value = 0x20; // PAE
  eferValue = 0xd01; // SCE LME LMA NXE
  fsBaseLo = 0;
  fsBaseHi = 0;
  gsBaseLo = 0;
  gsBaseHi = 0;
  kernelGsBase = 0n;
  /**
   * Descriptor-table registers and selectors (privileged.ts). No descriptor is ever read; the reset
   * values are what a Linux process reads on this machine (SGDT/SIDT: Linux's UMIP dummies).
   */
  gdtrBase = 0xfffffffffffe0000n;
  gdtrLimit = 0;
  idtrBase = 0xffffffffffff0000n;
  idtrLimit = 0;
  ldtr = 0;
  tr = 0x40;
  /** DR0..DR7 (DR4/DR5 are never stored: they alias DR6/DR7). Reset values: Intel SDM Vol.3B §18.2. */
  readonly dr: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n, 0xffff0ff0n, 0x400n];
  /**
   * In place of the IDT: 1 for each vector whose gate has DPL 3, so INT n may raise it from CPL 3
   * (privileged.ts intN). Default: Linux x86-64 without IA32 emulation, #BP (3) and #OF (4).
   */
  readonly userGates: Uint8Array = defaultUserGates();
  /** STAR, LSTAR, CSTAR, SFMASK, TSC_AUX: stored, not interpreted (SYSCALL is handed to the kernel layer). */
  readonly plainMsrs = new Map<number, bigint>();
  /** What CPUID reports and which optional instructions exist. */
  features: CpuFeatures = { ...DEFAULT_FEATURES };
  /**
   * PVALIDATE / RMPADJUST while an SNP-active guest runs (set by src/guest); null on the host, where
   * both instructions raise #UD (spec/rmp.md §5.1, src/cpu/system.ts snpInsn).
   */
  guestSnp: CpuGuestSnpPort | null = null;

  /** Retired instructions; RDTSC returns it (deterministic time). */
  instructions = 0;
  /** Set by a handler to end the run after this instruction (StopCode). */
  stopRequest = 0;
  /** Set when the current cached block must not continue (code written, mode changed, hook steering). */
  breakBlock = false;

  /** Scratch: the high half of the last 64-bit value a helper returned. */
  vHi = 0;

  /** The memory port every data access and fetch translation goes through; replaced only by Cpu.setMemory. */
  readonly mmu: LinearMemory;

  constructor(
    mmu: LinearMemory,
    readonly phys: PhysicalMemory,
    readonly rmp: CpuRmpPort | null,
  ) {
    this.mmu = mmu;
  }

  /** Tell the MMU the current CR0/CR3/CR4/EFER (it flushes its TLB as the manual says). */
  applyControlRegisters(): void {
    this.setControlRegisters(this.cr0Value, this.cr3Value, this.cr4Value, this.eferValue);
  }

  /**
   * Load new control-register values: the MMU sees them first (it may refuse with #GP(0), e.g. paging
   * without PAE), and only then does the CPU commit them, so a refused write changes nothing.
   */
  setControlRegisters(cr0: number, cr3: number, cr4: number, efer: number): void {
    this.mmu.setControlRegisters(cr0, cr3, cr4, efer);
    this.cr0Value = cr0;
    this.cr3Value = cr3;
    this.cr4Value = cr4;
    this.eferValue = efer;
    this.breakBlock = true;
  }

  setFsBase(v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.fsBaseLo = Number(u & 0xffffffffn) | 0;
    this.fsBaseHi = Number(u >> 32n) | 0;
  }

  setGsBase(v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.gsBaseLo = Number(u & 0xffffffffn) | 0;
    this.gsBaseHi = Number(u >> 32n) | 0;
  }

  // ---- registers by operand size ---------------------------------------------------------------

  /** Read a register at `size` bytes, zero-extended (size 4 returns a signed int32; size 8 leaves hi in vHi). */
  readReg(r: number, size: number): number {
    switch (size) {
      case 1:
        return r < 16 ? this.lo[r]! & 0xff : (this.lo[r - 16]! >>> 8) & 0xff;
      case 2:
        return this.lo[r]! & 0xffff;
      case 4:
        return this.lo[r]!;
      default:
        this.vHi = this.hi[r]!;
        return this.lo[r]!;
    }
  }

  /** Write a register at `size` bytes: 8/16-bit writes merge, 32-bit writes zero the upper half (Intel SDM Vol.1 §3.4.1.1). */
  writeReg(r: number, size: number, lo: number, hi: number): void {
    switch (size) {
      case 1:
        if (r < 16) this.lo[r] = (this.lo[r]! & ~0xff) | (lo & 0xff);
        else this.lo[r - 16] = (this.lo[r - 16]! & ~0xff00) | ((lo & 0xff) << 8);
        return;
      case 2:
        this.lo[r] = (this.lo[r]! & ~0xffff) | (lo & 0xffff);
        return;
      case 4:
        this.lo[r] = lo;
        this.hi[r] = 0;
        return;
      default:
        this.lo[r] = lo;
        this.hi[r] = hi;
    }
  }

  // ---- lazy flags ------------------------------------------------------------------------------

  /** Record an ADD/SUB-family result for lazy evaluation. Values are already masked to `size`. */
  setFlagsArith(op: number, size: number, rLo: number, rHi: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
    this.fOp = op;
    this.fSize = size;
    this.fRLo = rLo;
    this.fRHi = rHi;
    this.fALo = aLo;
    this.fAHi = aHi;
    this.fBLo = bLo;
    this.fBHi = bHi;
  }

  /** Record a result whose CF/OF/AF are known now (`bits`); ZF/SF/PF come from the result. */
  setFlagsResult(size: number, rLo: number, rHi: number, bits: number): void {
    this.fOp = FlagOp.Result;
    this.fSize = size;
    this.fRLo = rLo;
    this.fRHi = rHi;
    this.fBits = bits;
  }

  /** Record a logical-operation result: CF = OF = AF = 0. */
  setFlagsLogic(size: number, rLo: number, rHi: number): void {
    this.fOp = FlagOp.Logic;
    this.fSize = size;
    this.fRLo = rLo;
    this.fRHi = rHi;
  }

  /** Set all six status flags at once (bits in RFLAGS positions). */
  setStatusFlags(bits: number): void {
    this.fOp = FlagOp.Known;
    this.fBits = bits & STATUS_FLAGS;
  }

  private signOf(lo: number, hi: number): number {
    return this.fSize === 8 ? hi >>> 31 : (lo & SIGN_BIT[this.fSize]!) !== 0 ? 1 : 0;
  }

  getCF(): number {
    switch (this.fOp) {
      case FlagOp.Known:
      case FlagOp.Result:
        return this.fBits & 1;
      case FlagOp.Logic:
        return 0;
      case FlagOp.Add:
        return ltu(this.fRLo, this.fRHi, this.fALo, this.fAHi);
      case FlagOp.Adc:
        return ltu(this.fRLo, this.fRHi, this.fALo, this.fAHi) |
          (this.fBits & 1 & (this.fRLo === this.fALo && this.fRHi === this.fAHi ? 1 : 0));
      case FlagOp.Sub:
        return ltu(this.fALo, this.fAHi, this.fBLo, this.fBHi);
      default: // Sbb
        return ltu(this.fALo, this.fAHi, this.fBLo, this.fBHi) |
          (this.fBits & 1 & (this.fALo === this.fBLo && this.fAHi === this.fBHi ? 1 : 0));
    }
  }

  getOF(): number {
    switch (this.fOp) {
      case FlagOp.Known:
      case FlagOp.Result:
        return (this.fBits >>> 11) & 1;
      case FlagOp.Logic:
        return 0;
      case FlagOp.Add:
      case FlagOp.Adc:
        return this.signOf((this.fALo ^ this.fRLo) & (this.fBLo ^ this.fRLo), (this.fAHi ^ this.fRHi) & (this.fBHi ^ this.fRHi));
      default: // Sub, Sbb
        return this.signOf((this.fALo ^ this.fBLo) & (this.fALo ^ this.fRLo), (this.fAHi ^ this.fBHi) & (this.fAHi ^ this.fRHi));
    }
  }

  getAF(): number {
    switch (this.fOp) {
      case FlagOp.Known:
      case FlagOp.Result:
        return (this.fBits >>> 4) & 1;
      case FlagOp.Logic:
        return 0;
      default:
        return ((this.fALo ^ this.fBLo ^ this.fRLo) >>> 4) & 1;
    }
  }

  getZF(): number {
    if (this.fOp === FlagOp.Known) return (this.fBits >>> 6) & 1;
    return (this.fRLo | this.fRHi) === 0 ? 1 : 0;
  }

  getSF(): number {
    if (this.fOp === FlagOp.Known) return (this.fBits >>> 7) & 1;
    return this.signOf(this.fRLo, this.fRHi);
  }

  getPF(): number {
    if (this.fOp === FlagOp.Known) return (this.fBits >>> 2) & 1;
    return PARITY[this.fRLo & 0xff]!;
  }

  /** The six status flags in their RFLAGS positions. */
  statusFlags(): number {
    if (this.fOp === FlagOp.Known) return this.fBits;
    return this.getCF() | (this.getPF() << 2) | (this.getAF() << 4) | (this.getZF() << 6) | (this.getSF() << 7) | (this.getOF() << 11);
  }

  /** Evaluate condition code `cc` (0..15), Intel SDM Vol.1 Appendix B. */
  cond(cc: number): boolean {
    let t: number;
    switch (cc >> 1) {
      case 0: t = this.getOF(); break; // O / NO
      case 1: t = this.getCF(); break; // B / AE
      case 2: t = this.getZF(); break; // E / NE
      case 3: t = this.getCF() | this.getZF(); break; // BE / A
      case 4: t = this.getSF(); break; // S / NS
      case 5: t = this.getPF(); break; // P / NP
      case 6: t = this.getSF() ^ this.getOF(); break; // L / GE
      default: t = this.getZF() | (this.getSF() ^ this.getOF()); break; // LE / G
    }
    return (t ^ (cc & 1)) !== 0;
  }

  /** RFLAGS as a number (all defined bits fit in 32 bits). */
  getRflags(): number {
    return (this.flagsOther | this.statusFlags() | F.FIXED1) >>> 0;
  }

  /** Load RFLAGS; the caller has already applied privilege rules (POPF) or is the API. */
  setRflags(v: number): void {
    this.setStatusFlags(v);
    const ac = (this.flagsOther & F.AC) !== 0;
    this.flagsOther = ((v & ~STATUS_FLAGS) | F.FIXED1) & 0x3f7fff;
    const acNow = (this.flagsOther & F.AC) !== 0;
    if (ac !== acNow) this.mmu.setAlignmentCheck(acNow);
  }

  get df(): boolean {
    return (this.flagsOther & F.DF) !== 0;
  }

  // ---- faults ----------------------------------------------------------------------------------

  fault(vector: number, why: string, errorCode = 0): CpuFault {
    return new CpuFault(vector, errorCode, 0n, why);
  }

  // ---- effective addresses ---------------------------------------------------------------------

  /**
   * The linear address of a ModRM/SIB/moffs memory operand (Intel SDM Vol.1 §3.7.5), checked for
   * canonical form: #SS(0) for RSP/RBP-based accesses, #GP(0) otherwise (AMD APM Vol.2 §5.3.1).
   */
  ea(d: Insn): number {
    if (d.baseOnly) {
      // [base + disp]: the common form, without the general path's branches.
      const base = d.base;
      const s = (this.lo[base]! >>> 0) + (d.dispLo >>> 0);
      const hi = (this.hi[base]! + d.dispHi + (s >= TWO32 ? 1 : 0)) | 0;
      const top = hi >> 15;
      if (top !== 0 && top !== -1) return this.linear(s | 0, hi, d.stackAccess); // raises #GP/#SS
      const la = (hi & 0xffff) * TWO32 + (s >>> 0);
      if (la > CANONICAL_EDGE && la < TWO47) this.checkStraddle(la, d.size, d.stackAccess);
      return la;
    }
    let lo = this.eaRaw(d);
    let hi = this.vHi;
    if (d.seg !== 0) {
      const bLo = d.seg === 1 ? this.fsBaseLo : this.gsBaseLo;
      const bHi = d.seg === 1 ? this.fsBaseHi : this.gsBaseHi;
      const s = (lo >>> 0) + (bLo >>> 0);
      hi = (hi + bHi + (s >= TWO32 ? 1 : 0)) | 0;
      lo = s | 0;
    }
    const la = this.linear(lo, hi, d.stackAccess);
    if (la > CANONICAL_EDGE && la < TWO47) this.checkStraddle(la, d.size, d.stackAccess);
    return la;
  }

  /**
   * An access that starts canonical but runs past 0x7fff_ffff_ffff into the non-canonical hole
   * is #GP(0) (#SS(0) on the stack), like any non-canonical access (AMD APM Vol.2 §5.3.1).
   */
  checkStraddle(la: number, size: number, stack: boolean): void {
    if (la + size > TWO47) throw this.fault(stack ? Vector.SS : Vector.GP, `a ${size}-byte access at 0x${la.toString(16)} runs into the non-canonical hole`);
  }

  /**
   * The effective address (offset) of a memory operand, before the segment base and the canonical
   * check: what LEA stores. Returns the low half; the high half is left in vHi. A 67 prefix
   * truncates to 32 bits (Intel SDM Vol.1 §3.3.7).
   */
  eaRaw(d: Insn): number {
    let lo: number;
    let hi: number;
    const base = d.base;
    if (base === BASE_RIP) {
      const v = this.blockRip + d.end + d.dispLo;
      lo = v | 0;
      hi = Math.floor(v / TWO32) | 0;
    } else {
      lo = d.dispLo;
      hi = d.dispHi;
      if (base >= 0) {
        const s = (lo >>> 0) + (this.lo[base]! >>> 0);
        hi = (hi + this.hi[base]! + (s >= TWO32 ? 1 : 0)) | 0;
        lo = s | 0;
      }
      const index = d.index;
      if (index >= 0) {
        const sc = d.scale;
        let iLo = this.lo[index]!;
        let iHi = this.hi[index]!;
        if (sc !== 0) {
          iHi = (iHi << sc) | (iLo >>> (32 - sc));
          iLo = iLo << sc;
        }
        const s = (lo >>> 0) + (iLo >>> 0);
        hi = (hi + iHi + (s >= TWO32 ? 1 : 0)) | 0;
        lo = s | 0;
      }
    }
    this.vHi = d.addrSize === 4 ? 0 : hi;
    return lo;
  }

  /** Convert a 64-bit address to the MMU's 48-bit form, raising #GP(0)/#SS(0) when it is not canonical. */
  linear(lo: number, hi: number, stack: boolean): number {
    const top = hi >> 15;
    if (top !== 0 && top !== -1) {
      throw this.fault(stack ? Vector.SS : Vector.GP, `non-canonical ${stack ? 'stack ' : ''}address 0x${hex64(lo, hi)}`);
    }
    return (hi & 0xffff) * TWO32 + (lo >>> 0);
  }

  // ---- memory access by operand size -------------------------------------------------------------

  /** Read `size` bytes at linear address `la`; size 8 leaves the high half in vHi. */
  readMem(la: number, size: number): number {
    switch (size) {
      case 1:
        return this.mmu.read8(la);
      case 2:
        return this.mmu.read16(la);
      case 4:
        return this.mmu.read32(la) | 0;
      default: {
        const lo = this.mmu.read64(la) | 0;
        this.vHi = this.mmu.high32 | 0;
        return lo;
      }
    }
  }

  writeMem(la: number, size: number, lo: number, hi: number): void {
    switch (size) {
      case 1:
        this.mmu.write8(la, lo & 0xff);
        return;
      case 2:
        this.mmu.write16(la, lo & 0xffff);
        return;
      case 4:
        this.mmu.write32(la, lo >>> 0);
        return;
      default:
        this.mmu.write64(la, lo >>> 0, hi >>> 0);
    }
  }

  // ---- stack (Intel SDM Vol.1 §6.2, §6.3) --------------------------------------------------------

  /** Push `size` (2 or 8) bytes; RSP changes only after the write succeeded. */
  push(size: number, lo: number, hi: number): void {
    const s = (this.lo[4]! >>> 0) - size;
    const nLo = s | 0;
    const nHi = (this.hi[4]! - (s < 0 ? 1 : 0)) | 0;
    const la = this.linear(nLo, nHi, true);
    if (la > CANONICAL_EDGE && la < TWO47) this.checkStraddle(la, size, true);
    this.writeMem(la, size, lo, hi);
    this.lo[4] = nLo;
    this.hi[4] = nHi;
  }

  /** Read the value `offset` bytes above RSP without popping it (size 2 or 8). */
  peekStack(offset: number, size: number): number {
    const s = (this.lo[4]! >>> 0) + offset;
    const la = this.linear(s | 0, (this.hi[4]! + (s >= TWO32 ? 1 : 0)) | 0, true);
    if (la > CANONICAL_EDGE && la < TWO47) this.checkStraddle(la, size, true);
    return this.readMem(la, size);
  }

  /** RSP += n (64-bit). */
  addRsp(n: number): void {
    const s = (this.lo[4]! >>> 0) + n;
    this.hi[4] = (this.hi[4]! + (s >= TWO32 ? 1 : s < 0 ? -1 : 0)) | 0;
    this.lo[4] = s | 0;
  }

  /** Branch to a 64-bit target given as halves, checking canonical form (Intel: #GP(0) at the branch). */
  jumpTo(lo: number, hi: number): void {
    const top = hi >> 15;
    if (top !== 0 && top !== -1) throw this.fault(Vector.GP, `branch to non-canonical address 0x${hex64(lo, hi)}`);
    this.target = hi * TWO32 + (lo >>> 0);
  }

  /** Branch to a numeric target (relative branches), checking canonical form. */
  jumpToNumber(target: number): void {
    if (target >= TWO47 || target < -TWO47) throw this.fault(Vector.GP, `branch to non-canonical address ${target}`);
    this.target = target;
  }
}

function defaultUserGates(): Uint8Array {
  const gates = new Uint8Array(256);
  gates[3] = 1;
  gates[4] = 1;
  return gates;
}

/** Unsigned 64-bit a < b on (lo, hi) halves: 1 or 0. */
export function ltu(aLo: number, aHi: number, bLo: number, bHi: number): number {
  const ah = aHi >>> 0;
  const bh = bHi >>> 0;
  return ah < bh || (ah === bh && aLo >>> 0 < bLo >>> 0) ? 1 : 0;
}

export function hex64(lo: number, hi: number): string {
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

/** (lo, hi) halves to an unsigned bigint. */
export function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
