// Privileged and I/O instructions: CLI/STI, IN/OUT, INT n, IRET, the descriptor-table instructions
// (LGDT LIDT LLDT LTR SGDT SIDT SLDT STR SMSW LMSW CLTS), INVD/WBINVD, MOV to/from DR, RDPMC,
// SWAPGS and SYSRET. INS/OUTS are string instructions (string.ts, portString) and use ioAllowed.
//
// snpemu has no segmentation model, no IDT, no TSS and no I/O devices. What it does model is what a
// program can observe from CPL 3 and what a kernel "none" scenario at CPL 0 needs:
// - Privilege: CLI/STI/IN/OUT/INS/OUTS need CPL <= IOPL, else #GP(0) (AMD APM Vol.2 §13.2.2,
//   Intel SDM Vol.1 §18.2). There is no TSS I/O-permission bitmap: at CPL > IOPL every port is
//   denied, as for a Linux process that never called ioperm(). The other system instructions need
//   CPL 0, else #GP(0) (Intel SDM Vol.3A §5.9).
// - Ports: no device claims any port. IN reads all-ones, OUT is dropped (what an unclaimed port
//   does on a PC bus).
// - INT n consults Cpu.userGates in place of the IDT: a vector whose gate has DPL 3 may be raised
//   from CPL 3; any other gives #GP with error code n*8+2 (IDT, EXT=0; Intel SDM Vol.3A §6.12.1.1).
//   The default gates are Linux's x86-64 ones (arch/x86/kernel/idt.c: the system gates are #BP (3)
//   and #OF (4)) for a kernel without IA32 emulation: `int 0x80` is #GP(0x402), so the 32-bit
//   syscall ABI is not supported (docs/flags.md). An allowed INT n is reported as a trap with
//   vector n and RIP after the instruction (the layer above plays the IDT).
// - SGDT/SIDT/SLDT/STR/SMSW are not privileged (CR4.UMIP is not supported and CPUID does not report
//   it). Their reset values are what a Linux process reads on this machine (Linux's UMIP dummies:
//   GDTR base 0xfffffffffffe0000 and IDTR base 0xffffffffffff0000, limit 0; LDTR 0; TR 0x40), so a
//   program reads the same values under snpemu as natively. LGDT/LIDT/LLDT/LTR at CPL 0 store
//   their operand; no descriptor is ever read.

import { Access } from '../mmu/linear-memory.ts';
import { type CpuCore, TWO32 } from './core.ts';
import { Vector } from './fault.ts';
import { F } from './flags.ts';
import type { Insn } from './insn.ts';

function requireCpl0(c: CpuCore, what: string): void {
  if (c.cplValue !== 0) throw c.fault(Vector.GP, `${what} is privileged (CPL ${c.cplValue})`);
}

function iopl(c: CpuCore): number {
  return (c.flagsOther >>> 12) & 3;
}

/** CLI, STI, IN, OUT, INS, OUTS: #GP(0) when CPL > IOPL (no I/O-permission bitmap is modelled). */
export function ioAllowed(c: CpuCore, what: string): void {
  if (c.cplValue > iopl(c)) throw c.fault(Vector.GP, `${what} at CPL ${c.cplValue} with IOPL ${iopl(c)}`);
}

/** Insn.op: 0 CLI, 1 STI. No interrupts are modelled, so STI's one-instruction shadow has no effect. */
export function cliSti(c: CpuCore, d: Insn): void {
  ioAllowed(c, d.op === 0 ? 'CLI' : 'STI');
  if (d.op === 0) c.flagsOther &= ~F.IF;
  else c.flagsOther |= F.IF;
}

/** Port I/O is at most 32 bits wide; REX.W does not widen it (Intel SDM "IN", "OUT"). */
function portSize(d: Insn): number {
  return d.size === 8 ? 4 : d.size;
}

/** Insn.op: 0 = port in the immediate (E4/E5), 1 = port in DX (EC/ED). Reads all-ones. */
export function inPort(c: CpuCore, d: Insn): void {
  const size = portSize(d);
  ioAllowed(c, `IN from port 0x${(d.op === 0 ? d.immLo & 0xff : c.lo[2]! & 0xffff).toString(16)}`);
  c.writeReg(0, size, -1, 0);
}

/** Insn.op as for inPort. The value is dropped. */
export function outPort(c: CpuCore, d: Insn): void {
  ioAllowed(c, `OUT to port 0x${(d.op === 0 ? d.immLo & 0xff : c.lo[2]! & 0xffff).toString(16)}`);
}

/**
 * INT n (CD ib). Vector 3 and 4 from CD are #BP and #OF; every allowed vector is a trap (RIP after
 * the instruction, the instruction retired).
 */
export function intN(c: CpuCore, d: Insn): void {
  const n = d.immLo & 0xff;
  if (c.cplValue > 0 && c.userGates[n] === 0) {
    throw c.fault(Vector.GP, `INT 0x${n.toString(16)} at CPL ${c.cplValue}: the IDT gate has DPL 0`, n * 8 + 2);
  }
  c.trap = true;
  throw c.fault(n, `INT 0x${n.toString(16)}`);
}

/**
 * IRET / IRETD / IRETQ in 64-bit mode (Intel SDM Vol.2 "IRET", IA-32e mode): pops RIP, CS, RFLAGS,
 * RSP and SS (always all five), each of the operand size. There are no descriptors to check: the
 * target is taken to be 64-bit code whose privilege is CS.RPL. Checked as the manual says: a null
 * CS is #GP(0); CS.RPL < CPL is #GP(CS); SS.RPL must equal CS.RPL (a null SS is allowed only when
 * returning to CPL < 3), else #GP(SS); a non-canonical RIP is #GP(0). RFLAGS: IOPL changes only at
 * CPL 0 and IF only when CPL <= IOPL (as POPF); VIF/VIP follow RFLAGS at CPL 0 only.
 */
export function iret(c: CpuCore, d: Insn): void {
  const size = d.size;
  const ripLo = c.peekStack(0, size);
  const ripHi = size === 8 ? c.vHi : 0;
  const cs = c.peekStack(size, size) & 0xffff;
  const flags = c.peekStack(2 * size, size) >>> 0;
  const rspLo = c.peekStack(3 * size, size);
  const rspHi = size === 8 ? c.vHi : 0;
  const ss = c.peekStack(4 * size, size) & 0xffff;
  if ((cs & 0xfffc) === 0) throw c.fault(Vector.GP, 'IRET to a null CS selector');
  const rpl = cs & 3;
  if (rpl < c.cplValue) throw c.fault(Vector.GP, `IRET to CS RPL ${rpl} from CPL ${c.cplValue}`, cs & 0xfffc);
  if ((ss & 0xfffc) === 0 ? rpl === 3 : (ss & 3) !== rpl) {
    throw c.fault(Vector.GP, `IRET with SS 0x${ss.toString(16)} for CS RPL ${rpl}`, ss & 0xfffc);
  }
  const top = ripHi >> 15;
  if (top !== 0 && top !== -1) throw c.fault(Vector.GP, 'IRET to a non-canonical RIP');
  const old = c.getRflags();
  let writable = 0x8d5 | F.TF | F.DF | F.NT | F.AC | F.ID | F.RF;
  if (c.cplValue === 0) writable |= F.IOPL | F.VIF | F.VIP;
  if (c.cplValue <= ((old >>> 12) & 3)) writable |= F.IF;
  if (size === 2) writable &= 0xffff;
  c.setRflags((old & ~writable) | (flags & writable));
  c.writeReg(4, size === 2 ? 2 : 8, rspLo, rspHi);
  if (rpl !== c.cplValue) {
    c.cplValue = rpl;
    c.mmu.setCpl(rpl);
  }
  c.target = size === 8 ? ripHi * TWO32 + (ripLo >>> 0) : size === 4 ? ripLo >>> 0 : ripLo & 0xffff;
  c.breakBlock = true; // the privilege level (and with it every permission check) may have changed
}

// ---- descriptor-table registers (Intel SDM Vol.3A §2.4) -------------------------------------------

/** Insn.op: 0 SGDT, 1 SIDT. Stores the 2-byte limit, then the 8-byte base (64-bit mode). */
export function storeTable(c: CpuCore, d: Insn): void {
  const la = c.ea(d);
  const base = d.op === 0 ? c.gdtrBase : c.idtrBase;
  c.checkStraddle(la, 10, d.stackAccess);
  c.mmu.probe(la, 10, Access.Write); // all ten bytes or none
  c.writeMem(la, 2, d.op === 0 ? c.gdtrLimit : c.idtrLimit, 0);
  c.writeMem(la + 2, 8, Number(base & 0xffffffffn) | 0, Number(base >> 32n) | 0);
}

/** Insn.op: 0 LGDT, 1 LIDT (CPL 0). A non-canonical base is #GP(0). */
export function loadTable(c: CpuCore, d: Insn): void {
  requireCpl0(c, d.op === 0 ? 'LGDT' : 'LIDT');
  const la = c.ea(d);
  const limit = c.readMem(la, 2);
  const lo = c.readMem(la + 2, 8) >>> 0;
  const hi = c.vHi;
  const top = hi >> 15;
  if (top !== 0 && top !== -1) throw c.fault(Vector.GP, `${d.op === 0 ? 'LGDT' : 'LIDT'} with a non-canonical base`);
  const base = (BigInt(hi >>> 0) << 32n) | BigInt(lo);
  if (d.op === 0) {
    c.gdtrLimit = limit;
    c.gdtrBase = base;
  } else {
    c.idtrLimit = limit;
    c.idtrBase = base;
  }
}

/** The value SLDT (op 0), STR (op 1) or SMSW (op 4) stores. */
function systemWord(c: CpuCore, d: Insn): number {
  return d.op === 0 ? c.ldtr : d.op === 1 ? c.tr : c.cr0Value | 0;
}

/**
 * SLDT / STR / SMSW to a register. Measured on this machine at CPL 3: a 16-bit operand writes the
 * low word; a 32-bit operand writes the low 32 bits and leaves bits 63:32 alone (the manual leaves
 * the high bits undefined; this is what a Linux process observes); REX.W writes all 64 bits,
 * zero-extended. SMSW stores CR0 (`smsw eax` gives 0x80050033 here, as Linux runs).
 */
export function storeSystemWordR(c: CpuCore, d: Insn): void {
  const v = systemWord(c, d);
  if (d.size === 4) c.lo[d.r1] = v;
  else c.writeReg(d.r1, d.size, v, 0);
}

/** SLDT / STR / SMSW to memory: always 16 bits. */
export function storeSystemWordM(c: CpuCore, d: Insn): void {
  c.writeMem(c.ea(d), 2, systemWord(c, d) & 0xffff, 0);
}

const LOAD_NAMES = ['', '', 'LLDT', 'LTR', '', '', 'LMSW'];

/** Insn.op: 2 LLDT, 3 LTR, 6 LMSW (CPL 0, checked by the caller); `v` is the 16-bit source. */
function loadSystemWord(c: CpuCore, d: Insn, v: number): void {
  switch (d.op) {
    case 2:
      c.ldtr = v;
      return;
    case 3:
      if ((v & 0xfffc) === 0) throw c.fault(Vector.GP, 'LTR with a null selector');
      c.tr = v;
      return;
    default: {
      // LMSW loads PE MP EM TS (CR0 bits 3:0) and cannot clear PE (Intel SDM "LMSW").
      const cr0 = (c.cr0Value & ~0xe) | (v & 0xf) | (c.cr0Value & 1);
      c.setControlRegisters(cr0 >>> 0, c.cr3Value, c.cr4Value, c.eferValue);
    }
  }
}

export function loadSystemWordR(c: CpuCore, d: Insn): void {
  requireCpl0(c, LOAD_NAMES[d.op]!);
  loadSystemWord(c, d, c.lo[d.r1]! & 0xffff);
}

/** The privilege check comes before the memory read (#GP(0) before any #PF). */
export function loadSystemWordM(c: CpuCore, d: Insn): void {
  requireCpl0(c, LOAD_NAMES[d.op]!);
  loadSystemWord(c, d, c.readMem(c.ea(d), 2));
}

/** CLTS (0F 06): clear CR0.TS (bit 3). */
export function clts(c: CpuCore, _d: Insn): void {
  requireCpl0(c, 'CLTS');
  c.setControlRegisters((c.cr0Value & ~8) >>> 0, c.cr3Value, c.cr4Value, c.eferValue);
}

/** Insn.op: 0 INVD, 1 WBINVD. snpemu has no caches: at CPL 0 they do nothing. */
export function cacheInvalidate(c: CpuCore, d: Insn): void {
  requireCpl0(c, d.op === 0 ? 'INVD' : 'WBINVD');
}

// ---- debug registers (Intel SDM Vol.3B §18.2) -------------------------------------------------------

/**
 * DR4/DR5 alias DR6/DR7 when CR4.DE = 0 and are #UD when it is 1. Values are stored only: no
 * breakpoint ever fires (no #DB is modelled). DR6/DR7 bits 63:32 must be zero (#GP(0)).
 */
function debugIndex(c: CpuCore, n: number): number {
  if (n === 4 || n === 5) {
    if ((c.cr4Value & 8) !== 0) throw c.fault(Vector.UD, `DR${n} with CR4.DE = 1`);
    return n + 2;
  }
  return n;
}

/** MOV r64, DRn (0F 21): r1 = destination, op = DR number. */
export function movFromDr(c: CpuCore, d: Insn): void {
  requireCpl0(c, 'MOV from DR');
  const v = c.dr[debugIndex(c, d.op)]!;
  c.writeReg(d.r1, 8, Number(v & 0xffffffffn) | 0, Number(v >> 32n) | 0);
}

/** MOV DRn, r64 (0F 23): r2 = source, op = DR number. */
export function movToDr(c: CpuCore, d: Insn): void {
  requireCpl0(c, 'MOV to DR');
  const i = debugIndex(c, d.op);
  const hi = c.hi[d.r2]!;
  if (i >= 6 && hi !== 0) throw c.fault(Vector.GP, `DR${i} bits 63:32 are reserved`);
  c.dr[i] = (BigInt(hi >>> 0) << 32n) | BigInt(c.lo[d.r2]! >>> 0);
}

/**
 * RDPMC (0F 33): at CPL > 0 without CR4.PCE, #GP(0). No performance counters are modelled (CPUID
 * reports none), so every counter index in ECX is invalid: #GP(0) (AMD APM Vol.3 "RDPMC").
 */
export function rdpmc(c: CpuCore, _d: Insn): void {
  if (c.cplValue !== 0 && (c.cr4Value & 0x100) === 0) throw c.fault(Vector.GP, 'RDPMC at CPL > 0 with CR4.PCE = 0');
  throw c.fault(Vector.GP, `RDPMC of counter ${c.lo[1]! >>> 0}: no performance counters are modelled`);
}

/** SWAPGS (0F 01 F8): exchange GS.base with KERNEL_GS_BASE (CPL 0). */
export function swapgs(c: CpuCore, _d: Insn): void {
  requireCpl0(c, 'SWAPGS');
  const gs = (BigInt(c.gsBaseHi >>> 0) << 32n) | BigInt(c.gsBaseLo >>> 0);
  c.setGsBase(c.kernelGsBase);
  c.kernelGsBase = gs;
}

/**
 * SYSRET (0F 07, AMD APM Vol.3 "SYSRET"): #UD with EFER.SCE = 0, #GP(0) at CPL > 0. With REX.W it
 * returns to 64-bit code at CPL 3: RIP = RCX (non-canonical: #GP(0) at CPL 0, as Intel does),
 * RFLAGS = R11 with RF and VM cleared and bit 1 set. Without REX.W it returns to compatibility
 * mode, which snpemu does not emulate: reported as an unsupported instruction.
 */
export function sysret(c: CpuCore, d: Insn): void {
  if ((c.eferValue & 1) === 0) throw c.fault(Vector.UD, 'SYSRET with EFER.SCE = 0');
  requireCpl0(c, 'SYSRET');
  if (d.size !== 8) throw c.fault(Vector.UD, 'invalid or unsupported opcode (sysret to compatibility mode)');
  const top = c.hi[1]! >> 15;
  if (top !== 0 && top !== -1) throw c.fault(Vector.GP, 'SYSRET to a non-canonical RCX');
  c.setRflags(((c.lo[11]! >>> 0) & ~(F.RF | F.VM)) | F.FIXED1);
  c.cplValue = 3;
  c.mmu.setCpl(3);
  c.target = c.hi[1]! * TWO32 + (c.lo[1]! >>> 0);
  c.breakBlock = true;
}
