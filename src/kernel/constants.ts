// Numbers of the Linux x86-64 ABI that the emulated kernel speaks: the Linux page-table flags, signals
// and their si_code values, errno values, syscall numbers, auxv tags, mmap flags; and the register
// names of a process's state. Each group cites the header or manual it comes from, so a reader can check it.
// The architectural entry bits themselves live in src/mmu/paging-bits.ts (PTE_BITS).

import { PTE_BITS } from '../mmu/paging-bits.ts';

/**
 * The 16 GPR names in encoding order: the Cpu's register index (AMD APM Vol.1 §3.1.2). The names of
 * process registers here, of scenario `regs`, of the library API and of snippet cases.
 */
export const GPR_NAMES = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
] as const;
export type GprName = (typeof GPR_NAMES)[number];

/** Page sizes (Intel SDM Vol.3A §4.5: 4-level paging maps 4 KiB, 2 MiB and 1 GiB pages). */
export const SIZE_4K = 0x1000;
export const SIZE_2M = 0x200000;
export const SIZE_1G = 0x40000000;

/**
 * Linux _PAGE_TABLE (pgtable_types.h): what pmd_populate/pud_populate/pgd_populate write into an
 * upper-level entry that points at a table: present, writable, user, accessed, dirty.
 */
export const PAGE_TABLE_FLAGS = PTE_BITS.P | PTE_BITS.RW | PTE_BITS.US | PTE_BITS.A | PTE_BITS.D;

/** The direct map of all physical memory (Linux page_offset_base without KASLR, mm.rst). */
export const DIRECT_MAP_BASE = 0xffff888000000000n;
/** First byte above the user half (Linux TASK_SIZE_MAX with 4-level paging: 2^47 - 4096). */
export const TASK_SIZE_MAX = 0x7ffffffff000;

/**
 * Symbolic kernel RIPs for faults raised by the emulated kernel's own accesses. A real kernel
 * reports an address inside the function that faulted; these stand in for them (kernel text starts
 * at 0xffffffff81000000 without KASLR), one per function, so a fault list shows who faulted.
 */
export const KERNEL_RIP = {
  copy_user: 0xffffffff81100000n, // rep movsb in copy_user_generic (copy_to_user / copy_from_user)
  clear_page: 0xffffffff81101000n, // clear_page_erms: zeroing a fresh frame
  set_pte: 0xffffffff81102000n, // native_set_pte / set_pmd / set_pud: page-table writes
  copy_page: 0xffffffff81103000n, // copy_page: the copy of a copy-on-write fault, loading bytes
} as const;

/** Signals (include/uapi/asm-generic/signal.h, x86 numbering). */
export const Signal = {
  SIGILL: 4,
  SIGTRAP: 5,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGSEGV: 11,
} as const;
export const SIGNAL_NAMES: Record<number, string> = {
  4: 'SIGILL', 5: 'SIGTRAP', 7: 'SIGBUS', 8: 'SIGFPE', 11: 'SIGSEGV',
};

/** si_code values (include/uapi/asm-generic/siginfo.h). Names are unique per signal only. */
export const SiCode = {
  SI_KERNEL: 0x80,
  SEGV_MAPERR: 1,
  SEGV_ACCERR: 2,
  BUS_ADRALN: 1,
  BUS_ADRERR: 2,
  ILL_ILLOPN: 2,
  FPE_INTDIV: 1,
  TRAP_BRKPT: 1,
} as const;
export type SiCodeName = keyof typeof SiCode;

/** errno values (include/uapi/asm-generic/errno-base.h, errno.h). */
export const Errno = {
  EPERM: 1,
  EBADF: 9,
  ENOMEM: 12,
  EFAULT: 14,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSYS: 38,
} as const;

/** x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
export const Sys = {
  read: 0,
  write: 1,
  mmap: 9,
  mprotect: 10,
  munmap: 11,
  brk: 12,
  rt_sigaction: 13,
  rt_sigreturn: 15,
  madvise: 28,
  getpid: 39,
  exit: 60,
  uname: 63,
  arch_prctl: 158,
  clock_gettime: 228,
  exit_group: 231,
} as const;

/** mmap/mprotect/madvise constants (include/uapi/asm-generic/mman-common.h, mman.h). */
export const Mman = {
  PROT_READ: 1,
  PROT_WRITE: 2,
  PROT_EXEC: 4,
  MAP_SHARED: 0x01,
  MAP_PRIVATE: 0x02,
  MAP_FIXED: 0x10,
  MAP_ANONYMOUS: 0x20,
  MAP_POPULATE: 0x8000,
  MAP_FIXED_NOREPLACE: 0x100000,
  MAP_HUGETLB: 0x40000,
  MAP_HUGE_SHIFT: 26,
  MAP_HUGE_MASK: 0x3f,
  MADV_DONTNEED: 4,
  MADV_HUGEPAGE: 14,
  MADV_NOHUGEPAGE: 15,
} as const;

/** arch_prctl codes (arch/x86/include/uapi/asm/prctl.h). */
export const ArchPrctl = {
  ARCH_SET_GS: 0x1001,
  ARCH_SET_FS: 0x1002,
  ARCH_GET_FS: 0x1003,
  ARCH_GET_GS: 0x1004,
} as const;

/** Auxiliary-vector tags (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h). */
export const AT = {
  NULL: 0,
  PHDR: 3,
  PHENT: 4,
  PHNUM: 5,
  PAGESZ: 6,
  BASE: 7,
  FLAGS: 8,
  ENTRY: 9,
  UID: 11,
  EUID: 12,
  GID: 13,
  EGID: 14,
  PLATFORM: 15,
  HWCAP: 16,
  CLKTCK: 17,
  SECURE: 23,
  RANDOM: 25,
  HWCAP2: 26,
  EXECFN: 31,
  MINSIGSTKSZ: 51,
} as const;
