// System instructions: CPUID, RDTSC, SYSCALL, HLT, INT3, UD2, MOV CR, INVLPG, RDMSR/WRMSR,
// privilege checks, and the SNP host instructions through a recording RMP port.

import { describe, expect, it } from 'vitest';
import { CpuFault, Vector } from '../../src/cpu/fault.ts';
import type { CpuRmpPort } from '../../src/cpu/rmp-port.ts';
import { asm } from './assemble.ts';
import { CODE, DATA, exec, flatMachine, RAX, RBX, RCX, RDX, runCode, R11, execWith } from './harness.ts';

function str(...regs: bigint[]): string {
  return regs.map((r) => Buffer.from([0, 8, 16, 24].map((s) => Number((r >> BigInt(s)) & 0xffn))).toString('latin1')).join('');
}

describe('CPUID', () => {
  it('vendor AuthenticAMD, max leaves, SEV-SNP bit, C-bit position 51, MAXPHYADDR 48', () => {
    const m = flatMachine();
    exec(m, asm('xor eax, eax; cpuid'));
    expect(str(m.cpu.getReg(RBX), m.cpu.getReg(RDX), m.cpu.getReg(RCX))).toBe('AuthenticAMD');
    m.cpu.setReg(RAX, 0x8000001fn);
    exec(m, asm('cpuid'));
    expect(m.cpu.getReg(RAX) & 0x10n).toBe(0x10n); // EAX[4] SEV-SNP
    expect(m.cpu.getReg(RBX) & 0x3fn).toBe(51n); // EBX[5:0] C-bit position
    m.cpu.setReg(RAX, 0x80000008n);
    exec(m, asm('cpuid'));
    expect(m.cpu.getReg(RAX) & 0xffn).toBe(48n);
    expect((m.cpu.getReg(RAX) >> 8n) & 0xffn).toBe(48n);
  });

  it('reports POPCNT, LZCNT (ABM), TZCNT (BMI1), LAHF/SAHF, SYSCALL, NX, LM; a machine without SNP reports no SEV leaf', () => {
    const m = execWith({ [RAX]: 1n }, asm('cpuid'));
    expect(m.cpu.getReg(RCX) & (1n << 23n)).not.toBe(0n);
    m.cpu.setReg(RAX, 7n);
    m.cpu.setReg(RCX, 0n);
    exec(m, asm('cpuid'));
    expect(m.cpu.getReg(RBX) & (1n << 3n)).not.toBe(0n);
    m.cpu.setReg(RAX, 0x80000001n);
    exec(m, asm('cpuid'));
    expect(m.cpu.getReg(RCX) & 0x21n).toBe(0x21n);
    expect(m.cpu.getReg(RDX) & ((1n << 11n) | (1n << 20n) | (1n << 29n))).toBe((1n << 11n) | (1n << 20n) | (1n << 29n));
    m.cpu.features = { ...m.cpu.features, snp: false };
    m.cpu.setReg(RAX, 0x8000001fn);
    exec(m, asm('cpuid'));
    expect(m.cpu.getReg(RAX)).toBe(0n);
  });
});

describe('RDTSC, SYSCALL, HLT, INT3, UD2', () => {
  it('RDTSC counts retired instructions', () => {
    const m = flatMachine();
    exec(m, asm('nop; nop; nop; rdtsc'));
    expect((m.cpu.getReg(RDX) << 32n) | m.cpu.getReg(RAX)).toBe(3n);
    expect(m.cpu.instructions).toBe(4);
  });

  it('SYSCALL stops with RCX = next RIP, R11 = RFLAGS, RIP after it', () => {
    const m = flatMachine();
    const code = asm('stc; syscall; nop');
    m.phys.writeBytes(CODE, code);
    m.cpu.rip = BigInt(CODE);
    const r = m.cpu.run(100);
    expect(r.kind).toBe('syscall');
    expect(m.cpu.rip).toBe(BigInt(CODE + 3));
    expect(m.cpu.getReg(RCX)).toBe(BigInt(CODE + 3));
    expect(m.cpu.getReg(R11)).toBe(0x203n);
  });

  it('HLT stops at CPL 0 and is #GP(0) at CPL 3', () => {
    const m = flatMachine();
    let r = runCode(m, asm('hlt; nop'));
    expect(r.kind).toBe('halt');
    expect(m.cpu.rip).toBe(BigInt(CODE + 1));
    m.cpu.cpl = 3;
    r = runCode(m, asm('hlt'));
    expect(r.kind === 'fault' && r.fault.vector === Vector.GP && r.fault.errorCode === 0).toBe(true);
    expect(m.cpu.rip).toBe(BigInt(CODE));
  });

  it('INT3 is a trap (#BP with RIP after it); UD2 is #UD at the instruction', () => {
    const m = flatMachine();
    let r = runCode(m, asm('nop; int3; nop'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.BP);
    expect(m.cpu.rip).toBe(BigInt(CODE + 2));
    r = runCode(m, asm('nop; ud2'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.UD);
    expect(m.cpu.rip).toBe(BigInt(CODE + 1));
  });
});

describe('control registers, INVLPG and MSRs', () => {
  it('MOV to CR3/CR4/CR0 tells the MMU; MOV from CR2 reads back', () => {
    const m = flatMachine();
    m.cpu.setReg(RAX, 0x5000n);
    m.cpu.setReg(RBX, 0x300020n); // PAE | SMEP | SMAP
    exec(m, asm('mov cr3, rax; mov cr4, rbx'));
    expect(m.mem.control).toEqual([0x80050033, 0x5000, 0x300020, 0xd01]);
    m.cpu.cr2 = 0xffff800000001234n;
    exec(m, asm('mov rcx, cr2'));
    expect(m.cpu.getReg(RCX)).toBe(0xffff800000001234n);
  });

  it('reserved CR bits and leaving long mode are #GP(0) with nothing changed', () => {
    const m = flatMachine();
    m.cpu.setReg(RAX, 1n << 40n);
    expect(runCode(m, asm('mov cr0, rax')).kind).toBe('fault');
    m.cpu.setReg(RAX, 0x00050033n); // PG clear while EFER.LMA = 1
    const r = runCode(m, asm('mov cr0, rax'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.GP);
    expect(m.cpu.cr0).toBe(0x80050033n);
    m.cpu.setReg(RAX, 1n << 12n); // LA57 is not supported
    expect(runCode(m, asm('mov cr4, rax')).kind).toBe('fault');
    m.cpu.setReg(RAX, 0x1n << 50n); // CR3 above MAXPHYADDR
    expect(runCode(m, asm('mov cr3, rax')).kind).toBe('fault');
  });

  it('INVLPG passes the linear address to the MMU', () => {
    const m = execWith({ [RBX]: 0x7000n }, asm('invlpg [rbx+0x10]'));
    expect(m.mem.invalidated).toEqual([0x7010]);
  });

  it('RDMSR/WRMSR: EFER, FS/GS base; FS base is used by fs: overrides', () => {
    const m = flatMachine();
    m.cpu.setReg(RCX, 0xc0000100n); // FS_BASE
    m.cpu.setReg(RAX, BigInt(DATA));
    m.cpu.setReg(RDX, 0n);
    m.phys.writeU64(DATA + 8, 0x77n);
    exec(m, asm('wrmsr; mov rbx, fs:[8]'));
    expect(m.cpu.getReg(RBX)).toBe(0x77n);
    expect(m.cpu.fsBase).toBe(BigInt(DATA));
    m.cpu.setReg(RCX, 0xc0000080n);
    exec(m, asm('rdmsr'));
    expect(m.cpu.getReg(RAX)).toBe(0xd01n);
    m.cpu.gsBase = BigInt(DATA);
    exec(m, asm('mov rcx, gs:[8]'));
    expect(m.cpu.getReg(RCX)).toBe(0x77n);
  });

  it('unknown MSRs, reserved EFER bits and non-canonical FS base are #GP(0)', () => {
    const m = flatMachine();
    m.cpu.setReg(RCX, 0x12345678n);
    expect(runCode(m, asm('rdmsr')).kind).toBe('fault');
    m.cpu.setReg(RCX, 0xc0000080n);
    m.cpu.setReg(RAX, 0x10000n);
    m.cpu.setReg(RDX, 0n);
    expect(runCode(m, asm('wrmsr')).kind).toBe('fault');
    m.cpu.setReg(RCX, 0xc0000100n);
    m.cpu.setReg(RAX, 0n);
    m.cpu.setReg(RDX, 0x00008000n); // 0x0000_8000_0000_0000: not canonical
    expect(runCode(m, asm('wrmsr')).kind).toBe('fault');
  });

  it('privileged instructions at CPL 3 raise #GP(0)', () => {
    const m = flatMachine();
    m.cpu.cpl = 3;
    for (const text of ['mov cr3, rax', 'mov rax, cr0', 'invlpg [rax]', 'rdmsr', 'wrmsr', 'hlt']) {
      const r = runCode(m, asm(text));
      expect(r.kind === 'fault' && r.fault.vector === Vector.GP && r.fault.errorCode === 0, text).toBe(true);
    }
  });
});

/** An RMP port that records calls and answers with fixed codes. */
function recordingPort(): CpuRmpPort & { calls: string[]; enabledValue: boolean } {
  const port = {
    calls: [] as string[],
    enabledValue: true,
    get enabled() { return port.enabledValue; },
    ownsMsr: (msr: number) => msr === 0xc0010010 || msr === 0xc0010132 || msr === 0xc0010133,
    readMsr: (msr: number) => { port.calls.push(`rdmsr ${msr.toString(16)}`); return 0x1234n; },
    writeMsr: (msr: number, v: bigint) => {
      port.calls.push(`wrmsr ${msr.toString(16)} ${v.toString(16)}`);
      if (v === 0xbadn) throw new CpuFault(Vector.GP, 0, 0n, 'bad value');
    },
    rmpupdate: (spa: number, state: Uint8Array) => { port.calls.push(`rmpupdate ${spa.toString(16)} ${Buffer.from(state).toString('hex')}`); return 3; },
    psmash: (spa: number) => { port.calls.push(`psmash ${spa.toString(16)}`); return 7; },
    rmpread: (spa: number) => { port.calls.push(`rmpread ${spa.toString(16)}`); return { code: 0, bytes: new Uint8Array(16).map((_, i) => 0xa0 + i) }; },
  };
  return port;
}

describe('SNP host instructions', () => {
  it('RMPUPDATE reads the 16-byte state at [RCX] and returns the status in RAX', () => {
    const port = recordingPort();
    const m = flatMachine(1 << 20, port);
    m.phys.writeBytes(DATA, Array.from({ length: 16 }, (_, i) => i + 1));
    m.cpu.setReg(RAX, 0x200000n);
    m.cpu.setReg(RCX, BigInt(DATA));
    exec(m, asm('.byte 0xf2, 0x0f, 0x01, 0xfe'));
    expect(port.calls).toEqual(['rmpupdate 200000 0102030405060708090a0b0c0d0e0f10']);
    expect(m.cpu.getReg(RAX)).toBe(3n);
  });

  it('PSMASH returns the status; RMPREAD writes 16 bytes at [RCX]', () => {
    const port = recordingPort();
    const m = flatMachine(1 << 20, port);
    m.cpu.setReg(RAX, 0x400000n);
    exec(m, asm('.byte 0xf3, 0x0f, 0x01, 0xff'));
    expect(m.cpu.getReg(RAX)).toBe(7n);
    m.cpu.setReg(RAX, 0x5000n);
    m.cpu.setReg(RCX, BigInt(DATA));
    exec(m, asm('.byte 0xf2, 0x0f, 0x01, 0xfd'));
    expect(m.cpu.getReg(RAX)).toBe(0n);
    expect([...m.phys.readBytes(DATA, 16)]).toEqual(Array.from({ length: 16 }, (_, i) => 0xa0 + i));
    expect(port.calls).toEqual(['psmash 400000', 'rmpread 5000']);
  });

  it('PVALIDATE and RMPADJUST raise #UD on the host; the host instructions #GP(0) at CPL 3', () => {
    const port = recordingPort();
    const m = flatMachine(1 << 20, port);
    for (const b of ['0xf2, 0x0f, 0x01, 0xff', '0xf3, 0x0f, 0x01, 0xfe']) {
      const r = runCode(m, asm(`.byte ${b}`));
      expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.UD);
    }
    m.cpu.cpl = 3;
    for (const b of ['0xf2, 0x0f, 0x01, 0xfe', '0xf3, 0x0f, 0x01, 0xff', '0xf2, 0x0f, 0x01, 0xfd']) {
      const r = runCode(m, asm(`.byte ${b}`));
      expect(r.kind === 'fault' && r.fault.vector === Vector.GP && r.fault.errorCode === 0).toBe(true);
    }
    expect(port.calls).toEqual([]);
  });

  it('#UD without an RMP or with SNP disabled; RMP MSRs are forwarded', () => {
    const none = flatMachine();
    let r = runCode(none, asm('.byte 0xf2, 0x0f, 0x01, 0xfe'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.UD);
    const port = recordingPort();
    port.enabledValue = false;
    const m = flatMachine(1 << 20, port);
    r = runCode(m, asm('.byte 0xf3, 0x0f, 0x01, 0xff'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.UD);
    m.cpu.setReg(RCX, 0xc0010132n);
    exec(m, asm('rdmsr'));
    expect(m.cpu.getReg(RAX)).toBe(0x1234n);
    m.cpu.setReg(RAX, 0xbadn);
    m.cpu.setReg(RDX, 0n);
    r = runCode(m, asm('wrmsr'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.GP);
    expect(port.calls).toEqual(['rdmsr c0010132', 'wrmsr c0010132 bad']);
  });
});
