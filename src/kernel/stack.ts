// The initial user stack of a new process, laid out as Linux's create_elf_tables
// (fs/binfmt_elf.c) and copy_strings (fs/exec.c) leave it, from the top down:
//
//   STACK_TOP →  8 bytes of zero (the end marker below the top page's end)
//                execfn string ("/path/to/program\0")
//                envp strings, argv strings (copy_strings: argv[0] lowest)
//                (align down to 16)
//                "x86_64\0"                    ← AT_PLATFORM
//                16 random bytes               ← AT_RANDOM
//                (align down so that the final RSP is 16-byte aligned)
//   RSP      →  argc
//                argv[0..argc-1], NULL
//                envp[0..envc-1], NULL
//                auxv pairs ..., AT_NULL 0
//
// With address-space randomisation off (deterministic runs) nothing else moves. The "random" bytes
// are a fixed pattern (documented in docs/kernel.md), so runs are reproducible.

import { AT } from './constants.ts';

export interface StackLayout {
  /** RSP at process start (points at argc). */
  rsp: number;
  /** Lowest address written; everything in [low, top) is initialised. */
  low: number;
  /** The bytes of [low, top). */
  bytes: Uint8Array;
  argvPointers: number[];
  envpPointers: number[];
  auxv: [number, number][];
}

export interface AuxInfo {
  phdr: number;
  phent: number;
  phnum: number;
  entry: number;
}

/** AT_RANDOM's 16 bytes: fixed, so runs repeat (a real kernel uses get_random_bytes). */
export const AT_RANDOM_BYTES = Uint8Array.from([
  0x73, 0x6e, 0x70, 0x65, 0x6d, 0x75, 0x2d, 0x72, 0x61, 0x6e, 0x64, 0x6f, 0x6d, 0x2d, 0x31, 0x36,
]);

export function buildInitialStack(top: number, argv: string[], envp: string[], execfn: string, aux: AuxInfo): StackLayout {
  const enc = new TextEncoder();
  const chunks: { at: number; data: Uint8Array }[] = [];
  let p = top - 8; // the 8 zero bytes at the very top (bprm->p starts below a NULL pointer slot)
  const put = (data: Uint8Array): number => {
    p -= data.length;
    chunks.push({ at: p, data });
    return p;
  };
  const cstr = (s: string): Uint8Array => {
    const b = enc.encode(s);
    const out = new Uint8Array(b.length + 1);
    out.set(b);
    return out;
  };
  const execfnAddr = put(cstr(execfn));
  const envpPointers: number[] = [];
  for (let i = envp.length - 1; i >= 0; i--) envpPointers.unshift(put(cstr(envp[i]!)));
  const argvPointers: number[] = [];
  for (let i = argv.length - 1; i >= 0; i--) argvPointers.unshift(put(cstr(argv[i]!)));
  p -= p % 16; // arch_align_stack without randomisation: round down to 16 (no bitwise ops: p > 2^32)
  const platform = put(cstr('x86_64'));
  const random = put(AT_RANDOM_BYTES);
  const auxv: [number, number][] = [
    [AT.MINSIGSTKSZ, 2048],
    [AT.HWCAP, 0x178bfbff],
    [AT.PAGESZ, 4096],
    [AT.CLKTCK, 100],
    [AT.PHDR, aux.phdr],
    [AT.PHENT, aux.phent],
    [AT.PHNUM, aux.phnum],
    [AT.BASE, 0],
    [AT.FLAGS, 0],
    [AT.ENTRY, aux.entry],
    [AT.UID, 1000],
    [AT.EUID, 1000],
    [AT.GID, 1000],
    [AT.EGID, 1000],
    [AT.SECURE, 0],
    [AT.RANDOM, random],
    [AT.HWCAP2, 0x2],
    [AT.EXECFN, execfnAddr],
    [AT.PLATFORM, platform],
    [AT.NULL, 0],
  ];
  const words = 1 + argv.length + 1 + envp.length + 1 + auxv.length * 2;
  const below = p - words * 8;
  const rsp = below - (below % 16); // STACK_ROUND: the final RSP is 16-byte aligned
  const table = new DataView(new ArrayBuffer(words * 8));
  let w = 0;
  const word = (v: number): void => {
    table.setBigUint64(w, BigInt(v), true);
    w += 8;
  };
  word(argv.length);
  for (const a of argvPointers) word(a);
  word(0);
  for (const e of envpPointers) word(e);
  word(0);
  for (const [k, v] of auxv) {
    word(k);
    word(v);
  }
  chunks.push({ at: rsp, data: new Uint8Array(table.buffer) });
  const low = rsp;
  const bytes = new Uint8Array(top - low);
  for (const c of chunks) bytes.set(c.data, c.at - low);
  return { rsp, low, bytes, argvPointers, envpPointers, auxv };
}
