# String loop: fill 4 KiB with REP STOSQ, then copy it with REP MOVSB, per iteration.
#
# Retired instructions per iteration: 10, counting each REP-prefixed instruction once (as the
# hardware's instructions-retired counter does, whatever its count of iterations), so
# retired(N) - retired(0) = 10 * N; bytes stored per iteration: 4096 + 4096 = 8192.
        .intel_syntax noprefix
        .ifndef ITERS
        .set ITERS, 100
        .endif
        .text
        .globl bench_main
bench_main:
        mov     r8, rdi                  # buffer A = region, buffer B = region + 4 KiB
        mov     r9, ITERS
        mov     eax, 0x5a
        cld
        test    r9, r9
        jz      2f
1:      mov     rdi, r8                  # 1
        mov     ecx, 512                 # 2
        rep stosq                        # 3: 512 quadwords = 4 KiB of rax
        mov     rsi, r8                  # 4
        lea     rdi, [r8 + 4096]         # 5
        mov     ecx, 4096                # 6
        rep movsb                        # 7: copy A to B
        inc     rax                      # 8
        dec     r9                       # 9
        jnz     1b                       # 10
2:      movzx   eax, byte ptr [r8 + 8192 - 8]  # low byte of the last quadword copied
        ret
