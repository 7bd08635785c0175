    .globl _start
    .text
# expect: if %rax != %rbx, print the letter in %r13b. Leaves flags alone otherwise.
    .macro EXPECT letter
    mov $\letter, %r13d
    call expect
    .endm
_start:
    # A: brk grows the heap; the new bytes are usable
    mov $12, %eax
    xor %edi, %edi
    syscall
    mov %rax, %r12
    lea 0x2000(%r12), %rdi
    mov $12, %eax
    syscall
    lea 0x2000(%r12), %rbx
    EXPECT 'A'
    movq $0x1234, 0x1ff8(%r12)
    mov 0x1ff8(%r12), %rax
    mov $0x1234, %ebx
    EXPECT 'a'
    # B: mmap anonymous, store, mprotect read-only, munmap
    xor %edi, %edi
    mov $8192, %esi
    mov $3, %edx
    mov $0x22, %r10d
    mov $-1, %r8
    xor %r9d, %r9d
    mov $9, %eax
    syscall
    mov %rax, %r14
    movq $77, 4096(%r14)
    mov 4096(%r14), %rax
    mov $77, %ebx
    EXPECT 'B'
    mov %r14, %rdi
    mov $4096, %esi
    mov $1, %edx
    mov $10, %eax
    syscall
    xor %ebx, %ebx
    EXPECT 'b'
    mov %r14, %rdi
    mov $8192, %esi
    mov $11, %eax
    syscall
    xor %ebx, %ebx
    EXPECT 'c'
    # C: MAP_FIXED at 0x10000000
    mov $0x10000000, %edi
    mov $4096, %esi
    mov $3, %edx
    mov $0x32, %r10d
    mov $-1, %r8
    xor %r9d, %r9d
    mov $9, %eax
    syscall
    mov $0x10000000, %ebx
    EXPECT 'C'
    # D: arch_prctl(ARCH_SET_FS, &fsblock); %fs:0 reads fsblock[0]; ARCH_GET_FS gives it back
    mov $0x1002, %edi
    lea fsblock(%rip), %rsi
    mov $158, %eax
    syscall
    xor %ebx, %ebx
    EXPECT 'D'
    mov %fs:0, %rax
    mov $0x5eed, %ebx
    EXPECT 'd'
    mov $0x1003, %edi
    lea fsout(%rip), %rsi
    mov $158, %eax
    syscall
    mov fsout(%rip), %rax
    lea fsblock(%rip), %rbx
    EXPECT 'e'
    # E: getpid > 0
    mov $39, %eax
    syscall
    test %rax, %rax
    jg 1f
    mov $'E', %r13d
    mov $1, %eax
    xor %ebx, %ebx
    call expect
1:
    # F: uname, then print sysname and machine
    lea uts(%rip), %rdi
    mov $63, %eax
    syscall
    xor %ebx, %ebx
    EXPECT 'F'
    mov $1, %eax
    mov $1, %edi
    lea uts(%rip), %rsi
    mov $5, %edx
    syscall
    mov $1, %eax
    mov $1, %edi
    lea uts+260(%rip), %rsi
    mov $6, %edx
    syscall
    # G: clock_gettime(CLOCK_MONOTONIC)
    mov $1, %edi
    lea ts(%rip), %rsi
    mov $228, %eax
    syscall
    xor %ebx, %ebx
    EXPECT 'G'
    # H: an unknown syscall is -ENOSYS
    mov $500, %eax
    syscall
    mov $-38, %rbx
    EXPECT 'H'
    # J: write from an unmapped pointer is -EFAULT
    mov $1, %edi
    mov $0x1000, %esi
    mov $4, %edx
    mov $1, %eax
    syscall
    mov $-14, %rbx
    EXPECT 'J'
    # K: mprotect of an unmapped range is -ENOMEM
    mov $0x20000000, %edi
    mov $4096, %esi
    mov $1, %edx
    mov $10, %eax
    syscall
    mov $-12, %rbx
    EXPECT 'K'
    # L: munmap of an unaligned address is -EINVAL
    mov $0x10000001, %edi
    mov $4096, %esi
    mov $11, %eax
    syscall
    mov $-22, %rbx
    EXPECT 'L'
    # M: stdin echo: read up to 32 bytes and write them back
    xor %edi, %edi
    lea inbuf(%rip), %rsi
    mov $32, %edx
    xor %eax, %eax
    syscall
    mov %rax, %rdx
    mov $1, %edi
    lea inbuf(%rip), %rsi
    mov $1, %eax
    syscall
    # done
    mov $1, %eax
    mov $1, %edi
    lea done(%rip), %rsi
    mov $6, %edx
    syscall
    mov $231, %eax
    mov $3, %edi
    syscall
expect:
    cmp %rbx, %rax
    je 9f
    mov %r13b, letter(%rip)
    mov $1, %eax
    mov $1, %edi
    lea letter(%rip), %rsi
    mov $1, %edx
    syscall
9:  ret
    .data
fsblock: .quad 0x5eed
fsout: .quad 0
letter: .byte 0
done: .ascii "\ndone\n"
    .bss
uts: .skip 390
ts: .skip 16
inbuf: .skip 32
