// The CPU on the real Machine (src/machine.ts): the real Mmu (4-level paging, TLB) and the real
// RmpTable. Checks the wiring: paging faults with error codes, CPL 3 user pages, the SNP
// instructions reaching the table, an RMP #PF (error-code bit 31) on a host write to an assigned
// page, and the TLB/decode-cache drop after RMPUPDATE.

import { describe, expect, it } from 'vitest';
import { Vector } from '../../src/cpu/fault.ts';
import { Machine } from '../../src/machine.ts';
import { encodeRmpState } from '../../src/rmp/entry.ts';
import { asm } from './assemble.ts';

const PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, PT = 0x4000;
const CODE = 0x200000; // 4K pages via PT, user
const DATA = 0x201000;
const RO = 0x202000;
const KDATA = 0x400000; // a 2M supervisor page

function build(snp: boolean): Machine {
  const m = new Machine({ memoryBytes: 64 << 20, snp });
  const { phys, cpu } = m;
  phys.writeU64(PML4, BigInt(PDPT) | 7n);
  phys.writeU64(PDPT, BigInt(PD) | 7n);
  phys.writeU64(PD + 1 * 8, BigInt(PT) | 7n); // 0x200000-0x3fffff through PT
  phys.writeU64(PD + 2 * 8, BigInt(KDATA) | 0x83n); // 0x400000: 2M, supervisor, RW
  phys.writeU64(PT + 0 * 8, BigInt(CODE) | 5n); // user, read-only, executable
  phys.writeU64(PT + 1 * 8, BigInt(DATA) | 7n | (1n << 63n)); // user RW NX
  phys.writeU64(PT + 2 * 8, BigInt(RO) | 5n | (1n << 63n)); // user RO NX
  cpu.cr3 = BigInt(PML4);
  cpu.setReg(4, BigInt(DATA + 0x800));
  return m;
}

function run(m: Machine, code: Uint8Array, at = CODE) {
  m.phys.writeBytes(at, code);
  m.cpu.rip = BigInt(at);
  m.cpu.stopAt = BigInt(at + code.length);
  return m.cpu.run(1000);
}

describe('Cpu on the real Machine', () => {
  it('runs code through 4-level paging and writes through it', () => {
    const m = build(false);
    const r = run(m, asm(`mov ecx, 3; 1: add rax, 5; dec ecx; jnz 1b; mov [${DATA}], rax; push rax; pop rbx`));
    expect(r.kind).toBe('stop-address');
    expect(m.phys.readU64(DATA)).toBe(15n);
    expect(m.cpu.getReg(3)).toBe(15n);
    expect(m.mmu.stats.walks).toBeGreaterThan(0);
  });

  it('CPL 3: a write to a read-only user page is #PF P|W|U with CR2; a fetch from an NX page is #PF with I/D', () => {
    const m = build(false);
    m.cpu.cpl = 3;
    let r = run(m, asm(`mov qword ptr [${RO + 8}], 1`));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.PF);
    expect(r.kind === 'fault' && r.fault.errorCode).toBe(7);
    expect(m.cpu.cr2).toBe(BigInt(RO + 8));
    expect(m.cpu.rip).toBe(BigInt(CODE));
    m.cpu.rip = BigInt(DATA);
    r = m.cpu.run(10);
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.PF);
    expect(r.kind === 'fault' && r.fault.errorCode & 0x15).toBe(0x15); // P | U | I/D
    // supervisor page from CPL 3: not accessible
    r = run(m, asm(`mov rax, [${KDATA}]`));
    expect(r.kind === 'fault' && r.fault.errorCode).toBe(5); // P | U, read
  });

  it('RMPUPDATE assigns a page; a host write to it is then an RMP #PF (bit 31); RMPREAD reports it', () => {
    const m = build(true);
    // The state struct lives in DATA; make KDATA+0x1000 (a 4K piece of the 2M kernel page) guest-owned.
    const target = KDATA + 0x1000;
    // First a successful write: the TLB now caches a writable translation of the 2M page.
    expect(run(m, asm(`mov qword ptr [${KDATA + 0x1000}], 2`)).kind).toBe('stop-address');
    m.phys.writeBytes(DATA, encodeRmpState({ gpa: 0x5000, assigned: true, pageSize: 0, immutable: false, asid: 1 }));
    m.cpu.setReg(0, BigInt(target));
    m.cpu.setReg(1, BigInt(DATA));
    let r = run(m, asm('.byte 0xf2, 0x0f, 0x01, 0xfe'));
    expect(r.kind).toBe('stop-address');
    expect(m.cpu.getReg(0)).toBe(0n); // SUCCESS
    // The 2M mapping now holds an assigned 4K page: the write faults with the RMP bit (so the
    // cached translation was dropped by the RMP onChange wiring in Machine).
    r = run(m, asm(`mov qword ptr [${KDATA + 0x1000}], 1`));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.PF);
    expect(r.kind === 'fault' && r.fault.rmp).toBe(true);
    expect(r.kind === 'fault' && (r.fault.errorCode & 0x80000000) !== 0).toBe(true);
    expect(m.cpu.cr2).toBe(BigInt(KDATA + 0x1000));
    // RMPREAD returns status 0 and the entry (assigned, asid 1)
    m.cpu.setReg(0, BigInt(target));
    m.cpu.setReg(1, BigInt(DATA + 0x100));
    r = run(m, asm('.byte 0xf2, 0x0f, 0x01, 0xfd'));
    expect(r.kind).toBe('stop-address');
    expect(m.cpu.getReg(0)).toBe(0n);
    expect(m.phys.read8(DATA + 0x100 + 8) & 1).toBe(1);
    expect(m.phys.readU32(DATA + 0x100 + 12)).toBe(1);
  });

  it('RMP instructions without SNP raise #UD; RDMSR reads the RMP MSRs from the table', () => {
    const off = build(false);
    const r = run(off, asm('.byte 0xf3, 0x0f, 0x01, 0xff'));
    expect(r.kind === 'fault' && r.fault.vector).toBe(Vector.UD);
    const on = build(true);
    on.cpu.setReg(1, 0xc0010133n); // RMP_END
    expect(run(on, asm('rdmsr')).kind).toBe('stop-address');
    const end = (on.cpu.getReg(2) << 32n) | on.cpu.getReg(0);
    expect(end).toBe(BigInt(on.rmp.placement.end));
  });
});
