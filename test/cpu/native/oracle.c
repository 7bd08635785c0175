/*
 * Native oracle for register-only snippets (test/cpu/native-flags.test.ts).
 * stdin: one case per line: "<hex code> <16 register values in hex> <rflags in hex>"
 * stdout: one line per case: "<16 register values> <rflags & 0xcd5>", or "SIGNAL <n>" when the
 * snippet raised a signal (#DE -> SIGFPE, #UD -> SIGILL, ...).
 * RSP (register 4) is not loaded: the snippet runs on this program's stack and must not use it.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

uint64_t oracle_regs[17];
void *oracle_code;
extern void oracle_run(void);

__asm__(
  ".text\n"
  ".globl oracle_run\n"
  "oracle_run:\n"
  "  push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
  "  pushq oracle_regs+128(%rip); popfq\n"
  "  mov oracle_regs+0(%rip), %rax\n"
  "  mov oracle_regs+8(%rip), %rcx\n"
  "  mov oracle_regs+16(%rip), %rdx\n"
  "  mov oracle_regs+24(%rip), %rbx\n"
  "  mov oracle_regs+40(%rip), %rbp\n"
  "  mov oracle_regs+48(%rip), %rsi\n"
  "  mov oracle_regs+56(%rip), %rdi\n"
  "  mov oracle_regs+64(%rip), %r8\n"
  "  mov oracle_regs+72(%rip), %r9\n"
  "  mov oracle_regs+80(%rip), %r10\n"
  "  mov oracle_regs+88(%rip), %r11\n"
  "  mov oracle_regs+96(%rip), %r12\n"
  "  mov oracle_regs+104(%rip), %r13\n"
  "  mov oracle_regs+112(%rip), %r14\n"
  "  mov oracle_regs+120(%rip), %r15\n"
  "  call *oracle_code(%rip)\n"
  "  pushfq; popq oracle_regs+128(%rip); cld\n"
  "  mov %rax, oracle_regs+0(%rip)\n"
  "  mov %rcx, oracle_regs+8(%rip)\n"
  "  mov %rdx, oracle_regs+16(%rip)\n"
  "  mov %rbx, oracle_regs+24(%rip)\n"
  "  mov %rbp, oracle_regs+40(%rip)\n"
  "  mov %rsi, oracle_regs+48(%rip)\n"
  "  mov %rdi, oracle_regs+56(%rip)\n"
  "  mov %r8, oracle_regs+64(%rip)\n"
  "  mov %r9, oracle_regs+72(%rip)\n"
  "  mov %r10, oracle_regs+80(%rip)\n"
  "  mov %r11, oracle_regs+88(%rip)\n"
  "  mov %r12, oracle_regs+96(%rip)\n"
  "  mov %r13, oracle_regs+104(%rip)\n"
  "  mov %r14, oracle_regs+112(%rip)\n"
  "  mov %r15, oracle_regs+120(%rip)\n"
  "  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
  "  ret\n");

static sigjmp_buf env;
static void on_signal(int sig) { siglongjmp(env, sig); }

int main(void) {
  unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) { perror("mmap"); return 1; }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGTRAP, &sa, NULL);
  char line[8192];
  while (fgets(line, sizeof line, stdin)) {
    char *tok = strtok(line, " \n");
    if (!tok) continue;
    size_t n = strlen(tok) / 2;
    for (size_t i = 0; i < n; i++) { unsigned v; sscanf(tok + 2 * i, "%2x", &v); page[i] = (unsigned char)v; }
    page[n] = 0xc3; /* ret */
    for (int i = 0; i < 17; i++) { tok = strtok(NULL, " \n"); oracle_regs[i] = strtoull(tok, NULL, 16); }
    oracle_code = page;
    int sig = sigsetjmp(env, 1);
    if (sig == 0) {
      oracle_run();
      for (int i = 0; i < 16; i++) printf("%016llx ", (unsigned long long)oracle_regs[i]);
      printf("%03llx\n", (unsigned long long)(oracle_regs[16] & 0xcd5));
    } else {
      printf("SIGNAL %d\n", sig);
    }
    fflush(stdout);
  }
  return 0;
}
