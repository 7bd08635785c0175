# Decode-throughput corpus: a mix of the integer instructions compiled code is made of, in the
# subset snpemu decodes (issue 2), with the encodings that make decoding work: prefixes (66, 67,
# F0, F2/F3, segment), REX, ModRM with SIB and disp8/disp32, RIP-relative operands, imm8/16/32/64,
# and the 0F map. bench/micro/decode.bench.ts repeats it to 64 KiB and decodes it with snpemu's
# decoder and with iced-x86's. It is never executed.
        .intel_syntax noprefix
        .text
corpus:
        mov     rax, rbx
        mov     eax, dword ptr [rbx + 8]
        mov     qword ptr [rsp + rcx * 8 + 0x40], rdx
        mov     r12, qword ptr [rip + corpus]
        movabs  rax, 0x123456789abcdef0
        mov     ecx, 0x12345678
        mov     word ptr [rdi], 0x1234
        mov     byte ptr [rsi + 1], 7
        mov     sil, byte ptr [r8]
        mov     ah, bl
        movzx   eax, byte ptr [rdi + rcx]
        movzx   r9d, word ptr [rax]
        movsx   rax, byte ptr [rbx]
        movsxd  rdx, dword ptr [rbp - 8]
        lea     rax, [rip + corpus]
        lea     rcx, [rax + rbx * 4 + 0x1000]
        lea     r10d, [r11 + r12]
        add     rax, rbx
        add     dword ptr [rbx], 1
        add     rsp, 0x28
        sub     rsp, 0x1000
        adc     rdx, 0
        sbb     eax, eax
        and     eax, 0xfff
        or      byte ptr [rdi + 3], 0x80
        xor     r8d, r8d
        cmp     qword ptr [rbp - 0x18], 0
        cmp     al, 0x2f
        test    rax, rax
        test    byte ptr [rdi], 1
        inc     ecx
        dec     qword ptr [rax]
        neg     rdx
        not     r9
        imul    rax, rbx
        imul    ecx, dword ptr [rsi], 0x64
        imul    rdx, r8, 7
        mul     rcx
        div     r10
        idiv    dword ptr [rsp + 4]
        shl     rax, 3
        shr     edx, cl
        sar     r11, 1
        rol     eax, 7
        shld    rax, rdx, 12
        bt      eax, 5
        bts     qword ptr [rdi], rax
        bsf     rcx, rdx
        popcnt  rax, qword ptr [rbx]
        tzcnt   ecx, edx
        lzcnt   rax, r8
        setne   al
        sete    byte ptr [rbx]
        cmovb   rax, rdx
        cmovge  ecx, dword ptr [rbp - 4]
        xchg    rax, qword ptr [rbx]
        lock xadd dword ptr [rdi], eax
        lock cmpxchg qword ptr [rsi], rcx
        bswap   rax
        cqo
        cdqe
        push    rbp
        push    r15
        push    0x12345
        pop     rbx
        pop     r12
        call    corpus
        call    qword ptr [rip + corpus]
        call    rax
        ret
        jmp     corpus
        jmp     qword ptr [rax * 8 + 0x400000]
        jne     corpus
        jle     corpus
        jrcxz   1f
1:      rep movsb
        rep stosq
        repne scasb
        movsq
        nop
        nop     dword ptr [rax + rax]
        nop     word ptr [rax + rax + 0]
        mov     rax, qword ptr fs:[0x28]
        mov     ecx, dword ptr gs:[rbx]
        mov     eax, dword ptr [ebx + 4]
        cpuid
        syscall
        leave
