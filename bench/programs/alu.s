# Integer ALU loop: add, xor, shl, dec, jnz on registers only.
#
# Retired instructions (counted from the loop structure): 5 per iteration. Everything outside
# the loop (set-up, the zero-iteration guard, the return) is the same whether ITERS is 0 or N,
# except that `jz` is taken when ITERS = 0, so retired(N) - retired(0) = 5 * N exactly.
        .intel_syntax noprefix
        .ifndef ITERS
        .set ITERS, 1000
        .endif
        .text
        .globl bench_main
bench_main:
        mov     rcx, ITERS
        mov     eax, 1
        mov     edx, 0x9e3779b9          # a golden-ratio constant keeps the values busy
        test    rcx, rcx
        jz      2f
1:      add     rax, rcx                 # 1
        xor     rdx, rax                 # 2
        shl     rdx, 3                   # 3
        dec     rcx                      # 4
        jnz     1b                       # 5
2:      xor     rax, rdx
        ret
