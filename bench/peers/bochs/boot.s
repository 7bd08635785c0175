# Bare-metal twin of bench/programs/start-linux.s, for Bochs (GNU as, Intel syntax).
#
# A floppy boot sector that loads the rest of the image, enters long mode with identity paging,
# drops to CPL 3 and calls the same `bench_main` the Linux programs call:
#   real mode (BIOS, 0x7c00) -> load sectors 2..18 to 0x7e00 -> A20 on -> protected mode
#   -> build 4-level identity page tables for the low 192 MiB -> CR4.PAE, CR3, EFER.LME, CR0.PG
#   -> 64-bit code at CPL 0 -> IRETQ to CPL 3 with IOPL = 3 -> bench_main(rdi = 64 MiB)
#   -> checksum to the port 0xE9 console as two hex digits -> "Shutdown" to port 0x8900.
# (AMD APM Vol.2 §14.6 "Initializing long mode" gives the order of the mode switch.)
#
# --defsym HUGE=1 maps everything with 2 MiB pages (PS in the PDE), otherwise 4 KiB pages.
# The region given to bench_main is 64 MiB at physical 64 MiB, zeroed by Bochs at power-on,
# like the Linux programs' anonymous mapping. IOPL = 3 lets CPL 3 reach the two I/O ports
# (AMD APM Vol.2 §13.2.1); nothing else here needs the kernel again.

        .intel_syntax noprefix
        .ifndef HUGE
        .set HUGE, 0
        .endif

        .set STAGE2, 0x7e00
        .set STAGE2_SECTORS, 17          # the rest of track 0, head 0 (sectors 2..18)
        .set PML4, 0x100000              # paging structures from 1 MiB up
        .set PDPT, PML4 + 0x1000
        .set PD, PML4 + 0x2000
        .set PT, PML4 + 0x3000           # 4 KiB pages only: 96 page tables
        .set MAPPED_2M, 96               # 96 x 2 MiB = 192 MiB identity-mapped
        .set REGION, 64 << 20
        # The user stack must not share a 4 KiB page with code: Bochs drops its decoded-trace
        # cache for a page on every write to it, which made the call loop 100x slower when the
        # stack top sat in the page holding the end of stage 2.
        .set USER_STACK_TOP, 0x70000     # conventional memory, pages below the boot sector

        .set SEL_CODE32, 0x08
        .set SEL_DATA, 0x10
        .set SEL_CODE64, 0x18
        .set SEL_USER_DATA, 0x20 | 3
        .set SEL_USER_CODE64, 0x28 | 3

# ---- Boot sector: 16-bit real mode -------------------------------------------------------
        .section .boot, "ax"
        .code16
boot:
        cli
        xor     ax, ax
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     sp, 0x7c00
        mov     ax, 0x0200 + STAGE2_SECTORS   # INT 13h AH=02h: read AL sectors
        mov     cx, 0x0002                    # cylinder 0, sector 2
        xor     dh, dh                        # head 0; DL = boot drive from the BIOS
        mov     bx, STAGE2                    # ES:BX = destination
        int     0x13
        jc      boot_failed
        in      al, 0x92                      # fast A20 gate (system control port A)
        or      al, 2
        and     al, 0xfe                      # bit 0 would reset the machine
        out     0x92, al
        lgdt    [gdt_descriptor]
        mov     eax, cr0
        or      eax, 1                        # CR0.PE
        mov     cr0, eax
        ljmp    SEL_CODE32, protected_mode
boot_failed:
        hlt
        jmp     boot_failed

        .p2align 3
gdt:    .quad   0
        .quad   0x00cf9a000000ffff            # 0x08: 32-bit code, DPL 0
        .quad   0x00cf92000000ffff            # 0x10: data, DPL 0
        .quad   0x00af9a000000ffff            # 0x18: 64-bit code (L=1), DPL 0
        .quad   0x00cff2000000ffff            # 0x20: data, DPL 3
        .quad   0x00affa000000ffff            # 0x28: 64-bit code (L=1), DPL 3
gdt_end:
gdt_descriptor:
        .word   gdt_end - gdt - 1
        .long   gdt

        .org    510
        .word   0xaa55                        # boot signature

# ---- Stage 2: 32-bit protected mode, then long mode --------------------------------------
        .section .stage2, "ax"
        .code32
protected_mode:
        mov     ax, SEL_DATA
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     esp, 0x7c00
        cld
        mov     edi, PML4                     # zero PML4, PDPT, PD (and the PTs)
        xor     eax, eax
        .if HUGE
        mov     ecx, 3 * 1024
        .else
        mov     ecx, (3 + MAPPED_2M) * 1024
        .endif
        rep stosd
        # Every level user + writable + present (0x7), so CPL 3 may use every page.
        mov     dword ptr [PML4], PDPT | 7
        mov     dword ptr [PDPT], PD | 7
        mov     edi, PD
        .if HUGE
        mov     eax, 0x87                     # PDE with PS: a 2 MiB page at 0
        mov     ecx, MAPPED_2M
1:      mov     [edi], eax
        add     eax, 0x200000
        add     edi, 8
        dec     ecx
        jnz     1b
        .else
        mov     eax, PT | 7                   # PDEs point at consecutive page tables
        mov     ecx, MAPPED_2M
1:      mov     [edi], eax
        add     eax, 0x1000
        add     edi, 8
        dec     ecx
        jnz     1b
        mov     edi, PT
        mov     eax, 7                        # PTEs: 4 KiB pages at 0, 4 KiB, ...
        mov     ecx, MAPPED_2M * 512
2:      mov     [edi], eax
        add     eax, 0x1000
        add     edi, 8
        dec     ecx
        jnz     2b
        .endif
        mov     eax, cr4
        or      eax, 1 << 5                   # CR4.PAE
        mov     cr4, eax
        mov     eax, PML4
        mov     cr3, eax
        mov     ecx, 0xc0000080               # EFER.LME
        rdmsr
        or      eax, 1 << 8
        wrmsr
        mov     eax, cr0
        or      eax, (1 << 31) | (1 << 16)    # CR0.PG, CR0.WP
        mov     cr0, eax
        ljmp    SEL_CODE64, long_mode

        .code64
long_mode:
        push    SEL_USER_DATA                 # IRETQ frame: SS, RSP, RFLAGS, CS, RIP
        push    USER_STACK_TOP
        push    0x3002                        # IOPL = 3, IF = 0
        push    SEL_USER_CODE64
        lea     rax, [rip + user_mode]
        push    rax
        iretq

user_mode:
        mov     edi, REGION
        call    bench_main
        mov     ebx, eax                      # checksum byte, printed as two hex digits
        mov     edx, 0xe9
        mov     eax, ebx
        shr     eax, 4
        call    put_hex_digit
        mov     eax, ebx
        call    put_hex_digit
        mov     al, '\n'
        out     dx, al
        mov     edx, 0x8900                   # Bochs's shutdown port: the word "Shutdown"
        lea     rsi, [rip + shutdown_word]
        mov     ecx, 8
        rep outsb
        jmp     .                             # not reached: Bochs has quit

put_hex_digit:
        and     eax, 15
        cmp     eax, 10
        jb      3f
        add     eax, 'a' - '0' - 10
3:      add     eax, '0'
        out     dx, al
        ret

shutdown_word:
        .ascii  "Shutdown"
