// Small machines for the API tests. Machine code is given as bytes with the assembly beside it
// (assembled with nasm -f bin, org 0x400000); every expected value in the tests is worked out from
// that listing in a comment.

import { Machine, type MachineConfig } from '../../src/index.ts';

export const CODE_VA = 0x400000;
export const CODE_PA = 0x200000;
export const DATA_VA = 0x600000;
export const DATA_PA = 0x300000;

/**
 * LOOP: add 1 to the qword at [rdi] five times, then HLT.
 *   400000: b8 05 00 00 00   mov eax, 5
 *   400005: 48 83 07 01      add qword [rdi], 1
 *   400009: ff c8            dec eax
 *   40000b: 75 f8            jnz 0x400005
 *   40000d: f4               hlt
 * Retired: 1 (mov) + 5 × 3 (add, dec, jnz) + 1 (hlt) = 17 instructions.
 */
export const LOOP = 'b8 05 00 00 00 48 83 07 01 ff c8 75 f8 f4';
export const LOOP_ADD = 0x400005;
export const LOOP_DEC = 0x400009;
export const LOOP_JNZ = 0x40000b;
export const LOOP_HLT = 0x40000d;

/** A bare machine (CPL 0) with `code` at CODE_VA (r-x for the supervisor) and a data page at DATA_VA. */
export function bareMachine(code: string, config: MachineConfig = { memory: '16M' }): Machine {
  const m = new Machine(config);
  m.writePhysical(CODE_PA, code);
  m.map({ va: CODE_VA, pa: CODE_PA, flags: ['P'] });
  m.map({ va: DATA_VA, pa: DATA_PA, flags: ['P', 'RW', 'NX'] });
  m.regs.rip = BigInt(CODE_VA);
  m.regs.rdi = BigInt(DATA_VA);
  return m;
}

/**
 * WRITE_UNMAPPED: mov qword [rsi], 0x1234 ; hlt  (rsi points at an unmapped page)
 *   400000: 48 c7 06 34 12 00 00   mov qword [rsi], 0x1234
 *   400007: f4                     hlt
 */
export const WRITE_UNMAPPED = '48 c7 06 34 12 00 00 f4';

/**
 * UD2_PROGRAM: mov eax, 1 ; ud2 ; add eax, eax ; hlt
 *   400000: b8 01 00 00 00   mov eax, 1
 *   400005: 0f 0b            ud2
 *   400007: 01 c0            add eax, eax
 *   400009: f4               hlt
 */
export const UD2_PROGRAM = 'b8 01 00 00 00 0f 0b 01 c0 f4';
export const UD2_AT = 0x400005;

/**
 * BARE_SYSCALL: mov eax, 39 (getpid) ; syscall ; mov rbx, rax ; hlt
 *   400000: b8 27 00 00 00   mov eax, 39
 *   400005: 0f 05            syscall
 *   400007: 48 89 c3         mov rbx, rax
 *   40000a: f4               hlt
 */
export const BARE_SYSCALL = 'b8 27 00 00 00 0f 05 48 89 c3 f4';

/**
 * HELLO (a process): write(1, msg, 3) ; exit(0) ; msg: "hi\n"
 *   400000: b8 01 00 00 00         mov eax, 1
 *   400005: bf 01 00 00 00         mov edi, 1
 *   40000a: 48 8d 35 10 00 00 00   lea rsi, [rel msg]   (0x400011 + 0x10 = 0x400021)
 *   400011: ba 03 00 00 00         mov edx, 3
 *   400016: 0f 05                  syscall
 *   400018: b8 3c 00 00 00         mov eax, 60
 *   40001d: 31 ff                  xor edi, edi
 *   40001f: 0f 05                  syscall
 *   400021: 68 69 0a               "hi\n"
 */
export const HELLO = 'b8 01 00 00 00 bf 01 00 00 00 48 8d 35 10 00 00 00 ba 03 00 00 00 0f 05 b8 3c 00 00 00 31 ff 0f 05 68 69 0a';

/** A process machine running HELLO under the v7 kernel. */
export function helloProcess(): Machine {
  const m = new Machine({ memory: '16M' });
  m.createProcess({ regions: [{ name: 'code', at: 0x400000, size: '4K', prot: 'r-x', bytes: HELLO }], entry: 'code' });
  return m;
}

/** JSON-able form of a result (bigint as hex) for whole-object comparisons. */
export function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x)));
}
