// Cpu.currentRip (the exact RIP of the instruction executing, also inside a cached block) and
// Cpu.setMemory (the official way to replace the memory port), which the library API uses for its
// read/write/walk/rmp-check hooks (src/api/hook-plumbing.ts).

import { describe, expect, it } from 'vitest';
import { asm } from './assemble.ts';
import { CODE, DATA, exec, flatMachine, RAX, RBX } from './harness.ts';
import { FlatMemory } from './flat-memory.ts';

/** A FlatMemory that records, for every 8-byte read, the CPU's currentRip and rip at that moment. */
class RecordingMemory extends FlatMemory {
  seen: { currentRip: bigint; rip: bigint }[] = [];
  cpu: { currentRip: bigint; rip: bigint } | null = null;
  override read64(la: number): number {
    if (this.cpu !== null) this.seen.push({ currentRip: this.cpu.currentRip, rip: this.cpu.rip });
    return super.read64(la);
  }
}

// Three loads in one straight-line block; `nop` is 1 byte, each `mov rax, [rbx]` is 3 (48 8B 03).
const CODE_TEXT = 'nop; mov rax, [rbx]; nop; mov rax, [rbx]; mov rax, [rbx]';
const LOAD_RIPS = [CODE + 1, CODE + 5, CODE + 8].map(BigInt);

describe('Cpu.currentRip', () => {
  it('with preciseRip, names each load inside the block, while rip names the block start', () => {
    const m = flatMachine();
    const rec = new RecordingMemory(m.phys);
    rec.cpu = m.cpu;
    m.cpu.setMemory(rec);
    m.cpu.preciseRip = true;
    m.cpu.setReg(RBX, BigInt(DATA));
    exec(m, asm(CODE_TEXT));
    expect(rec.seen.map((s) => s.currentRip)).toEqual(LOAD_RIPS);
    expect(rec.seen.map((s) => s.rip)).toEqual(LOAD_RIPS.map(() => BigInt(CODE)));
    // Between instructions (after the run) it equals rip.
    expect(m.cpu.currentRip).toBe(m.cpu.rip);
  });

  it('without preciseRip (the fast loop) it is only the block start inside a block: the flag is what buys exactness', () => {
    const m = flatMachine();
    const rec = new RecordingMemory(m.phys);
    rec.cpu = m.cpu;
    m.cpu.setMemory(rec);
    m.cpu.setReg(RBX, BigInt(DATA));
    exec(m, asm(CODE_TEXT));
    expect(rec.seen.map((s) => s.currentRip)).toEqual(LOAD_RIPS.map(() => BigInt(CODE)));
  });
});

describe('Cpu.setMemory', () => {
  it('routes every later access through the new port, tells it the CPL and AC, and can be undone', () => {
    const m = flatMachine();
    m.cpu.cpl = 3;
    m.cpu.rflags = m.cpu.rflags | 0x40000n; // AC
    m.phys.writeBytes(DATA, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    m.cpu.setReg(RBX, BigInt(DATA));
    const rec = new RecordingMemory(m.phys);
    rec.cpu = m.cpu;
    m.cpu.setMemory(rec);
    expect([rec.cpl, rec.ac]).toEqual([3, true]);
    expect(m.cpu.mmu).toBe(rec);
    exec(m, asm('mov rax, [rbx]'));
    expect(m.cpu.getReg(RAX)).toBe(0x0807060504030201n);
    expect(rec.seen.length).toBe(1);
    m.cpu.setMemory(m.mem);
    exec(m, asm('mov rax, [rbx]'));
    expect(rec.seen.length).toBe(1);
    expect(m.cpu.mmu).toBe(m.mem);
  });

  it('a port swapped while a block runs takes effect at the next instruction', () => {
    const m = flatMachine();
    const rec = new RecordingMemory(m.phys);
    rec.cpu = m.cpu;
    m.cpu.setReg(RBX, BigInt(DATA));
    // The first load goes through the original port; a hook-free swap from inside the port
    // (after its first read) must send the second and third loads to the recorder.
    const swapping = new (class extends FlatMemory {
      override read64(la: number): number {
        m.cpu.setMemory(rec);
        return super.read64(la);
      }
    })(m.phys);
    m.cpu.setMemory(swapping);
    exec(m, asm(CODE_TEXT));
    expect(rec.seen.length).toBe(2);
  });
});
