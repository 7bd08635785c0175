// ADD/ADC/SUB/SBB/AND/OR/XOR/CMP/TEST, INC/DEC/NEG/NOT at every operand size, register and memory
// forms, with flags worked out by hand (Intel SDM Vol.1 Appendix A; flag bits: CF 0x1, PF 0x4,
// AF 0x10, ZF 0x40, SF 0x80, OF 0x800).

import { describe, expect, it } from 'vitest';
import { asm } from './assemble.ts';
import { DATA, exec, flatMachine, RAX, RBX, RCX, RDX, status, R8, execWith } from './harness.ts';

const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;

describe('ADD', () => {
  it('64-bit: 0x7fffffffffffffff + 1 overflows to the sign bit (OF SF AF PF, no CF)', () => {
    const m = execWith({ [RAX]: 0x7fffffffffffffffn, [RCX]: 1n }, asm('add rax, rcx'));
    expect(m.cpu.getReg(RAX)).toBe(0x8000000000000000n);
    // low byte 0x00 has even parity -> PF; 0xf + 0x1 carries out of bit 3 -> AF
    expect(status(m.cpu)).toBe(OF | SF | AF | PF);
  });

  it('64-bit: carry out of bit 31 propagates into the high half', () => {
    const m = execWith({ [RAX]: 0xffffffffn, [RCX]: 1n }, asm('add rax, rcx'));
    expect(m.cpu.getReg(RAX)).toBe(0x100000000n);
    expect(status(m.cpu)).toBe(AF | PF); // no CF: no carry out of bit 63
  });

  it('64-bit: 0xffffffffffffffff + 1 = 0 with CF ZF PF AF', () => {
    const m = execWith({ [RAX]: -1n, [RCX]: 1n }, asm('add rax, rcx'));
    expect(m.cpu.getReg(RAX)).toBe(0n);
    expect(status(m.cpu)).toBe(CF | ZF | PF | AF);
  });

  it('32-bit destination zero-extends; 8-bit and 16-bit merge', () => {
    const m = execWith({ [RAX]: 0xaaaaaaaa_fffffff0n, [RBX]: 0x1111111111111111n, [RCX]: 0x2222222222222222n }, asm('add eax, 0x20; add bl, 0xf0; add cx, 0xe000'));
    expect(m.cpu.getReg(RAX)).toBe(0x10n); // 0xfffffff0 + 0x20 = 0x1_00000010 -> 0x10, upper half cleared
    expect(m.cpu.getReg(RBX)).toBe(0x1111111111111101n); // 0x11 + 0xf0 = 0x101 -> 0x01
    expect(m.cpu.getReg(RCX)).toBe(0x2222222222220222n); // 0x2222 + 0xe000 = 0x10222 -> 0x0222
    // last: 16-bit 0x2222+0xe000 = 0x0222, CF=1, parity(0x22)=even -> PF, no AF (2+0 in the low nibble)
    expect(status(m.cpu)).toBe(CF | PF);
  });

  it('AH..BH without REX, SPL..DIL with REX', () => {
    const m = execWith({ [RAX]: 0x1234n, [RCX]: 0x0100n }, asm('add ah, ch')); // 0x12 + 0x01
    expect(m.cpu.getReg(RAX)).toBe(0x1334n);
    m.cpu.setReg(6, 0xff01n); // rsi
    exec(m, asm('add sil, 1')); // REX form: SIL, not DH
    expect(m.cpu.getReg(6)).toBe(0xff02n);
  });

  it('memory destination: read-modify-write, sign-extended imm8', () => {
    const m = flatMachine();
    m.phys.writeU64(DATA, 0x10n);
    m.cpu.setReg(RBX, BigInt(DATA));
    exec(m, asm('add qword ptr [rbx], -1'));
    expect(m.phys.readU64(DATA)).toBe(0xfn);
    // 0x10 + 0xff..ff = 0x0f with a carry out: CF; AF = bit 4 of (0x10 ^ 0xff ^ 0x0f) = 0; 0x0f has 4 bits: PF
    expect(status(m.cpu)).toBe(CF | PF);
  });
});

describe('ADC / SBB', () => {
  it('ADC adds the carry; a carry-in that wraps to the same value still sets CF', () => {
    const m = execWith({ [RAX]: 5n, [RCX]: 0xffffffffffffffffn }, asm('stc; adc rax, rcx'));
    // 5 + (2^64 - 1) + 1 = 2^64 + 5 -> 5, CF=1
    expect(m.cpu.getReg(RAX)).toBe(5n);
    expect(status(m.cpu) & CF).toBe(CF);
  });

  it('SBB subtracts the borrow: 0 - 0 - 1 = all ones with CF SF PF AF', () => {
    const m = execWith({ [RAX]: 0n, [RCX]: 0n }, asm('stc; sbb eax, ecx'));
    expect(m.cpu.getReg(RAX)).toBe(0xffffffffn);
    expect(status(m.cpu)).toBe(CF | SF | PF | AF);
  });

  it('128-bit addition with ADD/ADC across two registers', () => {
    const m = execWith({ [RAX]: 0xffffffffffffffffn, [RDX]: 1n, [RBX]: 1n, [RCX]: 0n }, asm('add rax, rbx; adc rdx, rcx'));
    expect(m.cpu.getReg(RAX)).toBe(0n);
    expect(m.cpu.getReg(RDX)).toBe(2n);
  });
});

describe('SUB / CMP', () => {
  it('SUB 8-bit: 0x80 - 1 = 0x7f sets OF and AF', () => {
    const m = execWith({ [RAX]: 0x80n }, asm('sub al, 1'));
    expect(m.cpu.getReg(RAX)).toBe(0x7fn);
    expect(status(m.cpu)).toBe(OF | AF); // parity of 0x7f: 7 bits -> odd, no PF
  });

  it('CMP leaves the operand and sets CF for an unsigned borrow', () => {
    const m = execWith({ [RAX]: 1n, [RCX]: 2n }, asm('cmp rax, rcx'));
    expect(m.cpu.getReg(RAX)).toBe(1n);
    // 1 - 2 = 0xff..ff: CF, SF, PF (0xff even), AF (1 - 2 borrows from bit 4)
    expect(status(m.cpu)).toBe(CF | SF | PF | AF);
  });

  it('CMP 16-bit signed overflow: 0x8000 - 1', () => {
    const m = execWith({ [RAX]: 0x8000n }, asm('cmp ax, 1'));
    expect(status(m.cpu)).toBe(OF | AF | PF); // result 0x7fff: low byte 0xff even -> PF
  });
});

describe('logic', () => {
  it('AND/OR/XOR/TEST clear CF, OF and AF (AF undefined: this CPU clears it)', () => {
    const m = execWith({ [RAX]: 0xf0n, [RCX]: 0x0fn }, asm('stc; and rax, rcx'));
    expect(m.cpu.getReg(RAX)).toBe(0n);
    expect(status(m.cpu)).toBe(ZF | PF);
    m.cpu.setReg(RAX, 0x8000000000000000n);
    exec(m, asm('or rax, 1'));
    expect(m.cpu.getReg(RAX)).toBe(0x8000000000000001n);
    expect(status(m.cpu)).toBe(SF); // parity of 0x01 is odd
    exec(m, asm('xor eax, eax'));
    expect(m.cpu.getReg(RAX)).toBe(0n);
    expect(status(m.cpu)).toBe(ZF | PF);
    m.cpu.setReg(RAX, 0x80n);
    exec(m, asm('test al, 0x80'));
    expect(m.cpu.getReg(RAX)).toBe(0x80n);
    expect(status(m.cpu)).toBe(SF);
  });

  it('XOR with a 64-bit sign-extended imm32', () => {
    const m = execWith({ [RAX]: 0n }, asm('xor rax, -2'));
    expect(m.cpu.getReg(RAX)).toBe(0xfffffffffffffffen);
  });
});

describe('INC / DEC / NEG / NOT', () => {
  it('INC and DEC keep CF', () => {
    const m = execWith({ [RAX]: 0xffn }, asm('stc; inc al'));
    expect(m.cpu.getReg(RAX)).toBe(0n);
    expect(status(m.cpu)).toBe(CF | ZF | PF | AF); // CF kept from STC
    m.cpu.setReg(RAX, 0n);
    exec(m, asm('clc; dec rax'));
    expect(m.cpu.getReg(RAX)).toBe(0xffffffffffffffffn);
    expect(status(m.cpu)).toBe(SF | PF | AF);
  });

  it('DEC of the most negative value overflows; INC of the most positive too', () => {
    const m = execWith({ [RAX]: 0x80000000n }, asm('dec eax'));
    expect(m.cpu.getReg(RAX)).toBe(0x7fffffffn);
    expect(status(m.cpu)).toBe(OF | AF | PF);
    m.cpu.setReg(R8, 0x7fffn);
    exec(m, asm('inc r8w'));
    expect(m.cpu.getReg(R8)).toBe(0x8000n);
    expect(status(m.cpu)).toBe(OF | SF | AF | PF);
  });

  it('NEG sets CF unless the operand is 0; NOT changes no flags', () => {
    const m = execWith({ [RAX]: 1n }, asm('neg rax'));
    expect(m.cpu.getReg(RAX)).toBe(0xffffffffffffffffn);
    expect(status(m.cpu)).toBe(CF | SF | PF | AF);
    m.cpu.setReg(RAX, 0n);
    exec(m, asm('neg eax'));
    expect(status(m.cpu)).toBe(ZF | PF);
    m.cpu.setReg(RAX, 0x0fn);
    exec(m, asm('stc; not ax'));
    expect(m.cpu.getReg(RAX)).toBe(0xfff0n);
    expect(status(m.cpu)).toBe(CF | ZF | PF); // ZF PF from NEG 0, CF from STC; NOT keeps them
  });

  it('memory forms: INC/NEG/NOT on [mem]', () => {
    const m = flatMachine();
    m.cpu.setReg(RBX, BigInt(DATA));
    m.phys.writeU32(DATA, 0x7fffffff);
    exec(m, asm('inc dword ptr [rbx]'));
    expect(m.phys.readU32(DATA)).toBe(0x80000000);
    exec(m, asm('neg dword ptr [rbx]'));
    expect(m.phys.readU32(DATA)).toBe(0x80000000);
    expect(status(m.cpu) & (CF | OF)).toBe(CF | OF);
    exec(m, asm('not word ptr [rbx]'));
    expect(m.phys.readU32(DATA)).toBe(0x8000ffff);
  });
});
