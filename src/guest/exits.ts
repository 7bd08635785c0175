// How guest-mode events leave the guest walk and the guest instructions.
//
// A guest #PF or #VC is an exception the guest would handle: it is thrown as an ordinary CpuFault
// (vector 14 or 29), with CR2 = the guest virtual address.
// A #VMEXIT(NPF) is not an exception the guest sees: the world switches to the hypervisor. It is
// thrown as a VmExitFault, a CpuFault subclass, so that the CPU's run loop treats it exactly like
// a fault (precise: RIP stays at the instruction, no partial effects, design.md pattern 8) and
// returns it; the guest runner then hands it to the hypervisor model. Its `vector` is the SVM exit
// code (0x400), outside the 0..255 exception range, so it can never be mistaken for one.

import { CpuFault } from '../cpu/fault.ts';
import { NpfBits, SvmExit } from './constants.ts';

export class VmExitFault extends CpuFault {
  constructor(
    /** SVM exit code (SvmExit.NPF). */
    readonly exitCode: number,
    /** EXITINFO1: for NPF the error code and the RMP/FINAL/PAGE/ENC/SIZEM/VMPL bits. */
    readonly exitInfo1: bigint,
    /** EXITINFO2: for NPF the faulting guest physical address. */
    readonly exitInfo2: bigint,
    why: string,
    detail?: unknown,
  ) {
    super(exitCode, Number(exitInfo1 & 0xffffffffn), 0n, why, (exitInfo1 & NpfBits.RMP) !== 0n, detail);
  }

  override get name(): string {
    return this.exitCode === SvmExit.NPF ? 'VMEXIT(NPF)' : `VMEXIT(0x${this.exitCode.toString(16)})`;
  }
}

/** Names of the EXITINFO1 bits that are set, for explanations: "RMP|FINAL|ENC|P|W|U". */
export function describeExitInfo1(info: bigint): string {
  const names: string[] = [];
  const order: [string, bigint][] = [
    ['RMP', NpfBits.RMP], ['FINAL', NpfBits.FINAL], ['PAGE', NpfBits.PAGE], ['ENC', NpfBits.ENC],
    ['SIZEM', NpfBits.SIZEM], ['VMPL', NpfBits.VMPL], ['P', NpfBits.P], ['W', NpfBits.W],
    ['U', NpfBits.U], ['RSV', NpfBits.RSV], ['ID', NpfBits.ID],
  ];
  for (const [n, b] of order) if ((info & b) !== 0n) names.push(n);
  return names.length === 0 ? '0' : names.join('|');
}
