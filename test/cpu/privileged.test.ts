// Privileged and I/O instructions (src/cpu/privileged.ts). At CPL 3 each encoding is run natively
// (test/cpu/native/privileged.c: a Linux process, so #GP arrives as SIGSEGV with REG_TRAPNO 13) and
// in snpemu, and the exception vector and error code, or the register and memory results, must be
// the same. At CPL 0 the expected values come from the manuals (cited per test).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { Vector } from '../../src/cpu/fault.ts';
import { asm } from './assemble.ts';
import { CODE, DATA, exec, flatMachine, hex, RAX, RCX, RDI, RDX, RSP, runCode, execWith } from './harness.ts';
import { buildNativeHelper } from './native.ts';

/** Encodings run at CPL 3, natively and in snpemu. `int 0x80` is left out on purpose (docs/flags.md). */
const CPL3_CASES = [
  'fa', 'fb', // CLI STI
  'e460', 'e560', 'e660', 'e760', 'ec', 'ed', 'ee', 'ef', // IN OUT
  '6c', '6d', '6e', '6f', 'f36c', // INS OUTS, REP INS
  'cd21', 'cdff', 'cd03', 'cd04', // INT n: #GP(n*8+2), #BP, #OF
  '0f0117', '0f011f', // LGDT LIDT [rdi]
  '0f0107', '0f010f', // SGDT SIDT [rdi] (not privileged)
  '0f01e0', '480f01e0', '660f01e0', '0f0127', // SMSW eax / rax / ax / [rdi]
  '0f00c0', '480f00c0', '0f00c8', '660f00c8', '0f0007', '0f000f', // SLDT STR
  '0f0017', '0f001f', '0f01f0', '0f0137', // LLDT LTR LMSW
  '0f06', '0f08', '0f09', // CLTS INVD WBINVD
  '0f21c0', '0f23c0', '0f21e0', // MOV from/to DR
  '0f33', '0f01f8', '0f07', '480f07', // RDPMC SWAPGS SYSRET
  'f4', '0f20c0', '0f32', // HLT, MOV from CR, RDMSR (already privileged before this change)
];

type Outcome = { kind: 'fault'; vector: number; errorCode: number } | { kind: 'ok'; rax: bigint; buf: string };

let helper: { path: string; cleanup: () => void };
let native: Map<string, Outcome>;

beforeAll(() => {
  helper = buildNativeHelper('privileged');
  const out = execFileSync(helper.path, { input: CPL3_CASES.join('\n') + '\n' }).toString().trim().split('\n');
  native = new Map();
  CPL3_CASES.forEach((code, i) => {
    const parts = out[i]!.split(' ');
    if (parts[0] === 'sig') {
      native.set(code, { kind: 'fault', vector: Number(parts[2]), errorCode: parseInt(parts[3]!, 16) });
    } else {
      native.set(code, { kind: 'ok', rax: BigInt(`0x${parts[1]}`), buf: parts[2]! });
    }
  });
});

afterAll(() => helper?.cleanup());

function emulated(code: string): Outcome {
  const m = flatMachine();
  m.phys.writeBytes(DATA, new Uint8Array(64).fill(0xaa));
  m.cpu.setReg(RAX, 0x1122334455667788n);
  for (const r of [RDI, 6]) m.cpu.setReg(r, BigInt(DATA));
  m.cpu.cpl = 3;
  const r = runCode(m, code);
  if (r.kind === 'fault') return { kind: 'fault', vector: r.fault.vector, errorCode: r.fault.errorCode };
  expect(r.kind).toBe('stop-address');
  return { kind: 'ok', rax: m.cpu.getReg(RAX), buf: Buffer.from(m.phys.readBytes(DATA, 16)).toString('hex') };
}

describe('privileged and I/O instructions at CPL 3 match this machine', () => {
  it.each(CPL3_CASES)('%s', (code) => {
    const n = native.get(code)!;
    const e = emulated(code);
    expect(e).toEqual(n);
  });
});

describe('INT n and IRET', () => {
  it('INT n from CPL 3 to a DPL-0 gate is #GP(n*8+2) with RIP at the instruction; int 0x80 included (no IA32 emulation)', () => {
    const m = flatMachine();
    m.cpu.cpl = 3;
    const r = runCode(m, 'cd80');
    expect(r.kind === 'fault' && [r.fault.vector, r.fault.errorCode]).toEqual([Vector.GP, 0x80 * 8 + 2]);
    expect(m.cpu.rip).toBe(BigInt(CODE));
  });

  it('an allowed INT n is a trap: RIP after it, the instruction retired; a kernel can open vector 0x80 to CPL 3', () => {
    const m = flatMachine();
    m.cpu.cpl = 3;
    m.cpu.userGates[0x80] = 1;
    const before = m.cpu.instructions;
    const r = runCode(m, '90cd80');
    expect(r.kind === 'fault' && r.fault.vector).toBe(0x80);
    expect(m.cpu.rip).toBe(BigInt(CODE + 3));
    expect(m.cpu.instructions - before).toBe(2);
    // At CPL 0 every vector is allowed (there is no IDT; the layer above plays it).
    const k = flatMachine();
    const r0 = runCode(k, 'cd21');
    expect(r0.kind === 'fault' && r0.fault.vector).toBe(0x21);
    expect(k.cpu.rip).toBe(BigInt(CODE + 2));
  });

  it('IRETQ at CPL 0 to CS 0x33 / SS 0x2b enters CPL 3 with the popped RIP, RSP and RFLAGS (Intel SDM "IRET")', () => {
    const m = flatMachine();
    // Frame, lowest address first: RIP, CS, RFLAGS, RSP, SS.
    exec(m, asm('push 0x2b; push 0x7000; push 0x3a02; push 0x33; push 0x1100'));
    m.phys.writeBytes(0x1100, hex('f4')); // HLT: #GP(0) at CPL 3, RIP at it
    const r = runCode(m, '48cf');
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.GP);
    expect(m.cpu.rip).toBe(0x1100n);
    expect(m.cpu.cpl).toBe(3);
    expect(m.cpu.getReg(RSP)).toBe(0x7000n);
    // IOPL 3, OF and IF loaded at CPL 0; bit 1 always set.
    expect(m.cpu.rflags).toBe(0x3a02n);
  });

  it('IRETQ at CPL 3 to a CS with RPL 0 is #GP(selector); a null CS is #GP(0); nothing changes', () => {
    const m = flatMachine();
    exec(m, asm('push 0x2b; push 0x7000; push 0x202; push 0x10; push 0x1100'));
    m.cpu.cpl = 3;
    const rsp = m.cpu.getReg(RSP);
    const r = runCode(m, '48cf');
    expect(r.kind === 'fault' && [r.fault.vector, r.fault.errorCode]).toEqual([Vector.GP, 0x10]);
    expect(m.cpu.getReg(RSP)).toBe(rsp);
    expect(m.cpu.cpl).toBe(3);
    m.cpu.cpl = 0;
    exec(m, asm('add rsp, 40; push 0x2b; push 0x7000; push 0x202; push 0; push 0x1100'));
    m.cpu.cpl = 3;
    const r2 = runCode(m, '48cf');
    expect(r2.kind === 'fault' && [r2.fault.vector, r2.fault.errorCode]).toEqual([Vector.GP, 0]);
  });
});

describe('at CPL 0 (kernel "none" scenarios)', () => {
  it('CLI clears IF and STI sets it (RFLAGS bit 9); at CPL 3 with IOPL 3 they are allowed', () => {
    const m = flatMachine();
    exec(m, asm('cli'));
    expect(Number(m.cpu.rflags) & 0x200).toBe(0);
    exec(m, asm('sti'));
    expect(Number(m.cpu.rflags) & 0x200).toBe(0x200);
    m.cpu.rflags = 0x3202n; // IOPL 3
    m.cpu.cpl = 3;
    exec(m, asm('cli'));
    expect(Number(m.cpu.rflags) & 0x200).toBe(0);
  });

  it('IN from an unclaimed port reads all-ones at the operand size; OUT is dropped', () => {
    const m = execWith({ [RAX]: 0x1122334455667788n }, 'e460'); // in al, 0x60: AL only
    expect(m.cpu.getReg(RAX)).toBe(0x11223344556677ffn);
    exec(m, '66ed'); // in ax, dx
    expect(m.cpu.getReg(RAX)).toBe(0x112233445566ffffn);
    exec(m, 'ed'); // in eax, dx: a 32-bit write zero-extends
    expect(m.cpu.getReg(RAX)).toBe(0xffffffffn);
    m.cpu.setReg(RAX, 5n);
    exec(m, 'e680ee'); // out 0x80, al; out dx, al
    expect(m.cpu.getReg(RAX)).toBe(5n);
  });

  it('REP INSB stores all-ones and counts RCX down; OUTSB reads [rsi] and advances RSI', () => {
    const m = execWith({ [RDI]: BigInt(DATA), [RCX]: 3n }, 'f36c');
    expect(Buffer.from(m.phys.readBytes(DATA, 4)).toString('hex')).toBe('ffffff00');
    expect(m.cpu.getReg(RDI)).toBe(BigInt(DATA + 3));
    expect(m.cpu.getReg(RCX)).toBe(0n);
    m.cpu.setReg(6, BigInt(DATA));
    exec(m, '6f'); // outsd
    expect(m.cpu.getReg(6)).toBe(BigInt(DATA + 4));
  });

  it('LGDT/LIDT load the 10-byte pseudo-descriptor that SGDT/SIDT store back; a non-canonical base is #GP(0)', () => {
    const m = flatMachine();
    m.phys.writeBytes(DATA, hex('7f00 0010 0000 00fe ffff'));
    m.cpu.setReg(RAX, BigInt(DATA));
    exec(m, '0f0110 0f0118'); // lgdt [rax]; lidt [rax]
    expect([m.cpu.gdtrLimit, m.cpu.gdtrBase, m.cpu.idtrLimit, m.cpu.idtrBase]).toEqual([0x7f, 0xfffffe0000001000n, 0x7f, 0xfffffe0000001000n]);
    m.cpu.setReg(RAX, BigInt(DATA + 16));
    exec(m, '0f0100'); // sgdt [rax]
    expect(Buffer.from(m.phys.readBytes(DATA + 16, 10)).toString('hex')).toBe('7f000010000000feffff');
    m.phys.writeBytes(DATA, hex('7f00 0000 0000 0080 0000'));
    m.cpu.setReg(RAX, BigInt(DATA));
    const r = runCode(m, '0f0110');
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.GP);
    expect(m.cpu.gdtrBase).toBe(0xfffffe0000001000n);
  });

  it('LLDT/LTR store selectors that SLDT/STR read back; LTR of a null selector is #GP(0)', () => {
    const m = execWith({ [RAX]: 0x28n }, '0f00d0'); // lldt ax
    m.cpu.setReg(RAX, 0x50n);
    exec(m, '0f00d8 480f00c1 480f00ca'); // ltr ax; sldt rcx; str rdx
    expect([m.cpu.getReg(RCX), m.cpu.getReg(RDX)]).toEqual([0x28n, 0x50n]);
    m.cpu.setReg(RAX, 3n);
    const r = runCode(m, '0f00d8');
    expect(r.kind === 'fault' && [r.fault.vector, r.fault.errorCode]).toEqual([Vector.GP, 0]);
  });

  it('LMSW sets CR0 bits 3:0 but cannot clear PE; CLTS clears TS (Intel SDM "LMSW", "CLTS")', () => {
    const m = flatMachine(); // CR0 = 0x80050033
    m.cpu.setReg(RAX, 0xfff8n); // bits 3:0 = 1000: TS = 1, EM = MP = PE = 0
    exec(m, '0f01f0');
    // (0x33 & ~0xf) | 0x8 (TS) | 0x1 (PE kept) = 0x39
    expect(m.cpu.cr0).toBe(0x80050039n);
    exec(m, '0f06');
    expect(m.cpu.cr0).toBe(0x80050031n);
  });

  it('MOV DR stores and reads back; DR4 aliases DR6 with CR4.DE = 0 and is #UD with CR4.DE = 1; DR8 is #UD', () => {
    const m = execWith({ [RAX]: 0x12345678abcdn }, '0f23d8 0f21d9'); // mov dr3, rax; mov rcx, dr3
    expect(m.cpu.getReg(RCX)).toBe(0x12345678abcdn);
    exec(m, '0f21e2'); // mov rdx, dr4 → DR6
    expect(m.cpu.getReg(RDX)).toBe(0xffff0ff0n);
    m.cpu.cr4 = m.cpu.cr4 | 8n;
    const r = runCode(m, '0f21e2');
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.UD);
    const r8 = runCode(m, '440f21c0'); // mov rax, dr8
    expect(r8.kind === 'fault' && r8.fault.vector).toBe(Vector.UD);
  });

  it('SWAPGS exchanges GS.base and KERNEL_GS_BASE; RDPMC is #GP(0) (no counters); INVD/WBINVD do nothing', () => {
    const m = flatMachine();
    m.cpu.gsBase = 0x1000n;
    m.cpu.kernelGsBase = 0x2000n;
    exec(m, '0f01f8 0f08 0f09');
    expect([m.cpu.gsBase, m.cpu.kernelGsBase]).toEqual([0x2000n, 0x1000n]);
    const r = runCode(m, '0f33');
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.GP);
  });

  it('SYSRETQ returns to CPL 3 at RCX with RFLAGS from R11 (RF cleared, bit 1 set)', () => {
    const m = flatMachine();
    m.cpu.setReg(RCX, BigInt(CODE + 0x100));
    m.cpu.setReg(11, 0x10246n);
    m.phys.writeBytes(CODE + 0x100, hex('f4'));
    const r = runCode(m, '480f07');
    expect(m.cpu.cpl).toBe(3);
    expect(m.cpu.rip).toBe(BigInt(CODE + 0x100)); // HLT at CPL 3: #GP(0), RIP at it
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.GP);
    expect(Number(m.cpu.rflags) & 0x10000).toBe(0);
  });
});
