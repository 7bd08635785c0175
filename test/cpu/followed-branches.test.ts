// Blocks that go on through direct JMP/CALL targets in the same page, and through RETs to the
// return address of a CALL followed in the same block (cpu.ts buildBlock; branch.ts jmpFollowed,
// callFollowed, retFollowed). The architectural result must be exactly that of one block per
// branch: the same registers, memory, RIP, retired count, faults, stops and hook calls.
//
// Layout of PROGRAM (byte offsets from CODE, from the encodings: CALL rel32 is 5 bytes, ADD EAX,
// imm8 3, JMP rel8 2, RET 1):
//   0  call f          5  add eax, 1       8  jmp end
//  10  f: add eax, 2  13  ret             14  end:

import { describe, expect, it } from 'vitest';
import { Vector } from '../../src/cpu/fault.ts';
import { asm } from './assemble.ts';
import { CODE, DATA, exec, flatMachine, RAX, RCX, RSP, runCode, STACK_TOP, execWith } from './harness.ts';

const PROGRAM = 'call 1f; add eax, 1; jmp 2f; 1: add eax, 2; ret; 2:';
const F = CODE + 10;
const RETURN = CODE + 5;

describe('blocks that follow direct branches', () => {
  it('the layout the tests rely on', () => {
    expect(asm(PROGRAM).length).toBe(14);
  });

  it('CALL, RET and JMP followed inside one block give the architectural result, cached or not', () => {
    const m = flatMachine();
    for (let pass = 0; pass < 2; pass++) {
      m.cpu.setReg(RAX, 0n);
      const before = m.cpu.instructions;
      exec(m, asm(PROGRAM));
      expect(m.cpu.getReg(RAX)).toBe(3n); // 2 in f, then 1 after the return
      expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP));
      expect(m.phys.readU64(STACK_TOP - 8)).toBe(BigInt(RETURN)); // the pushed return address
      expect(m.cpu.instructions - before).toBe(5);
    }
  });

  it('a RET whose return address the callee replaced goes where the stack says', () => {
    // f overwrites its return address with `alt`, so the RET the block followed to RETURN must
    // leave the block and continue at alt instead: EAX = 2, not 1.
    const code = asm('call 1f; mov eax, 1; jmp 3f; 2: mov eax, 2; jmp 3f; 1: lea rcx, [rip + 2b]; mov [rsp], rcx; ret; 3:');
    const m = flatMachine();
    for (let pass = 0; pass < 2; pass++) {
      m.cpu.setReg(RAX, 0n);
      exec(m, code);
      expect(m.cpu.getReg(RAX)).toBe(2n);
      expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP));
    }
  });

  it('a RET that pops a different slot holding the expected address still returns there', () => {
    // f discards its return address and pushes RETURN itself: the guess is right, by value.
    const m = execWith({ [RCX]: BigInt(RETURN) }, asm('call 1f; add eax, 1; jmp 2f; 1: pop rdx; push rcx; ret; 2:'));
    expect(m.cpu.getReg(RAX)).toBe(1n);
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP));
  });

  it('block hooks fire at every branch target, as with one block per branch', () => {
    const m = flatMachine();
    const rips: number[] = [];
    m.cpu.addHook({ kind: 'block', callback: (_cpu, rip) => void rips.push(Number(rip)) });
    exec(m, asm(PROGRAM));
    // [call] [add; ret] [add; jmp]; the run stops at `end` before a fourth block
    expect(rips).toEqual([CODE, F, RETURN]);
    expect(m.cpu.getReg(RAX)).toBe(3n);
  });

  it('instruction hooks see each instruction of a followed block at its own RIP', () => {
    const m = flatMachine();
    exec(m, asm(PROGRAM)); // build and cache the followed block first
    const rips: number[] = [];
    m.cpu.addHook({ kind: 'instruction', begin: 0n, end: (1n << 47n) - 1n, callback: (_cpu, rip) => void rips.push(Number(rip)) });
    m.cpu.setReg(RAX, 0n);
    exec(m, asm(PROGRAM));
    expect(rips).toEqual([CODE, F, F + 3, RETURN, RETURN + 3]);
  });

  it('a fault in the followed callee leaves RIP at the faulting instruction, the call retired', () => {
    const m = flatMachine();
    m.mem.absent.add(DATA / 4096);
    const before = m.cpu.instructions;
    const r = runCode(m, asm(`call 1f; jmp 2f; 1: mov rax, [${DATA}]; ret; 2:`));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.PF);
    expect(m.cpu.rip).toBe(BigInt(CODE + 7)); // call (5) + jmp (2)
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP - 8));
    expect(m.cpu.instructions - before).toBe(1);
  });

  it('stopAt and the instruction limit stop inside a followed block at the exact instruction', () => {
    const m = flatMachine();
    exec(m, asm(PROGRAM)); // cache it
    m.cpu.setReg(RAX, 0n);
    m.cpu.rip = BigInt(CODE);
    m.cpu.stopAt = BigInt(F + 3); // the RET, reached through the followed CALL
    expect(m.cpu.run(100).kind).toBe('stop-address');
    expect(m.cpu.rip).toBe(BigInt(F + 3));
    expect(m.cpu.getReg(RAX)).toBe(2n);
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP - 8));

    m.cpu.setReg(RAX, 0n);
    m.cpu.setReg(RSP, BigInt(STACK_TOP));
    m.cpu.rip = BigInt(CODE);
    m.cpu.stopAt = null;
    expect(m.cpu.run(3).kind).toBe('limit'); // call, add, ret
    expect(m.cpu.rip).toBe(BigInt(RETURN));
    expect(m.cpu.getReg(RAX)).toBe(2n);
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP));
  });

  it('a backward JMP followed in a loop retires every instruction once per pass', () => {
    // mov ecx, 100 (1) + 100 x (dec, jz) + 99 x jmp = 300 instructions
    const m = flatMachine();
    const before = m.cpu.instructions;
    exec(m, asm('mov ecx, 100; 1: dec ecx; jz 2f; jmp 1b; 2:'));
    expect(m.cpu.getReg(RCX)).toBe(0n);
    expect(m.cpu.instructions - before).toBe(300);
  });

  it('recursion through a followed CALL stops at the block length limit and goes on correctly', () => {
    // f: dec ecx; jz out; call f  -- 100 nested calls, then 100 returns through `out: ret`
    const m = execWith({ [RCX]: 100n }, asm('call 1f; jmp 3f; 1: dec ecx; jz 2f; call 1b; 2: ret; 3:'));
    expect(m.cpu.getReg(RCX)).toBe(0n);
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP));
  });
});
