// Signal handlers: rt_sigaction, the x86-64 rt_sigframe that setup_rt_frame builds on the user
// stack, and rt_sigreturn (arch/x86/kernel/signal.c, signal_64.c; include/uapi/asm-generic/siginfo.h;
// arch/x86/include/uapi/asm/sigcontext.h). Only the five synchronous signals the kernel raises
// (SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV) are ever delivered; there is no FPU state, so
// uc_mcontext.fpstate is NULL.
//
// struct rt_sigframe (x86-64):           offset
//   char *pretcode                        0     (sa_restorer: the handler's RET lands there)
//   struct ucontext uc                    8
//     uc_flags, uc_link                   8, 16
//     stack_t uc_stack (24 bytes)         24
//     struct sigcontext uc_mcontext       48    (32 quadwords, below)
//     sigset_t uc_sigmask                 304
//   struct siginfo info                   312   (128 bytes: si_signo, si_errno, si_code, pad, si_addr at +16)
// sizeof = 440. sigcontext quadwords: r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags,
// cs|gs|fs|ss (4 × u16), err, trapno, oldmask, cr2, fpstate, reserved[8].

export const SIG_DFL = 0n;
export const SIG_IGN = 1n;
export const SA_SIGINFO = 0x4n;
export const SA_RESTORER = 0x04000000n;
export const SA_NODEFER = 0x40000000n;
export const SA_RESETHAND = 0x80000000n;

export const FRAME_BYTES = 440;
export const UC_OFFSET = 8;
export const MCONTEXT_OFFSET = 48;
export const SIGMASK_OFFSET = 304;
export const SIGINFO_OFFSET = 312;

/** sigcontext slot of each GPR (encoding order rax..r15 → quadword index in uc_mcontext). */
export const MCONTEXT_GPR_SLOT = [13, 14, 12, 11, 15, 10, 9, 8, 0, 1, 2, 3, 4, 5, 6, 7];
export const MCONTEXT_RIP = 16;
export const MCONTEXT_EFLAGS = 17;
export const MCONTEXT_SEGS = 18;
export const MCONTEXT_ERR = 19;
export const MCONTEXT_TRAPNO = 20;
export const MCONTEXT_CR2 = 22;

export interface SigAction {
  handler: bigint;
  flags: bigint;
  restorer: bigint;
  mask: bigint;
}

/** The bytes of struct kernel_sigaction as rt_sigaction reads and writes them. */
export function encodeSigAction(a: SigAction): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, a.handler, true);
  v.setBigUint64(8, a.flags, true);
  v.setBigUint64(16, a.restorer, true);
  v.setBigUint64(24, a.mask, true);
  return b;
}

export function decodeSigAction(b: Uint8Array): SigAction {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { handler: v.getBigUint64(0, true), flags: v.getBigUint64(8, true), restorer: v.getBigUint64(16, true), mask: v.getBigUint64(24, true) };
}

/** RFLAGS bits rt_sigreturn takes from the frame (FIX_EFLAGS: CF PF AF ZF SF TF DF OF RF AC and IF stays). */
export const FIX_EFLAGS = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x10000 | 0x40000;

export interface FrameInput {
  signo: number;
  siCode: number;
  siAddr: bigint;
  gprs: bigint[];
  rip: bigint;
  rflags: bigint;
  trapno: number;
  err: number;
  cr2: bigint;
  blocked: bigint;
  restorer: bigint;
}

/** Build the rt_sigframe bytes (setup_rt_frame / __setup_rt_frame). */
export function buildFrame(f: FrameInput): Uint8Array {
  const b = new Uint8Array(FRAME_BYTES);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, f.restorer, true);
  const mc = (slot: number, value: bigint): void => v.setBigUint64(MCONTEXT_OFFSET + slot * 8, BigInt.asUintN(64, value), true);
  f.gprs.forEach((g, i) => mc(MCONTEXT_GPR_SLOT[i]!, g));
  mc(MCONTEXT_RIP, f.rip);
  mc(MCONTEXT_EFLAGS, f.rflags);
  // cs = 0x33 (__USER_CS), ss = 0x2b (__USER_DS) in the u16 slots cs|gs|fs|ss.
  v.setUint16(MCONTEXT_OFFSET + MCONTEXT_SEGS * 8, 0x33, true);
  v.setUint16(MCONTEXT_OFFSET + MCONTEXT_SEGS * 8 + 6, 0x2b, true);
  mc(MCONTEXT_ERR, BigInt(f.err));
  mc(MCONTEXT_TRAPNO, BigInt(f.trapno));
  mc(MCONTEXT_CR2, f.cr2);
  v.setBigUint64(SIGMASK_OFFSET, f.blocked, true);
  v.setInt32(SIGINFO_OFFSET, f.signo, true);
  v.setInt32(SIGINFO_OFFSET + 8, f.siCode, true);
  v.setBigUint64(SIGINFO_OFFSET + 16, BigInt.asUintN(64, f.siAddr), true);
  return b;
}

/** Registers rt_sigreturn restores from a ucontext (restore_sigcontext). */
export function readUcontext(uc: Uint8Array): { gprs: bigint[]; rip: bigint; rflags: bigint; blocked: bigint } {
  const v = new DataView(uc.buffer, uc.byteOffset, uc.byteLength);
  const base = MCONTEXT_OFFSET - UC_OFFSET;
  const mc = (slot: number): bigint => v.getBigUint64(base + slot * 8, true);
  return {
    gprs: MCONTEXT_GPR_SLOT.map((slot) => mc(slot)),
    rip: mc(MCONTEXT_RIP),
    rflags: mc(MCONTEXT_EFLAGS),
    blocked: v.getBigUint64(SIGMASK_OFFSET - UC_OFFSET, true),
  };
}
