// Data movement, stack and control flow (Intel SDM Vol.2 instruction pages), hand-checked.

import { describe, expect, it } from 'vitest';
import { asm } from './assemble.ts';
import { CODE, DATA, exec, flatMachine, RAX, RBP, RBX, RCX, RDI, RDX, RSI, RSP, runCode, R8, STACK_TOP, status, execWith } from './harness.ts';

describe('MOV and friends', () => {
  it('MOV r64, imm64 and MOV moffs', () => {
    const m = flatMachine();
    exec(m, asm(`movabs rax, 0x1122334455667788; movabs [${DATA}], rax; movabs al, [${DATA + 7}]`));
    expect(m.phys.readU64(DATA)).toBe(0x1122334455667788n);
    expect(m.cpu.getReg(RAX)).toBe(0x1122334455667711n);
  });

  it('MOV r32 zero-extends; MOV r16 and r8 merge; MOV m, imm32 sign-extends to 64', () => {
    const m = execWith({ [RAX]: -1n, [RBX]: -1n, [RCX]: -1n, [RDI]: BigInt(DATA) }, asm('mov eax, 5; mov bx, 6; mov cl, 7; mov qword ptr [rdi], -2'));
    expect(m.cpu.getReg(RAX)).toBe(5n);
    expect(m.cpu.getReg(RBX)).toBe(0xffffffffffff0006n);
    expect(m.cpu.getReg(RCX)).toBe(0xffffffffffffff07n);
    expect(m.phys.readU64(DATA)).toBe(0xfffffffffffffffen);
  });

  it('RIP-relative addressing uses the address of the next instruction', () => {
    const m = flatMachine();
    // lea rax, [rip+0x10] is 7 bytes at CODE: RIP after it = CODE + 7
    exec(m, asm('lea rax, [rip+0x10]'));
    expect(m.cpu.getReg(RAX)).toBe(BigInt(CODE + 7 + 0x10));
  });

  it('LEA does no memory access and no canonical check; 32-bit LEA truncates', () => {
    const m = execWith({ [RBX]: 0x8000000000000000n, [RCX]: 0xffffffffn }, asm('lea rax, [rbx+rcx*8+8]; lea edx, [rcx+rcx*2]'));
    expect(m.cpu.getReg(RAX)).toBe(0x8000000800000000n); // 0x8000.. + 0x7_ffff_fff8 + 8
    expect(m.cpu.getReg(RDX)).toBe(0xfffffffdn); // 3 * 0xffffffff mod 2^32
  });

  it('MOVZX / MOVSX / MOVSXD', () => {
    const m = execWith({ [RBX]: 0x80ffn, [RCX]: 0x80000000n }, asm('movzx eax, bh; movsx rdx, bx; movsxd rsi, ecx'));
    expect(m.cpu.getReg(RAX)).toBe(0x80n);
    expect(m.cpu.getReg(RDX)).toBe(0xffffffffffff80ffn);
    expect(m.cpu.getReg(RSI)).toBe(0xffffffff80000000n);
  });

  it('XCHG, XADD, CMPXCHG on memory', () => {
    const m = flatMachine();
    m.cpu.setReg(RDI, BigInt(DATA));
    m.phys.writeU64(DATA, 10n);
    m.cpu.setReg(RAX, 3n);
    exec(m, asm('xadd [rdi], rax')); // [rdi] = 13, rax = 10
    expect(m.phys.readU64(DATA)).toBe(13n);
    expect(m.cpu.getReg(RAX)).toBe(10n);
    m.cpu.setReg(RCX, 99n);
    exec(m, asm('lock cmpxchg [rdi], rcx')); // rax (10) != 13: rax = 13, ZF = 0
    expect(m.cpu.getReg(RAX)).toBe(13n);
    expect(status(m.cpu) & 0x40).toBe(0);
    exec(m, asm('lock cmpxchg [rdi], rcx')); // equal now: [rdi] = 99, ZF = 1
    expect(m.phys.readU64(DATA)).toBe(99n);
    expect(status(m.cpu) & 0x40).toBe(0x40);
    exec(m, asm('xchg [rdi], rcx'));
    expect(m.cpu.getReg(RCX)).toBe(99n);
  });

  it('CMPXCHG16B compares RDX:RAX and stores RCX:RBX; misaligned is #GP', () => {
    const m = flatMachine();
    m.phys.writeU64(DATA, 1n);
    m.phys.writeU64(DATA + 8, 2n);
    m.cpu.setReg(RDI, BigInt(DATA));
    m.cpu.setReg(RAX, 1n);
    m.cpu.setReg(RDX, 2n);
    m.cpu.setReg(RBX, 3n);
    m.cpu.setReg(RCX, 4n);
    exec(m, asm('cmpxchg16b [rdi]'));
    expect(m.phys.readU64(DATA)).toBe(3n);
    expect(m.phys.readU64(DATA + 8)).toBe(4n);
    m.cpu.setReg(RDI, BigInt(DATA + 8));
    const r = runCode(m, asm('cmpxchg16b [rdi]'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(13);
  });

  it('CMPXCHG8B loads EDX:EAX on mismatch', () => {
    const m = flatMachine();
    m.phys.writeU64(DATA, 0x1111111122222222n);
    m.cpu.setReg(RDI, BigInt(DATA));
    exec(m, asm('cmpxchg8b [rdi]'));
    expect(m.cpu.getReg(RAX)).toBe(0x22222222n);
    expect(m.cpu.getReg(RDX)).toBe(0x11111111n);
  });

  it('XLATB reads [rBX + AL]', () => {
    const m = flatMachine();
    m.phys.writeBytes(DATA + 0x80, [0x5a]);
    m.cpu.setReg(RBX, BigInt(DATA));
    m.cpu.setReg(RAX, 0x1180n);
    exec(m, asm('xlatb'));
    expect(m.cpu.getReg(RAX)).toBe(0x115an);
  });

  it('BSWAP, SETcc, CMOVcc, CBW family, LAHF/SAHF', () => {
    const m = execWith({ [RAX]: 0x0102030405060708n }, asm('bswap rax'));
    expect(m.cpu.getReg(RAX)).toBe(0x0807060504030201n);
    m.cpu.setReg(RBX, 5n);
    m.cpu.setReg(RCX, 7n);
    exec(m, asm('cmp rbx, rcx; setl al; setg ah; cmovl rdx, rcx'));
    expect(m.cpu.getReg(RAX) & 0xffffn).toBe(0x0001n);
    expect(m.cpu.getReg(RDX)).toBe(7n);
    m.cpu.setReg(RAX, 0x80n);
    exec(m, asm('cbw; cwde; cdqe; cqo'));
    expect(m.cpu.getReg(RAX)).toBe(0xffffffffffffff80n);
    expect(m.cpu.getReg(RDX)).toBe(0xffffffffffffffffn);
    exec(m, asm('mov ah, 0xd5; sahf; lahf'));
    expect((m.cpu.getReg(RAX) >> 8n) & 0xffn).toBe(0xd7n); // bit 1 reads as 1
  });
});

describe('stack', () => {
  it('PUSH/POP registers, imm and memory; 16-bit push with 66', () => {
    const m = flatMachine();
    m.cpu.setReg(RAX, 0x1122334455667788n);
    m.cpu.setReg(RDI, BigInt(DATA));
    m.phys.writeU64(DATA, 0xabcdn);
    exec(m, asm('push rax; push -2; push qword ptr [rdi]; push 0x1234; pop r8; pop rbx; pop rcx; pop rdx; pushw 0x55'));
    expect(m.cpu.getReg(R8) & 0xffffn).toBe(0x1234n);
    expect(m.cpu.getReg(RBX)).toBe(0xabcdn);
    expect(m.cpu.getReg(RCX)).toBe(0xfffffffffffffffen);
    expect(m.cpu.getReg(RDX)).toBe(0x1122334455667788n);
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP - 2));
    expect(m.phys.readU32(STACK_TOP - 2, 2)).toBe(0x55);
  });

  it('POP [rsp+8] computes the address with the incremented RSP', () => {
    const m = execWith({ [RAX]: 7n }, asm('push 0; push 0; push rax; pop qword ptr [rsp+8]'));
    // after pop RSP = top-16; [rsp+8] = top-8 receives 7
    expect(m.phys.readU64(STACK_TOP - 8)).toBe(7n);
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP - 16));
  });

  it('PUSHF/POPF round trip; POPF at CPL 3 cannot change IF or IOPL', () => {
    const m = flatMachine();
    exec(m, asm('stc; pushfq; pop rax'));
    expect(m.cpu.getReg(RAX)).toBe(0x203n);
    m.cpu.cpl = 3;
    exec(m, asm('push 0x3000; popfq; pushfq; pop rbx'));
    expect(m.cpu.getReg(RBX)).toBe(0x202n); // IF kept (IOPL 0 < CPL), IOPL not loaded
  });

  it('ENTER/LEAVE build and tear down a frame', () => {
    const m = execWith({ [RBP]: 0x1234n }, asm('enter 0x20, 0'));
    expect(m.cpu.getReg(RBP)).toBe(BigInt(STACK_TOP - 8));
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP - 8 - 0x20));
    expect(m.phys.readU64(STACK_TOP - 8)).toBe(0x1234n);
    exec(m, asm('leave'));
    expect(m.cpu.getReg(RBP)).toBe(0x1234n);
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP));
  });

  it('ENTER with nesting level 2 copies the outer frame pointer', () => {
    const m = flatMachine();
    m.cpu.setReg(RBP, BigInt(DATA + 0x100));
    m.phys.writeU64(DATA + 0x100 - 8, 0xfeedn);
    exec(m, asm('enter 0, 2'));
    // pushes: old rbp, [old rbp - 8], frame temp
    expect(m.phys.readU64(STACK_TOP - 8)).toBe(BigInt(DATA + 0x100));
    expect(m.phys.readU64(STACK_TOP - 16)).toBe(0xfeedn);
    expect(m.phys.readU64(STACK_TOP - 24)).toBe(BigInt(STACK_TOP - 8));
    expect(m.cpu.getReg(RBP)).toBe(BigInt(STACK_TOP - 8));
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP - 24));
  });
});

describe('control flow', () => {
  it('CALL/RET (direct, indirect through a register and memory) and RET imm16', () => {
    const m = flatMachine();
    const code = asm(`
      lea rbx, [rip+f2]; mov [${DATA}], rbx
      call f1; call rbx; call qword ptr [${DATA}]
      push 1; push 2; call f3
      jmp done
      f1: add rax, 1; ret
      f2: add rax, 10; ret
      f3: ret 16
      done:`);
    exec(m, code);
    expect(m.cpu.getReg(RAX)).toBe(21n);
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP));
  });

  it('Jcc: signed and unsigned conditions', () => {
    const m = flatMachine();
    const code = asm(`
      mov rax, -1; cmp rax, 1
      jl 1f; int3; 1:
      ja 2f; int3; 2:
      jle 3f; int3; 3:
      jnbe 4f; int3; 4:`);
    exec(m, code);
  });

  it('LOOP, LOOPE/LOOPNE and JRCXZ use RCX without changing flags', () => {
    const m = flatMachine();
    exec(m, asm('mov ecx, 5; xor eax, eax; 1: add eax, 2; loop 1b'));
    expect(m.cpu.getReg(RAX)).toBe(10n);
    expect(m.cpu.getReg(RCX)).toBe(0n);
    exec(m, asm('mov ecx, 5; xor eax, eax; 1: inc eax; cmp eax, 2; loopne 1b'));
    expect(m.cpu.getReg(RAX)).toBe(2n); // stops when ZF=1
    expect(m.cpu.getReg(RCX)).toBe(3n);
    exec(m, asm('xor ecx, ecx; mov eax, 1; jrcxz 1f; mov eax, 2; 1:'));
    expect(m.cpu.getReg(RAX)).toBe(1n);
  });

  it('a branch to a non-canonical address raises #GP at the branch with no register committed', () => {
    const m = flatMachine();
    m.cpu.setReg(RAX, 0x0000800000000000n);
    let r = runCode(m, asm('jmp rax'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(13);
    expect(m.cpu.rip).toBe(BigInt(CODE));
    r = runCode(m, asm('call rax'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(13);
    expect(m.cpu.rip).toBe(BigInt(CODE));
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP));
    // As on this CPU (test/diff native runs): the return address was written below RSP anyway.
    expect(m.phys.readU64(STACK_TOP - 8)).toBe(BigInt(CODE + 2));
  });

  it('RET pops into a canonical upper-half address', () => {
    const m = flatMachine();
    m.phys.writeU64(STACK_TOP - 8, 0xffff800000001000n);
    m.cpu.setReg(RSP, BigInt(STACK_TOP - 8));
    m.phys.writeBytes(CODE, asm('ret'));
    m.cpu.rip = BigInt(CODE);
    const r = m.cpu.run(1);
    expect(r.kind).toBe('limit');
    expect(m.cpu.rip).toBe(0xffff800000001000n);
  });
});

describe('string instructions', () => {
  it('REP MOVSB copies, REP STOSQ fills, with DF=0 and DF=1', () => {
    const m = flatMachine();
    m.phys.writeBytes(DATA, [1, 2, 3, 4, 5]);
    m.cpu.setReg(RSI, BigInt(DATA));
    m.cpu.setReg(RDI, BigInt(DATA + 0x100));
    m.cpu.setReg(RCX, 5n);
    exec(m, asm('rep movsb'));
    expect([...m.phys.readBytes(DATA + 0x100, 5)]).toEqual([1, 2, 3, 4, 5]);
    expect(m.cpu.getReg(RCX)).toBe(0n);
    expect(m.cpu.getReg(RSI)).toBe(BigInt(DATA + 5));
    m.cpu.setReg(RAX, 0x4142434445464748n);
    m.cpu.setReg(RDI, BigInt(DATA + 0x218));
    m.cpu.setReg(RCX, 3n);
    exec(m, asm('std; rep stosq; cld'));
    expect(m.phys.readU64(DATA + 0x208)).toBe(0x4142434445464748n);
    expect(m.phys.readU64(DATA + 0x218)).toBe(0x4142434445464748n);
    expect(m.cpu.getReg(RDI)).toBe(BigInt(DATA + 0x200));
  });

  it('REPNE SCASB finds a byte; REPE CMPSB stops at the first difference', () => {
    const m = flatMachine();
    m.phys.writeBytes(DATA, [...Buffer.from('hello\0')]);
    m.cpu.setReg(RDI, BigInt(DATA));
    m.cpu.setReg(RCX, 100n);
    m.cpu.setReg(RAX, 0n);
    exec(m, asm('repne scasb'));
    expect(m.cpu.getReg(RCX)).toBe(94n); // 6 bytes scanned, the NUL included
    m.phys.writeBytes(DATA + 0x40, [...Buffer.from('help')]);
    m.cpu.setReg(RSI, BigInt(DATA));
    m.cpu.setReg(RDI, BigInt(DATA + 0x40));
    m.cpu.setReg(RCX, 4n);
    exec(m, asm('repe cmpsb'));
    expect(m.cpu.getReg(RCX)).toBe(0n); // 'l' vs 'p' differ at the 4th: all 4 done, ZF=0
    expect(status(m.cpu) & 0x40).toBe(0);
    expect(m.cpu.getReg(RSI)).toBe(BigInt(DATA + 4));
  });

  it('LODSD loads and zero-extends; a REP with RCX=0 does nothing', () => {
    const m = flatMachine();
    m.phys.writeU32(DATA, 0xdeadbeef);
    m.cpu.setReg(RSI, BigInt(DATA));
    m.cpu.setReg(RAX, -1n);
    exec(m, asm('lodsd'));
    expect(m.cpu.getReg(RAX)).toBe(0xdeadbeefn);
    m.cpu.setReg(RCX, 0n);
    m.cpu.setReg(RDI, BigInt(DATA));
    exec(m, asm('rep stosb'));
    expect(m.phys.readU32(DATA)).toBe(0xdeadbeef);
  });

  it('REP MOVSB over page boundaries, and an overlapping forward copy that replicates a byte pattern', () => {
    const m = flatMachine();
    const src = Array.from({ length: 9000 }, (_, i) => (i * 7) & 0xff);
    m.phys.writeBytes(DATA + 0x10, src);
    m.cpu.setReg(RSI, BigInt(DATA + 0x10));
    m.cpu.setReg(RDI, BigInt(DATA + 0x4003)); // different page offsets: chunks split at both boundaries
    m.cpu.setReg(RCX, 9000n);
    exec(m, asm('rep movsb'));
    expect([...m.phys.readBytes(DATA + 0x4003, 9000)]).toEqual(src);
    // dst = src + 1: each byte copies the one just written, so the first byte fills the range
    m.phys.writeBytes(DATA, [0xab, 1, 2, 3, 4, 5]);
    m.cpu.setReg(RSI, BigInt(DATA));
    m.cpu.setReg(RDI, BigInt(DATA + 1));
    m.cpu.setReg(RCX, 5n);
    exec(m, asm('rep movsb'));
    expect([...m.phys.readBytes(DATA, 6)]).toEqual([0xab, 0xab, 0xab, 0xab, 0xab, 0xab]);
  });

  it('REP STOSQ stops at a read-only page with the first page written and RCX/RDI describing it', () => {
    const m = flatMachine();
    m.mem.readOnly.add(DATA / 4096 + 1);
    m.cpu.setReg(RAX, 0x0102030405060708n);
    m.cpu.setReg(RDI, BigInt(DATA + 0xff0));
    m.cpu.setReg(RCX, 4n);
    const r = runCode(m, asm('rep stosq'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(14);
    expect(m.phys.readU64(DATA + 0xff0)).toBe(0x0102030405060708n);
    expect(m.phys.readU64(DATA + 0xff8)).toBe(0x0102030405060708n);
    expect(m.cpu.getReg(RCX)).toBe(2n);
    expect(m.cpu.getReg(RDI)).toBe(BigInt(DATA + 0x1000));
  });

  it('with a 32-bit address size and ECX = 0, REP MOVS writes ESI/EDI/ECX and REP LODS only ECX (as this CPU does)', () => {
    const m = flatMachine();
    // Expected values measured with test/cpu/native/oracle.c on this machine.
    m.cpu.setReg(RCX, 0xdead000000000000n);
    m.cpu.setReg(RSI, 0xcafe000000000100n);
    m.cpu.setReg(RDI, 0xbeef000000000200n);
    exec(m, asm('addr32 rep movsb'));
    expect([m.cpu.getReg(RCX), m.cpu.getReg(RSI), m.cpu.getReg(RDI)]).toEqual([0n, 0x100n, 0x200n]);
    m.cpu.setReg(RCX, 0xdead000000000000n);
    m.cpu.setReg(RSI, 0xcafe000000000100n);
    m.cpu.setReg(RDI, 0xbeef000000000200n);
    exec(m, asm('addr32 rep lodsb'));
    expect([m.cpu.getReg(RCX), m.cpu.getReg(RSI), m.cpu.getReg(RDI)]).toEqual([0n, 0xcafe000000000100n, 0xbeef000000000200n]);
  });

  it('a fault in iteration k leaves RCX/RSI/RDI after k-1 complete iterations, RIP at the instruction', () => {
    const m = flatMachine();
    m.mem.absent.add((DATA + 0x1000) / 4096);
    m.cpu.setReg(RDI, BigInt(DATA + 0x1000 - 2));
    m.cpu.setReg(RCX, 10n);
    const r = runCode(m, asm('rep stosb'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(14);
    expect(m.cpu.getReg(RCX)).toBe(8n);
    expect(m.cpu.getReg(RDI)).toBe(BigInt(DATA + 0x1000));
    expect(m.cpu.rip).toBe(BigInt(CODE));
  });
});
