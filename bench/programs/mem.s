# Memory loop: touch 64 MiB at a 4 KiB stride, one read-modify-write per page, so every
# access lands on a different 4 KiB page. With 4 KiB pages that is 16384 pages, far more than
# any TLB holds; with 2 MiB pages it is 32.
#
# The region is touched once before the timed passes (outside the ITERS guard), so demand
# faults are part of the set-up that the zero-iteration build also pays for.
# Retired instructions per pass: 2 (pass set-up) + 16384 * 4 (inner loop) + 2 (pass loop)
# = 65540, so retired(N) - retired(0) = 65540 * N, with N = ITERS passes.
        .intel_syntax noprefix
        .ifndef ITERS
        .set ITERS, 10
        .endif
        .set PAGES, (64 << 20) >> 12
        .text
        .globl bench_main
bench_main:
        mov     rsi, rdi                 # pre-fault pass: one write per page
        mov     ecx, PAGES
0:      mov     byte ptr [rsi], 0
        add     rsi, 4096
        dec     ecx
        jnz     0b
        mov     r8, ITERS
        test    r8, r8
        jz      3f
1:      mov     rsi, rdi                 # pass: 1
        mov     ecx, PAGES               #       2
2:      add     qword ptr [rsi], 1       # inner: 1
        add     rsi, 4096                #        2
        dec     ecx                      #        3
        jnz     2b                       #        4
        dec     r8                       # pass: 3
        jnz     1b                       #       4
3:      mov     rax, [rdi]               # = ITERS
        add     rax, [rdi + (64 << 20) - 4096]
        ret
