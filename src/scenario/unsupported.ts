// "Unsupported here" is not hardware #UD. The decoder raises #UD for every encoding outside
// snpemu's subset (src/cpu/system.ts, "invalid or unsupported opcode (...)"), because it cannot
// tell an instruction it does not emulate from one that does not exist. Passing that #UD on to the
// program as SIGILL would present an emulator limit as CPU behaviour, so after a run, a decode-time
// #UD whose bytes iced-x86 decodes as a valid 64-bit instruction is reported as bad input instead
// (docs/cli.md, "Unsupported instructions"). #UD raised while executing a known instruction
// (UD2, SYSCALL with EFER.SCE = 0, an SNP instruction without SNP) is architectural and stays.

import type { Machine } from '../machine.ts';
import { disassembleOne } from './disassemble.ts';
import { readLinear } from './lookup.ts';

/** The prefix of the why of a decode-time #UD (src/cpu/system.ts decodeFault). */
const DECODE_UD_WHY = 'invalid or unsupported opcode';
const UD_VECTOR = 6;
const CR0_PG = 0x8000_0000;

export interface UnsupportedInstruction {
  /** RIP of the instruction, as 0x hex. */
  rip: string;
  /** Its Intel-syntax text, as iced-x86 prints it. */
  text: string;
  /** One sentence for the user. */
  message: string;
}

/** Up to 15 code bytes at `rip`, read without side effects; fewer when the next page is unmapped. */
function codeBytes(machine: Machine, rip: bigint): Uint8Array | null {
  const la = Number(BigInt.asUintN(48, rip));
  const cpu = machine.cpu;
  const paging = (cpu.cr0Value & CR0_PG) !== 0;
  const toPageEnd = 4096 - (la % 4096);
  for (const length of [15, Math.min(15, toPageEnd)]) {
    if (!paging) return la + length <= machine.phys.size ? machine.phys.readBytes(la, length) : null;
    const bytes = readLinear(machine.phys, cpu.cr3Value - (cpu.cr3Value % 4096), la, length);
    if (typeof bytes !== 'string') return bytes;
  }
  return null;
}

/**
 * When the fault that ended a run is a decode-time #UD on bytes that are a valid x86-64
 * instruction, that instruction; otherwise null (a genuine #UD, or some other ending).
 */
export function unsupportedInstruction(machine: Machine, lastFault: { vector: number; rip: bigint; why: string } | undefined): UnsupportedInstruction | null {
  if (lastFault === undefined || lastFault.vector !== UD_VECTOR || !lastFault.why.startsWith(DECODE_UD_WHY)) return null;
  const bytes = codeBytes(machine, lastFault.rip);
  if (bytes === null) return null;
  const text = disassembleOne(bytes, lastFault.rip);
  if (text === null || /^ud[012]\b/.test(text)) return null;
  const rip = `0x${BigInt.asUintN(64, lastFault.rip).toString(16)}`;
  return {
    rip,
    text,
    message: `unsupported instruction "${text}" at ${rip}: valid x86-64, but outside the subset snpemu emulates (docs/cli.md)`,
  };
}
