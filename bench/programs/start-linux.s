# Linux start-up shared by every whole-program benchmark (GNU as, Intel syntax).
#
# Contract with the program bodies (alu.s, mem.s, call.s, string.s):
#   bench_main(rdi = region) -> rax = checksum
# `region` is 64 MiB of zero-filled, writable memory aligned to 2 MiB. The checksum becomes the
# exit status (its low 8 bits), so every engine can be checked to have computed the same thing.
#
# Assemble with --defsym HUGE=1 to ask for 2 MiB pages: first mmap(MAP_HUGETLB), which needs
# reserved hugetlb pages (vm.nr_hugepages); when that fails, an ordinary mapping advised with
# madvise(MADV_HUGEPAGE) so a transparent-huge-page kernel can back it with 2 MiB pages.
# bench/peers/bochs/boot.s is the bare-metal twin of this file.

        .intel_syntax noprefix
        .ifndef HUGE
        .set HUGE, 0
        .endif

        .set SYS_mmap, 9
        .set SYS_madvise, 28
        .set SYS_exit_group, 231
        .set PROT_RW, 3                  # PROT_READ | PROT_WRITE
        .set MAP_PRIVATE_ANON, 0x22      # MAP_PRIVATE | MAP_ANONYMOUS
        .set MAP_HUGETLB, 0x40000
        .set MADV_HUGEPAGE, 14
        .set REGION_BYTES, 64 << 20
        .set TWO_MIB, 2 << 20

        .text
        .globl _start
_start:
        .if HUGE
        mov     eax, SYS_mmap            # mmap(NULL, 64 MiB, RW, PRIVATE|ANON|HUGETLB, -1, 0)
        xor     edi, edi
        mov     esi, REGION_BYTES
        mov     edx, PROT_RW
        mov     r10d, MAP_PRIVATE_ANON | MAP_HUGETLB
        mov     r8, -1
        xor     r9d, r9d
        syscall
        cmp     rax, -4095               # -4095..-1 are errno values
        jb      .Lhave_region
        .endif
        # An ordinary mapping, 2 MiB larger so its start can be aligned up to 2 MiB.
        mov     eax, SYS_mmap
        xor     edi, edi
        mov     esi, REGION_BYTES + TWO_MIB
        mov     edx, PROT_RW
        mov     r10d, MAP_PRIVATE_ANON
        mov     r8, -1
        xor     r9d, r9d
        syscall
        cmp     rax, -4095
        jae     .Lfail
        add     rax, TWO_MIB - 1
        and     rax, -TWO_MIB
        .if HUGE
        mov     rbx, rax                 # madvise(region, 64 MiB, MADV_HUGEPAGE); advice only,
        mov     rdi, rax                 # so its result is ignored
        mov     esi, REGION_BYTES
        mov     edx, MADV_HUGEPAGE
        mov     eax, SYS_madvise
        syscall
        mov     rax, rbx
        .endif
.Lhave_region:
        mov     rdi, rax
        call    bench_main
        mov     rdi, rax
        and     edi, 0xff
        mov     eax, SYS_exit_group
        syscall
.Lfail:
        mov     edi, 255                 # no memory. 255 can also be a checksum, but the harness
        mov     eax, SYS_exit_group      # compares each engine's status with the native run's,
        syscall                          # and the native run has its memory.
