// Precise exceptions (RIP at the faulting instruction, no partial effects), canonical checks,
// decoder faults, the decoded-block cache (self-modifying code, page-crossing instructions) and
// hooks (firing on cached code, stopping, steering, retrying after a fault).

import { describe, expect, it } from 'vitest';
import { Vector } from '../../src/cpu/fault.ts';
import { asm } from './assemble.ts';
import { CODE, DATA, exec, flatMachine, hex, RAX, RBX, RCX, RSP, runCode, STACK_TOP, status } from './harness.ts';

describe('precise exceptions', () => {
  it('a read-modify-write to a read-only page faults before anything changes (flags included)', () => {
    const m = flatMachine();
    m.mem.readOnly.add(DATA / 4096);
    m.phys.writeU64(DATA, 5n);
    m.cpu.setReg(RBX, BigInt(DATA));
    exec(m, asm('xor eax, eax')); // ZF=1 PF=1
    const r = runCode(m, asm('add qword ptr [rbx], 1'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.PF);
    expect(r.kind === 'fault' && r.fault.errorCode).toBe(3); // P | W
    expect(m.cpu.cr2).toBe(BigInt(DATA));
    expect(m.cpu.rip).toBe(BigInt(CODE));
    expect(m.phys.readU64(DATA)).toBe(5n);
    expect(status(m.cpu)).toBe(0x44);
  });

  it('an 8-byte store straddling into an absent page writes nothing', () => {
    const m = flatMachine();
    m.mem.absent.add(DATA / 4096 + 1);
    m.phys.writeU64(DATA + 0xffc, 0n);
    m.cpu.setReg(RAX, -1n);
    m.cpu.setReg(RBX, BigInt(DATA + 0xffc));
    const r = runCode(m, asm('mov [rbx], rax'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.PF);
    expect(m.phys.readU32(DATA + 0xffc)).toBe(0);
  });

  it('PUSH to an absent stack page leaves RSP; CALL through it leaves RIP and RSP', () => {
    const m = flatMachine();
    m.mem.absent.add(Math.floor((STACK_TOP - 8) / 4096));
    let r = runCode(m, asm('push rax'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.PF);
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP));
    r = runCode(m, asm('call 1f; 1:'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.PF);
    expect(m.cpu.getReg(RSP)).toBe(BigInt(STACK_TOP));
    expect(m.cpu.rip).toBe(BigInt(CODE));
  });

  it('XCHG with memory, XADD, CMPXCHG and POP [mem] change no register when the store faults', () => {
    const m = flatMachine();
    m.mem.readOnly.add(DATA / 4096);
    m.cpu.setReg(RBX, BigInt(DATA));
    m.cpu.setReg(RAX, 9n);
    m.cpu.setReg(RCX, 10n);
    for (const text of ['xchg [rbx], rcx', 'xadd [rbx], rcx', 'cmpxchg [rbx], rcx', 'pop qword ptr [rbx]']) {
      m.cpu.setReg(RSP, BigInt(STACK_TOP - 8));
      const r = runCode(m, asm(text));
      expect(r.kind === 'fault' && r.fault.vector, text).toBe(Vector.PF);
      expect(m.cpu.getReg(RCX), text).toBe(10n);
      expect(m.cpu.getReg(RAX), text).toBe(9n);
      expect(m.cpu.getReg(RSP), text).toBe(BigInt(STACK_TOP - 8));
    }
  });

  it('non-canonical data addresses: #GP(0), or #SS(0) when the base is RSP or RBP', () => {
    const m = flatMachine();
    m.cpu.setReg(RBX, 0x0000800000000000n);
    let r = runCode(m, asm('mov rax, [rbx]'));
    expect(r.kind === 'fault' && r.fault.vector === Vector.GP && r.fault.errorCode === 0).toBe(true);
    m.cpu.setReg(5, 0x8000000000000000n); // rbp
    r = runCode(m, asm('mov rax, [rbp+8]'));
    expect(r.kind === 'fault' && r.fault.vector === Vector.SS && r.fault.errorCode === 0).toBe(true);
    m.cpu.setReg(RSP, 0x0000800000000008n);
    r = runCode(m, asm('push rax'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.SS);
    // Measured on this CPU: an FS override makes it #GP even with an RBP base; an SS override on
    // another base, or an R13 base, is #GP too; a DS override on RBP stays #SS.
    r = runCode(m, asm('mov rax, fs:[rbp+8]'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.GP);
    r = runCode(m, asm('mov rax, ds:[rbp+8]'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.SS);
    m.cpu.setReg(13, 0x8000000000000000n);
    r = runCode(m, asm('mov rax, [r13]'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.GP);
    r = runCode(m, asm('mov rax, ss:[rbx]'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.GP);
  });

  it('an access that runs from the top canonical address into the hole is #GP(0) (#SS(0) via RSP)', () => {
    const m = flatMachine();
    m.cpu.setReg(RBX, 0x00007ffffffffffcn);
    let r = runCode(m, asm('mov rax, [rbx]'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.GP);
    m.cpu.setReg(RSP, 0x0000800000000004n); // push writes 8 bytes at 0x7fff_ffff_fffc
    r = runCode(m, asm('push rax'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.SS);
    expect(m.cpu.getReg(RSP)).toBe(0x0000800000000004n);
  });

  it('fetch faults: #PF with the I/D bit at the fetch address; a non-canonical RIP is #GP', () => {
    const m = flatMachine();
    m.mem.noExec.add(DATA / 4096);
    m.cpu.rip = BigInt(DATA);
    let r = m.cpu.run(10);
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.PF);
    expect(r.kind === 'fault' && r.fault.errorCode & 0x10).toBe(0x10);
    m.cpu.rip = 0x0000800000000000n;
    r = m.cpu.run(10);
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.GP);
  });

  it('an unsupported opcode is #UD at that instruction, after the ones before it ran', () => {
    const m = flatMachine();
    const r = runCode(m, hex('48ffc0 0f0d00')); // inc rax; prefetch (outside the subset)
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.UD);
    expect(m.cpu.rip).toBe(BigInt(CODE + 3));
    expect(m.cpu.getReg(RAX)).toBe(1n);
  });
});

describe('decoded-block cache', () => {
  it('self-modifying code: a store into the running block takes effect for the next instruction', () => {
    const m = flatMachine();
    // mov byte ptr [rip+1], 0x02 (7 bytes) patches the imm8 of the next instruction: add al, 0x01 -> 0x02
    const code = hex('c605 01000000 02  0401');
    m.cpu.setReg(RAX, 0n);
    exec(m, code);
    expect(m.cpu.getReg(RAX)).toBe(2n);
    // and the cache was invalidated, not just bypassed: a second run sees the patched code
    m.cpu.setReg(RAX, 0n);
    m.cpu.rip = BigInt(CODE + 7);
    m.cpu.stopAt = BigInt(CODE + 9);
    m.cpu.run(10);
    expect(m.cpu.getReg(RAX)).toBe(2n);
    expect(m.cpu.cacheStats.invalidations).toBeGreaterThan(0);
  });

  it('self-modifying code through the REP STOS page fast path is seen too', () => {
    const m = flatMachine();
    // lea rdi, [rip+4] points after the 4 bytes of "mov al, 0x90; rep stosb" (b090 f3aa): at the int3
    const code = asm('mov ecx, 1; lea rdi, [rip+4]; mov al, 0x90; rep stosb; int3');
    exec(m, code); // the int3 became a nop before it ran
    expect(m.phys.read8(CODE + code.length - 1)).toBe(0x90);
  });

  it('a write to a cached code page from outside (physical memory) drops its blocks', () => {
    const m = flatMachine();
    exec(m, asm('mov eax, 1'));
    expect(m.cpu.getReg(RAX)).toBe(1n);
    exec(m, asm('mov eax, 2'));
    expect(m.cpu.getReg(RAX)).toBe(2n);
  });

  it('an instruction that crosses a page boundary runs correctly and faults on its second page', () => {
    const m = flatMachine();
    const code = asm('movabs rax, 0x1122334455667788');
    const at = 0x3000 - 4;
    m.phys.writeBytes(at, code);
    m.cpu.rip = BigInt(at);
    m.cpu.stopAt = BigInt(at + code.length);
    expect(m.cpu.run(5).kind).toBe('stop-address');
    expect(m.cpu.getReg(RAX)).toBe(0x1122334455667788n);
    // the tail page vanishes: the fetch of its bytes faults, at the instruction's address
    m.mem.absent.add(0x3);
    m.cpu.setReg(RAX, 0n);
    m.cpu.rip = BigInt(at);
    const r = m.cpu.run(5);
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.PF);
    expect(r.kind === 'fault' && r.fault.address).toBe(0x3000n);
    expect(m.cpu.rip).toBe(BigInt(at));
  });

  it('the instruction limit stops inside a cached block, exactly', () => {
    const m = flatMachine();
    m.phys.writeBytes(CODE, asm('inc rax; inc rax; inc rax; inc rax; inc rax'));
    m.cpu.rip = BigInt(CODE);
    expect(m.cpu.run(3).kind).toBe('limit');
    expect(m.cpu.getReg(RAX)).toBe(3n);
    expect(m.cpu.instructions).toBe(3);
    expect(m.cpu.rip).toBe(BigInt(CODE + 9));
  });
});

describe('hooks', () => {
  const loop = () => asm('mov ecx, 10; 1: add rax, 1; dec ecx; jnz 1b');

  it('instruction hooks fire on cached code, every time, with the pre-instruction RIP', () => {
    const m = flatMachine();
    const code = loop();
    exec(m, code); // warm the cache with no hook
    const addAt = BigInt(CODE + 5); // after the 5-byte mov ecx, imm32
    const seen: bigint[] = [];
    const id = m.cpu.addHook({ kind: 'instruction', begin: addAt, end: addAt, callback: (_c, rip) => { seen.push(rip); } });
    m.cpu.setReg(RAX, 0n);
    exec(m, code);
    expect(seen.length).toBe(10);
    expect(seen.every((r) => r === addAt)).toBe(true);
    m.cpu.removeHook(id);
    exec(m, code);
    expect(seen.length).toBe(10);
  });

  it('block hooks fire at each block entry; a hook can stop the run', () => {
    const m = flatMachine();
    let blocks = 0;
    m.cpu.addHook({ kind: 'block', callback: () => { blocks++; return blocks === 4 ? 'stop' : 'continue'; } });
    const r = runCode(m, loop());
    expect(r.kind).toBe('hook');
    expect(blocks).toBe(4);
  });

  it('an instruction hook can skip an instruction by moving RIP (emulating it itself)', () => {
    const m = flatMachine();
    const code = asm('mov eax, 1; ud2; add eax, 1');
    const ud2At = BigInt(CODE + 5);
    m.cpu.addHook({
      kind: 'instruction', begin: ud2At, end: ud2At,
      callback: (cpu) => { cpu.setReg(RAX, cpu.getReg(RAX) + 100n); cpu.rip = ud2At + 2n; },
    });
    exec(m, code);
    expect(m.cpu.getReg(RAX)).toBe(102n);
  });

  it('an exception hook sees the precise fault and can retry after fixing the cause', () => {
    const m = flatMachine();
    m.mem.absent.add(DATA / 4096);
    m.phys.writeU64(DATA, 42n);
    m.cpu.setReg(RBX, BigInt(DATA));
    const faults: string[] = [];
    m.cpu.addHook({
      kind: 'exception',
      callback: (cpu, f) => {
        faults.push(`${f.name} at ${cpu.rip.toString(16)}`);
        m.mem.absent.delete(DATA / 4096); // "map the page"
        return 'retry';
      },
    });
    exec(m, asm('nop; mov rax, [rbx]'));
    expect(m.cpu.getReg(RAX)).toBe(42n);
    expect(faults).toEqual([`PF at ${(CODE + 1).toString(16)}`]);
  });

  it('a hook that keeps asking to retry without fixing anything cannot hang the run', () => {
    const m = flatMachine();
    m.cpu.addHook({ kind: 'exception', callback: () => 'retry' });
    const r = runCode(m, asm('ud2'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.UD);
    expect(r.kind === 'fault' && r.fault.why).toMatch(/retry/);
  });

  it('saveState/loadState: run, restore, run again gives the identical result', () => {
    const m = flatMachine();
    const code = asm('add rax, rbx; rdtsc; shl rbx, 3; stc; rcl rcx, 1');
    m.phys.writeBytes(CODE, code);
    m.cpu.setReg(RAX, 5n);
    m.cpu.setReg(RBX, 7n);
    m.cpu.rip = BigInt(CODE);
    m.cpu.stopAt = BigInt(CODE + code.length);
    const s = m.cpu.saveState();
    m.cpu.run(100);
    const first = [0, 1, 2, 3].map((i) => m.cpu.getReg(i)).concat([m.cpu.rflags, m.cpu.rip, BigInt(m.cpu.instructions)]);
    m.cpu.loadState(s);
    m.cpu.run(100);
    const second = [0, 1, 2, 3].map((i) => m.cpu.getReg(i)).concat([m.cpu.rflags, m.cpu.rip, BigInt(m.cpu.instructions)]);
    expect(second).toEqual(first);
  });

  it('with no hooks the fast loop runs (no hook cost); removing the last hook returns to it', () => {
    const m = flatMachine();
    const id = m.cpu.addHook({ kind: 'block', callback: () => undefined });
    m.cpu.removeHook(id);
    m.cpu.setReg(RCX, 0n);
    exec(m, loop());
    expect(m.cpu.getReg(RCX)).toBe(0n);
  });
});
