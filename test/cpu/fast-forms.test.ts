// The 64-bit fast forms chosen at decode time (opcodes.ts reg64/mem64: aluRI64, aluMI64, mov64RM,
// mov64MR), the [base + disp] fast path of CpuCore.ea and the page-at-a-time REP STOS fill must
// behave exactly like the general handlers: carries between the 32-bit halves, flags,
// page-crossing accesses and faults with no partial effect. Expected values are hand calculations, shown in the comments.

import { describe, expect, it } from 'vitest';
import { Vector } from '../../src/cpu/fault.ts';
import { asm } from './assemble.ts';
import { CODE, DATA, exec, flatMachine, RAX, RBX, RCX, RDI, runCode, status, execWith } from './harness.ts';

const CF = 0x1, PF = 0x4, AF = 0x10, SF = 0x80;

describe('64-bit fast forms', () => {
  it('ADD/SUB/CMP r64, imm carry and borrow across the 32-bit halves', () => {
    const m = execWith({ [RAX]: 0xffffffffn }, asm('add rax, 1'));
    // 0xffff_ffff + 1 = 0x1_0000_0000: no 64-bit carry; low byte 0x00 (PF=1); carry out of bit 3 (AF=1)
    expect(m.cpu.getReg(RAX)).toBe(0x100000000n);
    expect(status(m.cpu)).toBe(PF | AF);
    exec(m, asm('sub rax, 1'));
    // 0x1_0000_0000 - 1 = 0xffff_ffff: low byte 0xff (PF=1), borrow into bit 4 (AF=1), no CF
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
    // logic: CF=OF=AF=0, SF=1 (bit 63), low byte 0xff (PF=1)
    expect(status(m.cpu)).toBe(PF | SF);
  });

  it('ADD qword [mem], imm carries into the high half; CMP only reads', () => {
    const m = flatMachine();
    m.phys.writeU64(DATA, 0xffffffffn);
    m.cpu.setReg(RBX, BigInt(DATA));
    exec(m, asm('add qword ptr [rbx], 1'));
    expect(m.phys.readU64(DATA)).toBe(0x100000000n);
    m.mem.readOnly.add(DATA / 4096);
    exec(m, asm('cmp qword ptr [rbx], 0x10'));
    // 0x1_0000_0000 - 0x10 = 0xffff_fff0: low byte 0xf0 has four ones (PF=1); 0x00^0x10^0xf0 = 0xe0 (AF=0)
    expect(status(m.cpu)).toBe(PF);
  });

  it('ADD qword [mem], imm across a page boundary: both pages checked before anything is written', () => {
    const m = flatMachine();
    const at = DATA + 0xffc; // 4 bytes in each page
    m.phys.writeU64(at, 0x00000001ffffffffn);
    m.cpu.setReg(RBX, BigInt(at));
    exec(m, asm('add qword ptr [rbx], 1'));
    expect(m.phys.readU64(at)).toBe(0x0000000200000000n);
    m.mem.readOnly.add(DATA / 4096 + 1); // the second page
    const r = runCode(m, asm('add qword ptr [rbx], 1'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.PF);
    expect(m.phys.readU64(at)).toBe(0x0000000200000000n); // neither half written
    expect(m.cpu.rip).toBe(BigInt(CODE));
  });

  it('MOV r64, [base + disp] and MOV [base + disp], r64: negative displacements, carries, page crossing', () => {
    const m = execWith({ [RBX]: BigInt(DATA + 0x10), [RAX]: 0x1122334455667788n }, asm('mov [rbx - 0x14], rax; mov rcx, [rbx - 0x14]'));
    // DATA + 0x10 - 0x14 = DATA - 4: the qword covers DATA-4 .. DATA+3, across the page boundary
    expect(m.phys.readU64(DATA - 4)).toBe(0x1122334455667788n);
    expect(m.cpu.getReg(RCX)).toBe(0x1122334455667788n);
    // base 0xffff_fff0 + disp 0x20 = 0x1_0000_0010: the carry reaches the high half, beyond RAM -> #PF
    m.cpu.setReg(RBX, 0xfffffff0n);
    const r = runCode(m, asm('mov rcx, [rbx + 0x20]'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.PF);
    expect(m.cpu.cr2).toBe(0x100000010n);
    expect(m.cpu.getReg(RCX)).toBe(0x1122334455667788n);
  });

  it('REP STOSW/STOSD/STOSQ fill page after page with the element pattern, from an unaligned start', () => {
    // RAX = 0x0807060504030201: element byte i is i + 1 (little-endian). From DATA + 3, 8000 bytes
    // cross one page boundary with an element straddling it (0x1000 - 3 = 4093 is not a multiple of 8).
    for (const [text, size] of [['rep stosw', 2], ['rep stosd', 4], ['rep stosq', 8]] as const) {
      const m = flatMachine();
      m.cpu.setReg(RAX, 0x0807060504030201n);
      m.cpu.setReg(RDI, BigInt(DATA + 3));
      m.cpu.setReg(RCX, BigInt(8000 / size));
      exec(m, asm(text));
      const bytes = m.phys.readBytes(DATA + 2, 8002);
      const expected = [0, ...Array.from({ length: 8000 }, (_, i) => (i % size) + 1), 0];
      expect([...bytes], text).toEqual(expected);
      expect(m.cpu.getReg(RCX)).toBe(0n);
      expect(m.cpu.getReg(RDI)).toBe(BigInt(DATA + 3 + 8000));
    }
  });
});
