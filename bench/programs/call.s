# Call-heavy loop: two nested near calls and returns per iteration.
#
# Retired instructions per iteration: call outer, add, call inner, xor, ret, ret, dec, jnz = 8,
# so retired(N) - retired(0) = 8 * N.
        .intel_syntax noprefix
        .ifndef ITERS
        .set ITERS, 1000
        .endif
        .text
        .globl bench_main
bench_main:
        mov     rcx, ITERS
        xor     eax, eax
        mov     edx, 7
        test    rcx, rcx
        jz      2f
1:      call    outer                    # 1
        dec     rcx                      # 7
        jnz     1b                       # 8
2:      add     rax, rdx
        ret
outer:  add     rax, rcx                 # 2
        call    inner                    # 3
        ret                              # 6
inner:  xor     rdx, rax                 # 4
        ret                              # 5
