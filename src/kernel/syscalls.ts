// The syscalls the emulated kernel implements (x86-64 numbers, arch/x86/entry/syscalls/syscall_64.tbl).
// Arguments arrive in RDI, RSI, RDX, R10, R8, R9; the result (or -errno) goes back in RAX. Anything
// else returns -ENOSYS and leaves a note the CLI's syscall trace shows.

import { ArchPrctl, Errno, Mman, SIZE_1G, SIZE_2M, SIZE_4K, Sys, TASK_SIZE_MAX } from './constants.ts';
import type { KernelCpu } from './machine-port.ts';
import { MmError, type AddressSpace } from './mm.ts';
import type { Prot, Vma } from './vma.ts';

export interface SyscallContext {
  mm: AddressSpace;
  cpu: KernelCpu;
  policyName: string;
  copyToUser(va: number, bytes: Uint8Array): boolean;
  copyFromUser(va: number, length: number): Uint8Array | null;
  readStdin(max: number): Uint8Array;
  unreadStdin(n: number): void;
  output(fd: 1 | 2, bytes: Uint8Array): void;
  exit(code: number, group: boolean): never;
  /** Retired instructions since the process started (the deterministic clock). */
  instructions(): number;
  brk: { get(): { start: number; end: number }; set(end: number): void };
  vmaOf(va: number): Vma | undefined;
  rtSigaction(sig: number, act: bigint, oact: bigint, sigsetsize: bigint): bigint;
  rtSigreturn(): bigint;
}

export interface SyscallOutcome {
  result: bigint;
  name: string;
  note?: string;
}

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(Sys).map(([k, v]) => [v, k]));

/** Where mmap without a hint places mappings: below the stack gap, top-down (mm/util.c mmap_base). */
const MMAP_BASE = 0x7ffff7fff000;
const MMAP_MIN = 0x10000;
/** The deterministic clock: 1 ns per retired instruction; CLOCK_REALTIME starts at this epoch. */
export const REALTIME_EPOCH_SECONDS = 1_700_000_000;

const err = (e: number): bigint => BigInt(-e);
const pageUp = (n: number): number => Math.ceil(n / SIZE_4K) * SIZE_4K;
/** A user-supplied length or address as a safe number, or -1 when it cannot be one. */
const num = (v: bigint): number => (v >= 0n && v < 1n << 53n ? Number(v) : -1);

export function dispatchSyscall(ctx: SyscallContext, nr: number, args: bigint[]): SyscallOutcome {
  const name = NAMES[nr] ?? `syscall ${nr}`;
  const done = (result: bigint | number, note?: string): SyscallOutcome => ({ result: BigInt(result), name, note });
  const [a0, a1, a2, a3, a4] = args as [bigint, bigint, bigint, bigint, bigint, bigint];
  switch (nr) {
    case Sys.read: return done(sysRead(ctx, a0, a1, a2));
    case Sys.write: return done(sysWrite(ctx, a0, a1, a2));
    case Sys.exit: return ctx.exit(Number(a0 & 0xffn), false);
    case Sys.exit_group: return ctx.exit(Number(a0 & 0xffn), true);
    case Sys.brk: return done(sysBrk(ctx, a0));
    case Sys.mmap: return done(sysMmap(ctx, a0, a1, a2, a3, a4, args[5]!));
    case Sys.munmap: return done(sysMunmap(ctx, a0, a1));
    case Sys.mprotect: return done(sysMprotect(ctx, a0, a1, a2));
    case Sys.madvise: return done(sysMadvise(ctx, a0, a1, a2));
    case Sys.arch_prctl: return done(sysArchPrctl(ctx, a0, a1));
    case Sys.getpid: return done(PID);
    case Sys.rt_sigaction: return done(ctx.rtSigaction(Number(BigInt.asIntN(32, a0)), a1, a2, a3));
    case Sys.rt_sigreturn: return done(ctx.rtSigreturn());
    case Sys.uname: return done(sysUname(ctx, a0));
    case Sys.clock_gettime: return done(sysClockGettime(ctx, a0, a1));
    default:
      return done(err(Errno.ENOSYS), `${name} is not implemented by the emulated kernel: returned -ENOSYS`);
  }
}

/** getpid: the one process is pid 1000 (deterministic). */
export const PID = 1000;

function sysRead(ctx: SyscallContext, fd: bigint, buf: bigint, count: bigint): bigint {
  if (fd !== 0n) return err(Errno.EBADF);
  const n = num(count);
  if (n < 0) return err(Errno.EINVAL);
  const data = ctx.readStdin(Math.min(n, 1 << 20));
  if (data.length === 0) return 0n;
  if (!ctx.copyToUser(num(buf), data)) {
    ctx.unreadStdin(data.length);
    return err(Errno.EFAULT);
  }
  return BigInt(data.length);
}

function sysWrite(ctx: SyscallContext, fd: bigint, buf: bigint, count: bigint): bigint {
  if (fd !== 1n && fd !== 2n) return err(Errno.EBADF);
  const n = num(count);
  if (n < 0) return err(Errno.EINVAL);
  if (n === 0) return 0n;
  const data = ctx.copyFromUser(num(buf), Math.min(n, 1 << 20));
  if (data === null) return err(Errno.EFAULT);
  ctx.output(fd === 1n ? 1 : 2, data);
  return BigInt(data.length);
}

/** brk (mm/mmap.c): grow or shrink the "[heap]" VMA; returns the new break, or the old on failure. */
function sysBrk(ctx: SyscallContext, addr: bigint): bigint {
  const { start, end } = ctx.brk.get();
  const want = num(addr);
  if (want < start) return BigInt(end);
  const oldTop = pageUp(end);
  const newTop = pageUp(want);
  try {
    if (newTop > oldTop) {
      if (ctx.mm.vmas.overlaps(oldTop, newTop)) return BigInt(end);
      const heap = ctx.mm.vmas.all().find((v) => v.name === '[heap]' && v.end === oldTop);
      if (heap !== undefined) heap.end = newTop;
      else ctx.mm.map({ name: '[heap]', start: oldTop, size: newTop - oldTop, prot: { read: true, write: true, exec: false }, kind: 'anon', pageBytes: SIZE_4K, populate: false });
    } else if (newTop < oldTop) {
      ctx.mm.munmap(newTop, oldTop);
    }
  } catch (e) {
    if (e instanceof MmError) return BigInt(end);
    throw e;
  }
  ctx.brk.set(want);
  return BigInt(want);
}

function protOf(p: number): Prot {
  return { read: (p & Mman.PROT_READ) !== 0, write: (p & Mman.PROT_WRITE) !== 0, exec: (p & Mman.PROT_EXEC) !== 0 };
}

/** mmap: anonymous mappings only (private, shared, MAP_FIXED, MAP_POPULATE, MAP_HUGETLB). */
function sysMmap(ctx: SyscallContext, addr: bigint, length: bigint, prot: bigint, flagsArg: bigint, fd: bigint, offset: bigint): bigint {
  const flags = Number(flagsArg & 0xffffffffn);
  const len = num(length);
  if (len <= 0) return err(Errno.EINVAL);
  if ((offset & 0xfffn) !== 0n) return err(Errno.EINVAL);
  const type = flags & (Mman.MAP_SHARED | Mman.MAP_PRIVATE);
  if (type === 0 || type === (Mman.MAP_SHARED | Mman.MAP_PRIVATE)) return err(Errno.EINVAL);
  if ((flags & Mman.MAP_ANONYMOUS) === 0) {
    // No file can be mapped: fds 0-2 are a pipe/tty (not mappable), any other fd is not open.
    return err(BigInt.asIntN(32, fd) >= 0n && BigInt.asIntN(32, fd) <= 2n ? Errno.ENODEV : Errno.EBADF);
  }
  let pageBytes = SIZE_4K;
  if (flags & Mman.MAP_HUGETLB) {
    const shift = (flags >>> Mman.MAP_HUGE_SHIFT) & Mman.MAP_HUGE_MASK;
    if (shift === 0 || shift === 21) pageBytes = SIZE_2M;
    else if (shift === 30) pageBytes = SIZE_1G;
    else return err(Errno.EINVAL);
  }
  const size = Math.ceil(len / pageBytes) * pageBytes;
  const hint = num(addr);
  const fixed = (flags & (Mman.MAP_FIXED | Mman.MAP_FIXED_NOREPLACE)) !== 0;
  let start: number;
  if (fixed) {
    if (hint < 0 || hint % pageBytes !== 0) return err(Errno.EINVAL);
    if (hint + size > TASK_SIZE_MAX) return err(Errno.ENOMEM);
    if (ctx.mm.vmas.overlaps(hint, hint + size)) {
      if (flags & Mman.MAP_FIXED_NOREPLACE) return err(Errno.EEXIST);
      try {
        ctx.mm.munmap(hint, hint + size);
      } catch (e) {
        if (e instanceof MmError) return err(Errno.EINVAL);
        throw e;
      }
    }
    start = hint;
  } else {
    // Anonymous mappings of 2M or more are 2M-aligned (thp_get_unmapped_area), hugetlb to its size.
    const align = pageBytes > SIZE_4K ? pageBytes : size >= SIZE_2M ? SIZE_2M : SIZE_4K;
    if (hint > 0 && hint % align === 0 && hint + size <= TASK_SIZE_MAX && !ctx.mm.vmas.overlaps(hint, hint + size)) start = hint;
    else {
      const gap = ctx.mm.vmas.findGap(size, align, MMAP_BASE, MMAP_MIN);
      if (gap === undefined) return err(Errno.ENOMEM);
      start = gap;
    }
  }
  const shared = type === Mman.MAP_SHARED;
  try {
    ctx.mm.map({
      name: 'mmap', start, size, prot: protOf(Number(prot & 7n)),
      kind: pageBytes > SIZE_4K ? 'hugetlb' : shared ? 'shared-file' : 'anon',
      pageBytes, populate: (flags & Mman.MAP_POPULATE) !== 0,
    });
  } catch (e) {
    if (e instanceof MmError) return err(Errno.EINVAL);
    if (e instanceof Error && e.name === 'OutOfFramesError') return err(Errno.ENOMEM);
    throw e;
  }
  return BigInt(start);
}

function rangeOf(addr: bigint, length: bigint): [number, number] | null {
  const start = num(addr);
  const len = num(length);
  if (start < 0 || len < 0 || start % SIZE_4K !== 0) return null;
  const end = start + pageUp(len);
  if (end > TASK_SIZE_MAX) return null;
  return [start, end];
}

/** A hugetlb VMA touched by [start, end) must be cut at its page size (Linux: -EINVAL). */
function hugeAligned(ctx: SyscallContext, start: number, end: number): boolean {
  return ctx.mm.vmas.all().every((v) => v.kind !== 'hugetlb' || v.end <= start || v.start >= end || (start % v.pageBytes === 0 && end % v.pageBytes === 0) || (start <= v.start && end >= v.end));
}

function sysMunmap(ctx: SyscallContext, addr: bigint, length: bigint): bigint {
  const r = rangeOf(addr, length);
  if (r === null || length === 0n) return err(Errno.EINVAL);
  if (!hugeAligned(ctx, r[0], r[1])) return err(Errno.EINVAL);
  ctx.mm.munmap(r[0], r[1]);
  return 0n;
}

function sysMprotect(ctx: SyscallContext, addr: bigint, length: bigint, prot: bigint): bigint {
  const r = rangeOf(addr, length);
  if (r === null || (prot & ~7n) !== 0n) return err(Errno.EINVAL);
  const [start, end] = r;
  // Every page of the range must be mapped (mprotect returns -ENOMEM for a hole).
  for (let va = start; va < end; ) {
    const v = ctx.mm.vmas.find(va);
    if (v === undefined) return err(Errno.ENOMEM);
    va = v.end;
  }
  if (!hugeAligned(ctx, start, end)) return err(Errno.EINVAL);
  ctx.mm.mprotect(start, end, protOf(Number(prot)));
  return 0n;
}

function sysMadvise(ctx: SyscallContext, addr: bigint, length: bigint, advice: bigint): bigint {
  const r = rangeOf(addr, length);
  if (r === null) return err(Errno.EINVAL);
  switch (Number(advice)) {
    case Mman.MADV_HUGEPAGE:
      ctx.mm.setHugepage(r[0], r[1], true);
      return 0n;
    case Mman.MADV_NOHUGEPAGE:
      ctx.mm.setHugepage(r[0], r[1], false);
      return 0n;
    case Mman.MADV_DONTNEED:
      if (!hugeAligned(ctx, r[0], r[1])) return err(Errno.EINVAL);
      ctx.mm.zap(r[0], r[1]);
      return 0n;
    case 0: // MADV_NORMAL
    case 1: // MADV_RANDOM
    case 2: // MADV_SEQUENTIAL
    case 3: // MADV_WILLNEED
      return 0n;
    default:
      return err(Errno.EINVAL);
  }
}

function sysArchPrctl(ctx: SyscallContext, code: bigint, addr: bigint): bigint {
  const c = Number(code & 0xffffffffn);
  const canonical = (v: bigint): boolean => v < 0x800000000000n || (v >= 0xffff800000000000n && v < 1n << 64n);
  switch (c) {
    case ArchPrctl.ARCH_SET_FS:
      if (!canonical(addr)) return err(Errno.EPERM);
      ctx.cpu.fsBase = addr;
      return 0n;
    case ArchPrctl.ARCH_SET_GS:
      if (!canonical(addr)) return err(Errno.EPERM);
      ctx.cpu.gsBase = addr;
      return 0n;
    case ArchPrctl.ARCH_GET_FS:
    case ArchPrctl.ARCH_GET_GS: {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, c === ArchPrctl.ARCH_GET_FS ? ctx.cpu.fsBase : ctx.cpu.gsBase, true);
      return ctx.copyToUser(num(addr), b) ? 0n : err(Errno.EFAULT);
    }
    default:
      return err(Errno.EINVAL);
  }
}

/** uname: struct new_utsname, six fields of 65 bytes (include/uapi/linux/utsname.h). */
export const UTSNAME = ['Linux', 'snpemu', '6.9.0-snpemu', '#1 SMP PREEMPT_DYNAMIC', 'x86_64', '(none)'];

function sysUname(ctx: SyscallContext, buf: bigint): bigint {
  const out = new Uint8Array(6 * 65);
  const enc = new TextEncoder();
  UTSNAME.forEach((s, i) => out.set(enc.encode(s), i * 65));
  return ctx.copyToUser(num(buf), out) ? 0n : err(Errno.EFAULT);
}

/**
 * clock_gettime: deterministic. Every clock counts 1 ns per retired instruction; CLOCK_REALTIME (0)
 * and its variants add REALTIME_EPOCH_SECONDS. Clocks 0-7 are accepted (include/uapi/linux/time.h).
 */
function sysClockGettime(ctx: SyscallContext, clock: bigint, tp: bigint): bigint {
  const id = Number(BigInt.asIntN(32, clock));
  if (id < 0 || id > 7) return err(Errno.EINVAL);
  const ns = BigInt(ctx.instructions());
  const realtime = id === 0 || id === 5; // CLOCK_REALTIME, CLOCK_REALTIME_COARSE
  const sec = ns / 1_000_000_000n + (realtime ? BigInt(REALTIME_EPOCH_SECONDS) : 0n);
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigInt64(0, sec, true);
  v.setBigInt64(8, ns % 1_000_000_000n, true);
  return ctx.copyToUser(num(tp), b) ? 0n : err(Errno.EFAULT);
}
