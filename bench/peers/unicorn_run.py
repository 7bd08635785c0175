#!/usr/bin/python3
"""Run a static x86-64 ELF under unicorn with 4-level paging at CPL 3.

Unicorn's x86-64 mode starts in long mode with paging off, which real hardware never allows, and
then every access costs nothing but a host lookup. To compare like with like, this driver builds
what a kernel would have built before the program's first instruction:

  * 4-level page tables (AMD APM Vol.2 §5.3) in emulated physical memory: the ELF's PT_LOAD
    segments, a user stack and every mmap() are mapped with 4 KiB pages (2 MiB pages for
    MAP_HUGETLB), user-accessible; a supervisor page holds the GDT, a kernel stack and the stub;
  * CR3, CR4.PAE, EFER.LME/LMA and CR0.PG|PE|WP written directly as registers;
  * a GDT with 64-bit user code and data descriptors, and a one-instruction boot stub (IRETQ)
    that drops to CPL 3 at the ELF entry point, as a kernel's return to user mode does.

Identity mapping: unicorn 2.0.x (Debian 12 ships 2.0.1) walks the page tables on every TLB miss,
with all their permission checks and #PF, but then uses the linear address as the physical one
(unicorn issue #1953, fixed in 2.1.0). So every mapping here is an identity mapping (linear =
physical): the walks cost what they would cost, and the program sees the memory it should on
either version. Addresses stay below 2^39 so no frame number exceeds MAXPHYADDR.

SYSCALL is hooked (unicorn then skips the instruction's own semantics): exit/exit_group stop the
run with the program's status, mmap maps fresh zeroed memory, write copies to our stdout or
stderr, madvise succeeds without effect, and anything else returns -ENOSYS.

Usage: unicorn_run.py PROGRAM [--count]
  --count  also count retired instructions (a per-instruction hook: slow, for checking the
           benchmarks' static instruction counts) and print "instructions=N" on stderr.
Exit status: the program's exit status; 2 with a one-line message for a bad ELF or a crash.
"""

import struct
import sys

from unicorn import Uc, UcError, UC_ARCH_X86, UC_MODE_64, UC_HOOK_CODE, UC_HOOK_INSN
from unicorn.x86_const import (
    UC_X86_INS_SYSCALL, UC_X86_REG_CR0, UC_X86_REG_CR3, UC_X86_REG_CR4, UC_X86_REG_CS,
    UC_X86_REG_GDTR, UC_X86_REG_R10, UC_X86_REG_RAX, UC_X86_REG_RDI, UC_X86_REG_RDX,
    UC_X86_REG_RIP, UC_X86_REG_RSI, UC_X86_REG_RSP,
)

PAGE = 0x1000
HUGE = 0x200000

# Paging-structure entry bits (AMD APM Vol.2 §5.4, Figure 5-20 and following).
PTE_P, PTE_RW, PTE_US, PTE_PS = 1, 2, 4, 0x80
USER = PTE_P | PTE_RW | PTE_US
SUPERVISOR = PTE_P | PTE_RW

CR0_PE, CR0_WP, CR0_PG = 1 << 0, 1 << 16, 1 << 31
CR4_PAE = 1 << 5
EFER_LME, EFER_LMA = 1 << 8, 1 << 10
MSR_EFER = 0xC000_0080

# Selectors: index << 3 | RPL (AMD APM Vol.2 §4.5).
USER_DS, USER_CS = 0x18 | 3, 0x20 | 3

# The address map (linear = physical, see above).
KERNEL_PAGE = 0x1000            # GDT at +0, stub at +0x100, kernel stack top at +0x1000
TABLE_POOL = 0x2000_0000        # paging structures, allocated upwards
TABLE_POOL_BYTES = 16 << 20
USER_STACK_TOP = 0x7000_0000
USER_STACK_BYTES = 1 << 20
MMAP_BASE = 0x1_0000_0000       # mmap() hands out addresses upwards from 4 GiB
MMAP_LIMIT = 0x40_0000_0000     # 256 GiB: far below 2^39
STOP_ADDRESS = 0xDEAD_0000      # never mapped: emu_start's "until"

SYS_write, SYS_mmap, SYS_madvise, SYS_exit, SYS_exit_group = 1, 9, 28, 60, 231
MAP_HUGETLB = 0x40000
EINVAL, ENOSYS, ENOMEM, EBADF = 22, 38, 12, 9


class Fatal(Exception):
    """A problem reported as one line, exit status 2."""


class PageTables:
    """4-level identity page tables, kept in the guest's memory in a pool of their own."""

    def __init__(self, uc):
        self.uc = uc
        uc.mem_map(TABLE_POOL, TABLE_POOL_BYTES)
        self.next_table = TABLE_POOL
        self.pml4 = self._new_table()

    def _new_table(self):
        if self.next_table >= TABLE_POOL + TABLE_POOL_BYTES:
            raise MemoryError
        table = self.next_table
        self.next_table += PAGE
        return table                         # unicorn memory starts zeroed

    def _entry(self, table, index):
        return struct.unpack('<Q', self.uc.mem_read(table + index * 8, 8))[0]

    def _next_table(self, table, index):
        entry = self._entry(table, index)
        if entry & PTE_P:
            return entry & 0x000F_FFFF_FFFF_F000
        child = self._new_table()
        # Upper levels are always user+writable; the leaf decides (R/W and U/S combine).
        self.uc.mem_write(table + index * 8, struct.pack('<Q', child | USER))
        return child

    def map(self, va, size, flags, huge=False):
        """Identity-map [va, va + size) with 4 KiB leaves, or 2 MiB leaves when huge."""
        step = HUGE if huge else PAGE
        leaves = {}                          # table -> {index: entry}, written once per table
        for v in range(va, va + size, step):
            pdpt = self._next_table(self.pml4, (v >> 39) & 511)
            pd = self._next_table(pdpt, (v >> 30) & 511)
            if huge:
                leaves.setdefault(pd, {})[(v >> 21) & 511] = v | flags | PTE_PS
            else:
                pt = self._next_table(pd, (v >> 21) & 511)
                leaves.setdefault(pt, {})[(v >> 12) & 511] = v | flags
        for table, entries in leaves.items():
            raw = bytearray(self.uc.mem_read(table, PAGE))
            for index, entry in entries.items():
                struct.pack_into('<Q', raw, index * 8, entry)
            self.uc.mem_write(table, bytes(raw))


def map_memory(uc, tables, va, size, flags, huge=False):
    uc.mem_map(va, size)
    tables.map(va, size, flags, huge)


def load_elf(uc, tables, data):
    if data[:4] != b'\x7fELF' or data[4] != 2 or data[5] != 1:
        raise Fatal('not a little-endian ELF64 file')
    e_type, e_machine = struct.unpack_from('<HH', data, 16)
    if e_type != 2 or e_machine != 62:
        raise Fatal('only static x86-64 executables (ET_EXEC, EM_X86_64) are supported')
    entry, phoff = struct.unpack_from('<QQ', data, 24)
    phentsize, phnum = struct.unpack_from('<HH', data, 54)
    for i in range(phnum):
        p_type, _flags, offset, vaddr, _paddr, filesz, memsz, _align = struct.unpack_from(
            '<IIQQQQQQ', data, phoff + i * phentsize)
        if p_type == 3:
            raise Fatal('dynamically linked programs (PT_INTERP) are not supported')
        if p_type != 1 or memsz == 0:
            continue
        first = vaddr & ~(PAGE - 1)
        size = ((vaddr + memsz + PAGE - 1) & ~(PAGE - 1)) - first
        if first < 0x10_0000 or first + size > TABLE_POOL:
            raise Fatal(f'segment at {vaddr:#x} is outside 1 MiB..{TABLE_POOL:#x}')
        map_memory(uc, tables, first, size, USER)
        uc.mem_write(vaddr, data[offset:offset + filesz])
    return entry


class Process:
    def __init__(self, uc, tables):
        self.uc = uc
        self.tables = tables
        self.mmap_next = MMAP_BASE
        self.status = None

    def mmap(self, length, flags):
        huge = bool(flags & MAP_HUGETLB)
        unit = HUGE if huge else PAGE
        size = (length + unit - 1) & -unit
        if size == 0:
            return -EINVAL
        va = (self.mmap_next + unit - 1) & -unit
        if va + size > MMAP_LIMIT:
            return -ENOMEM
        try:
            map_memory(self.uc, self.tables, va, size, USER, huge)
        except (MemoryError, UcError):
            return -ENOMEM
        self.mmap_next = va + size
        return va

    def on_syscall(self, uc, _user_data):
        nr = uc.reg_read(UC_X86_REG_RAX)
        a0, a1, a2 = (uc.reg_read(r) for r in (UC_X86_REG_RDI, UC_X86_REG_RSI, UC_X86_REG_RDX))
        if nr in (SYS_exit, SYS_exit_group):
            self.status = a0 & 0xFF
            uc.emu_stop()
            return
        if nr == SYS_mmap:
            result = self.mmap(a1, uc.reg_read(UC_X86_REG_R10))
        elif nr == SYS_madvise:
            result = 0                        # advice only; the pages stay as mapped
        elif nr == SYS_write:
            if a0 not in (1, 2):
                result = -EBADF
            else:
                out = sys.stdout.buffer if a0 == 1 else sys.stderr.buffer
                out.write(bytes(uc.mem_read(a1, a2)))
                out.flush()
                result = a2
        else:
            result = -ENOSYS
        uc.reg_write(UC_X86_REG_RAX, result & 0xFFFF_FFFF_FFFF_FFFF)


def descriptor(dpl, code):
    """A flat 64-bit code or data segment descriptor (AMD APM Vol.2 §4.8)."""
    access = 0x80 | (dpl << 5) | 0x10 | (0x0A if code else 0x02)   # P, DPL, S, type
    flags = 0xA if code else 0xC                                      # G + L, or G + D/B
    return 0xFFFF | (access << 40) | (0xF << 48) | (flags << 52)


def build_kernel_page(uc, tables, entry, user_rsp):
    map_memory(uc, tables, KERNEL_PAGE, PAGE, SUPERVISOR)
    gdt = [0, descriptor(0, True), descriptor(0, False), descriptor(3, False), descriptor(3, True)]
    uc.mem_write(KERNEL_PAGE, b''.join(struct.pack('<Q', d) for d in gdt))
    uc.mem_write(KERNEL_PAGE + 0x100, b'\x48\xcf')                   # iretq
    # IRETQ frame, lowest address first: RIP, CS, RFLAGS (IF=0: nothing interrupts), RSP, SS.
    frame = struct.pack('<QQQQQ', entry, USER_CS, 0x2, user_rsp, USER_DS)
    uc.mem_write(KERNEL_PAGE + PAGE - len(frame), frame)
    return KERNEL_PAGE + 0x100, KERNEL_PAGE + PAGE - len(frame), len(gdt) * 8 - 1


def run(path, count):
    with open(path, 'rb') as f:
        data = f.read()
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    tables = PageTables(uc)
    entry = load_elf(uc, tables, data)

    map_memory(uc, tables, USER_STACK_TOP - USER_STACK_BYTES, USER_STACK_BYTES, USER)
    # argc = 0, argv = NULL, envp = NULL, auxv = AT_NULL: the benchmarks read none of it.
    user_rsp = USER_STACK_TOP - 64
    stub, kernel_rsp, gdt_limit = build_kernel_page(uc, tables, entry, user_rsp)

    uc.reg_write(UC_X86_REG_GDTR, (0, KERNEL_PAGE, gdt_limit, 0))
    uc.reg_write(UC_X86_REG_CR3, tables.pml4)
    uc.reg_write(UC_X86_REG_CR4, CR4_PAE)
    uc.msr_write(MSR_EFER, EFER_LME | EFER_LMA)
    uc.reg_write(UC_X86_REG_CR0, CR0_PE | CR0_WP | CR0_PG)
    uc.reg_write(UC_X86_REG_RSP, kernel_rsp)

    process = Process(uc, tables)
    uc.hook_add(UC_HOOK_INSN, process.on_syscall, None, 1, 0, UC_X86_INS_SYSCALL)
    counter = [0]
    if count:
        def on_code(_uc, _address, _size, _data):
            counter[0] += 1
        uc.hook_add(UC_HOOK_CODE, on_code)
    try:
        uc.emu_start(stub, STOP_ADDRESS)
    except UcError as error:
        rip = uc.reg_read(UC_X86_REG_RIP)
        raise Fatal(f'emulation stopped at rip={rip:#x}: {error}') from None
    if count:
        # The boot stub's IRETQ runs at CPL 0 before the program: not the program's.
        sys.stderr.write(f'instructions={counter[0] - 1}\n')
    if process.status is None:
        raise Fatal('the program stopped without calling exit')
    if uc.reg_read(UC_X86_REG_CS) != USER_CS:
        raise Fatal('the program did not run at CPL 3')
    return process.status


def main(argv):
    args = [a for a in argv if not a.startswith('--')]
    flags = [a for a in argv if a.startswith('--')]
    if len(args) != 1 or any(f != '--count' for f in flags):
        sys.stderr.write('usage: unicorn_run.py PROGRAM [--count]\n')
        return 2
    try:
        return run(args[0], '--count' in flags)
    except (OSError, Fatal) as error:
        sys.stderr.write(f'unicorn_run.py: {error}\n')
        return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
