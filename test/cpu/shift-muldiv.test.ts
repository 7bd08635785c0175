// Shifts, rotates, double shifts, multiply and divide: hand-calculated cases for the defined
// behaviour (Intel SDM Vol.2), plus the #DE conditions. Undefined flags are checked against the
// native CPU by native-oracle.test.ts.

import { describe, expect, it } from 'vitest';
import { asm } from './assemble.ts';
import { exec, flatMachine, RAX, RBX, RCX, RDX, runCode, status, execWith } from './harness.ts';

const CF = 0x1, PF = 0x4, ZF = 0x40, SF = 0x80, OF = 0x800;

describe('shifts', () => {
  it('SHL 64 by 1: CF = old bit 63, OF = CF xor new bit 63', () => {
    const m = execWith({ [RAX]: 0xc000000000000001n }, asm('shl rax, 1'));
    expect(m.cpu.getReg(RAX)).toBe(0x8000000000000002n);
    expect(status(m.cpu) & (CF | OF | SF)).toBe(CF | SF); // CF=1, new MSB=1 -> OF=0
  });

  it('SHL across the 32-bit halves by 33', () => {
    const m = execWith({ [RAX]: 0x00000000_80000001n, [RCX]: 33n }, asm('shl rax, cl'));
    expect(m.cpu.getReg(RAX)).toBe(0x0000000200000000n); // bit 0 -> bit 33; bit 31 shifted out past 63? no: bit31 -> bit 64: gone
    expect(status(m.cpu) & CF).toBe(1); // last bit out is old bit 31
  });

  it('SHR and SAR by CL, count masked to 6 bits for 64-bit operands', () => {
    const m = flatMachine();
    m.cpu.setReg(RAX, 0x8000000000000000n);
    m.cpu.setReg(RBX, 0x8000000000000000n);
    m.cpu.setReg(RCX, 64n + 4n); // masked to 4
    exec(m, asm('shr rax, cl; sar rbx, cl'));
    expect(m.cpu.getReg(RAX)).toBe(0x0800000000000000n);
    expect(m.cpu.getReg(RBX)).toBe(0xf800000000000000n);
  });

  it('a masked count of 0 changes no flags but still zero-extends a 32-bit destination', () => {
    const m = flatMachine();
    m.cpu.setReg(RAX, 0xffffffff00000001n);
    m.cpu.setReg(RCX, 32n); // 32 & 31 = 0
    exec(m, asm('stc; shl eax, cl'));
    expect(m.cpu.getReg(RAX)).toBe(1n);
    expect(status(m.cpu) & CF).toBe(CF);
  });

  it('SAR 8-bit by 9 fills with the sign and CF = sign', () => {
    const m = execWith({ [RAX]: 0x81n, [RCX]: 9n }, asm('sar al, cl'));
    expect(m.cpu.getReg(RAX)).toBe(0xffn);
    expect(status(m.cpu) & CF).toBe(CF);
  });
});

describe('rotates', () => {
  it('ROL/ROR 64 by 4', () => {
    const m = execWith({ [RAX]: 0x123456789abcdef0n, [RBX]: 0x123456789abcdef0n }, asm('rol rax, 4; ror rbx, 4'));
    expect(m.cpu.getReg(RAX)).toBe(0x23456789abcdef01n);
    expect(m.cpu.getReg(RBX)).toBe(0x0123456789abcdefn);
  });

  it('RCL through CF: 9-bit rotation for bytes', () => {
    const m = execWith({ [RAX]: 0x80n }, asm('clc; rcl al, 1')); // 1_0000000 -> CF=1, al=0x00
    expect(m.cpu.getReg(RAX)).toBe(0n);
    expect(status(m.cpu) & CF).toBe(CF);
    exec(m, asm('rcl al, 1')); // CF into bit 0
    expect(m.cpu.getReg(RAX)).toBe(1n);
    expect(status(m.cpu) & CF).toBe(0);
  });

  it('RCR 64 by 1 with CF set', () => {
    const m = execWith({ [RAX]: 1n }, asm('stc; rcr rax, 1'));
    expect(m.cpu.getReg(RAX)).toBe(0x8000000000000000n);
    expect(status(m.cpu) & CF).toBe(CF);
  });

  it('rotates keep ZF, SF and PF', () => {
    const m = execWith({ [RAX]: 0n, [RBX]: 0x8000000000000000n }, asm('xor ecx, ecx; rol rbx, 1'));
    expect(status(m.cpu) & (ZF | PF | SF)).toBe(ZF | PF); // from the XOR, untouched by ROL
  });
});

describe('SHLD / SHRD', () => {
  it('SHLD 64 by 8 pulls the top byte of the source in', () => {
    const m = execWith({ [RAX]: 0x0011223344556677n, [RBX]: 0xaabbccddeeff0011n }, asm('shld rax, rbx, 8'));
    expect(m.cpu.getReg(RAX)).toBe(0x11223344556677aan);
  });

  it('SHRD 32 by CL=4 pulls the low nibble of the source into the top', () => {
    const m = execWith({ [RAX]: 0x12345678n, [RBX]: 0x9n, [RCX]: 4n }, asm('shrd eax, ebx, cl'));
    expect(m.cpu.getReg(RAX)).toBe(0x91234567n);
    expect(status(m.cpu) & CF).toBe(1); // last bit out: bit 3 of 0x...78 = 1
  });
});

describe('MUL / IMUL', () => {
  it('MUL 64: RDX:RAX = RAX * src, CF = OF = (RDX != 0)', () => {
    const m = execWith({ [RAX]: 0xffffffffffffffffn, [RBX]: 0xffffffffffffffffn }, asm('mul rbx'));
    // (2^64-1)^2 = 2^128 - 2^65 + 1 -> high 0xffff_ffff_ffff_fffe, low 1
    expect(m.cpu.getReg(RAX)).toBe(1n);
    expect(m.cpu.getReg(RDX)).toBe(0xfffffffffffffffen);
    expect(status(m.cpu) & (CF | OF)).toBe(CF | OF);
  });

  it('MUL 8 writes AX; IMUL 8 sign-extends', () => {
    const m = execWith({ [RAX]: 0xff80n, [RBX]: 0x2n }, asm('mul bl')); // 0x80 * 2 = 0x100
    expect(m.cpu.getReg(RAX)).toBe(0x100n);
    m.cpu.setReg(RAX, 0x80n);
    exec(m, asm('imul bl')); // -128 * 2 = -256 = 0xff00
    expect(m.cpu.getReg(RAX)).toBe(0xff00n);
    expect(status(m.cpu) & (CF | OF)).toBe(CF | OF);
  });

  it('IMUL 32 two- and three-operand forms truncate and flag overflow', () => {
    const m = execWith({ [RAX]: 0x10000n, [RBX]: 0x10000n }, asm('imul eax, ebx'));
    expect(m.cpu.getReg(RAX)).toBe(0n); // 2^32 truncated
    expect(status(m.cpu) & (CF | OF)).toBe(CF | OF);
    m.cpu.setReg(RBX, 7n);
    exec(m, asm('imul rcx, rbx, -3'));
    expect(m.cpu.getReg(RCX)).toBe(BigInt.asUintN(64, -21n));
    expect(status(m.cpu) & (CF | OF)).toBe(0);
  });
});

describe('DIV / IDIV', () => {
  it('DIV 128/64 by BigInt arithmetic', () => {
    const m = execWith({ [RDX]: 1n, [RAX]: 5n, [RBX]: 2n }, asm('div rbx')); // (2^64 + 5) / 2 = 2^63 + 2 rem 1
    expect(m.cpu.getReg(RAX)).toBe(0x8000000000000002n);
    expect(m.cpu.getReg(RDX)).toBe(1n);
  });

  it('IDIV truncates toward zero; the remainder takes the dividend sign', () => {
    const m = execWith({ [RAX]: BigInt.asUintN(64, -7n), [RBX]: 2n }, asm('cqo; idiv rbx'));
    expect(m.cpu.getReg(RAX)).toBe(BigInt.asUintN(64, -3n));
    expect(m.cpu.getReg(RDX)).toBe(BigInt.asUintN(64, -1n));
  });

  it('#DE on a zero divisor and on quotient overflow, with nothing changed', () => {
    const m = flatMachine();
    const code = asm('div rbx');
    m.cpu.setReg(RAX, 10n);
    m.cpu.setReg(RDX, 0n);
    m.cpu.setReg(RBX, 0n);
    let r = runCode(m, code);
    expect(r.kind === 'fault' && r.fault.vector).toBe(0);
    expect(m.cpu.rip).toBe(0x1000n);
    expect(m.cpu.getReg(RAX)).toBe(10n);
    // IDIV: -2^63 / -1 does not fit
    m.cpu.setReg(RAX, 0x8000000000000000n);
    m.cpu.setReg(RDX, 0xffffffffffffffffn);
    m.cpu.setReg(RBX, 0xffffffffffffffffn);
    r = runCode(m, asm('idiv rbx'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(0);
    expect(m.cpu.getReg(RAX)).toBe(0x8000000000000000n);
    // DIV 8: AX = 0x200 / 2 = 0x100 does not fit in AL
    m.cpu.setReg(RAX, 0x200n);
    m.cpu.setReg(RBX, 2n);
    r = runCode(m, asm('div bl'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(0);
  });
});
