// PVALIDATE / RMPADJUST dispatch in the CPU (src/cpu/system.ts guestSnpInsn) through a recording
// guest port, and the SNP leaf of CPUID. The guest-side semantics (the 2D walk, the RMP rules) are
// tested with real guest code in test/guest/cpu-instructions.test.ts.

import { describe, expect, it } from 'vitest';
import { CpuFault, Vector } from '../../src/cpu/fault.ts';
import type { CpuGuestSnpPort, SnpInstructionResult } from '../../src/cpu/rmp-port.ts';
import { assemble } from './assemble.ts';
import { CODE, exec, flatMachine, runCode, status, RAX, RBX, RCX, RDX, R8, R9, R10, type Flat } from './harness.ts';

// One `as` run for every snippet of this file. GNU as encodes PVALIDATE as F2 0F 01 FF and RMPADJUST
// as F3 0F 01 FE (spec/rmp.md §5.1), the bytes the decoder's table rows hold.
const [PVALIDATE, RMPADJUST, PV_THEN_SETCC, MOV_THEN_PV, CPUID] = assemble([
  'pvalidate',
  'rmpadjust',
  'pvalidate; setc r8b; setz r9b; setp r10b',
  'mov ebx, 7; pvalidate; mov ebx, 8',
  'cpuid',
]);

interface Recording extends CpuGuestSnpPort {
  calls: string[];
  next: SnpInstructionResult | CpuFault;
}

function recordingPort(): Recording {
  const port: Recording = {
    calls: [],
    next: { eax: 0, cf: false },
    pvalidate(rax, rcx, rdx) {
      port.calls.push(`pvalidate ${rax.toString(16)} ${rcx.toString(16)} ${rdx.toString(16)}`);
      if (port.next instanceof CpuFault) throw port.next;
      return port.next;
    },
    rmpadjust(rax, rcx, rdx) {
      port.calls.push(`rmpadjust ${rax.toString(16)} ${rcx.toString(16)} ${rdx.toString(16)}`);
      if (port.next instanceof CpuFault) throw port.next;
      return port.next;
    },
  };
  return port;
}

function guestCpu(): { m: Flat; port: Recording } {
  const m = flatMachine();
  const port = recordingPort();
  m.cpu.guestSnp = port;
  return { m, port };
}

describe('PVALIDATE / RMPADJUST through the guest port', () => {
  it('pass RAX, RCX, RDX as full 64-bit values and write EAX zero-extended into RAX', () => {
    const { m, port } = guestCpu();
    m.cpu.setReg(RAX, 0xffff800000003000n);
    m.cpu.setReg(RCX, 0x100000001n);
    m.cpu.setReg(RDX, 0xdead00000001n);
    port.next = { eax: 6, cf: false };
    exec(m, PVALIDATE);
    // A 32-bit result zero-extends into RAX (Intel SDM Vol.1 §3.4.1.1): the high half is cleared.
    expect(m.cpu.getReg(RAX)).toBe(6n);
    m.cpu.setReg(RAX, 0x7000n);
    m.cpu.setReg(RDX, 0x10301n);
    port.next = { eax: 0, cf: false };
    exec(m, RMPADJUST);
    expect(m.cpu.getReg(RAX)).toBe(0n);
    expect(port.calls).toEqual(['pvalidate ffff800000003000 100000001 dead00000001', 'rmpadjust 7000 100000001 10301']);
    expect(m.cpu.instructions).toBe(2);
  });

  it('set the six status flags from the result: CF from it, ZF/SF/PF from EAX, OF = AF = 0', () => {
    const { m, port } = guestCpu();
    const cases: [SnpInstructionResult, number][] = [
      // EAX 0, CF 1 (PVALIDATE, no change): CF|PF|ZF = 0x01|0x04|0x40 (0 has even parity).
      [{ eax: 0, cf: true }, 0x45],
      // EAX 0, CF 0: PF|ZF.
      [{ eax: 0, cf: false }, 0x44],
      // EAX 1 FAIL_INPUT: one bit set, odd parity: no flag.
      [{ eax: 1, cf: false }, 0x00],
      // EAX 2 FAIL_PERMISSION: one bit set: no flag.
      [{ eax: 2, cf: false }, 0x00],
      // EAX 6 FAIL_SIZEMISMATCH = 0b110: two bits, even parity: PF.
      [{ eax: 6, cf: false }, 0x04],
      // EAX 0x80000000: bit 31 gives SF; low byte 0 has even parity: SF|PF = 0x80|0x04.
      [{ eax: 0x80000000, cf: false }, 0x84],
    ];
    for (const [result, flags] of cases) {
      m.cpu.rflags = 0x8d7n; // every status flag set beforehand (0x8d5) plus the fixed bit 1
      port.next = result;
      exec(m, PVALIDATE);
      expect(status(m.cpu), `EAX ${result.eax} CF ${result.cf}`).toBe(flags);
      expect(m.cpu.getReg(RAX)).toBe(BigInt(result.eax));
    }
  });

  it('the flags it writes are the ones the next instructions read (SETC, SETZ, SETP)', () => {
    const { m, port } = guestCpu();
    port.next = { eax: 0, cf: true };
    exec(m, PV_THEN_SETCC);
    expect([m.cpu.getReg(R8) & 0xffn, m.cpu.getReg(R9) & 0xffn, m.cpu.getReg(R10) & 0xffn]).toEqual([1n, 1n, 1n]);
    port.next = { eax: 1, cf: false };
    exec(m, PV_THEN_SETCC);
    expect([m.cpu.getReg(R8) & 0xffn, m.cpu.getReg(R9) & 0xffn, m.cpu.getReg(R10) & 0xffn]).toEqual([0n, 0n, 0n]);
  });

  it('a fault the port throws is reported at the instruction, with nothing changed', () => {
    const { m, port } = guestCpu();
    for (const fault of [
      new CpuFault(Vector.PF, 0x5, 0x40000000n, 'guest #PF from the translation of RAX'),
      new CpuFault(29, 0x404, 0x3000n, '#VC 0x404'),
      new CpuFault(Vector.GP, 0, 0n, 'non-canonical RAX'),
    ]) {
      port.next = fault;
      m.cpu.setReg(RAX, 0x3000n);
      m.cpu.setReg(RBX, 0n);
      m.cpu.rflags = 0x203n; // CF set
      const before = m.cpu.instructions;
      const r = runCode(m, MOV_THEN_PV);
      expect(r.kind === 'fault' && r.fault).toBe(fault);
      // mov ebx, 7 (5 bytes) retired; RIP names PVALIDATE; RAX, the flags and RBX's later write untouched.
      expect(m.cpu.rip).toBe(BigInt(CODE + 5));
      expect(m.cpu.instructions).toBe(before + 1);
      expect(m.cpu.getReg(RBX)).toBe(7n);
      expect(m.cpu.getReg(RAX)).toBe(0x3000n);
      expect(m.cpu.rflags).toBe(0x203n);
    }
    // #PF also loads CR2 (Intel SDM Vol.3A §4.7), through the CPU's one delivery path.
    port.next = new CpuFault(Vector.PF, 0x5, 0x40000000n, 'guest #PF');
    runCode(m, MOV_THEN_PV);
    expect(m.cpu.cr2).toBe(0x40000000n);
  });

  it('CPL > 0 is #GP(0) at the instruction and never reaches the port (spec/rmp.md §5.1)', () => {
    const { m, port } = guestCpu();
    m.cpu.cpl = 3;
    for (const code of [PVALIDATE, RMPADJUST]) {
      m.cpu.setReg(RAX, 0x3000n);
      const r = runCode(m, code);
      expect(r.kind === 'fault' && [r.fault.vector, r.fault.errorCode]).toEqual([Vector.GP, 0]);
      expect(m.cpu.rip).toBe(BigInt(CODE));
      expect(m.cpu.getReg(RAX)).toBe(0x3000n);
    }
    expect(port.calls).toEqual([]);
  });

  it('without a guest port (the host) both are #UD at the instruction', () => {
    const m = flatMachine();
    expect(m.cpu.guestSnp).toBeNull();
    for (const code of [PVALIDATE, RMPADJUST]) {
      m.cpu.setReg(RAX, 0x3000n);
      const r = runCode(m, code);
      expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.UD);
      expect(m.cpu.rip).toBe(BigInt(CODE));
      expect(m.cpu.getReg(RAX)).toBe(0x3000n);
    }
  });
});

describe('CPUID Fn8000_001F (spec/rmp.md §1.1)', () => {
  it('reports VMPL (EAX bit 5) and 4 VMPLs (EBX[15:12]) next to SEV-SNP and the C-bit position', () => {
    const { m } = guestCpu();
    m.cpu.setReg(RAX, 0x8000001fn);
    exec(m, CPUID);
    // EAX: SME 0x1 | SEV 0x2 | SEV-ES 0x8 | SEV-SNP 0x10 | VMPL 0x20 | RMPREAD 1<<21 = 0x20003b.
    expect(m.cpu.getReg(RAX)).toBe(0x20003bn);
    // EBX: C-bit position 51 = 0x33 in [5:0], 4 VMPLs in [15:12] = 0x4000: 0x4033.
    expect(m.cpu.getReg(RBX)).toBe(0x4033n);
    expect(m.cpu.getReg(RCX)).toBe(509n);
    expect(m.cpu.getReg(RDX)).toBe(1n);
  });
});
