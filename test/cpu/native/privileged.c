/* Runs instruction bytes natively at CPL 3 and reports how they end, for test/cpu/privileged.test.ts.
 * Input: one hex string per line. Each snippet runs with RDI = RSI = a 64-byte buffer (filled with
 * 0xaa) and RAX = 0x1122334455667788, followed by RET. Output per line: "ok RAX BUF" (BUF = the buffer's first 16 bytes in
 * hex) or "sig SIGNO TRAPNO ERR" from the signal's ucontext (REG_TRAPNO, REG_ERR). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

static sigjmp_buf jump;
static long got_sig, trapno, err;

static void on_signal(int s, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  (void)si;
  got_sig = s;
  trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
  err = uc->uc_mcontext.gregs[REG_ERR];
  siglongjmp(jump, 1);
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  int sigs[] = {SIGSEGV, SIGILL, SIGTRAP, SIGBUS, SIGFPE};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, 0);
  unsigned char *code = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  static unsigned char buf[64];
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    int n = 0, used;
    unsigned v;
    for (char *q = line; sscanf(q, "%2x%n", &v, &used) == 1; q += used) code[n++] = (unsigned char)v;
    code[n] = 0xc3;
    memset(buf, 0xaa, sizeof buf);
    if (!sigsetjmp(jump, 1)) {
      unsigned long rax = 0x1122334455667788UL;
      __asm__ volatile("call *%1" : "+a"(rax) : "r"(code), "D"(buf), "S"(buf)
                       : "rcx", "rdx", "r8", "r9", "r10", "r11", "memory", "cc");
      printf("ok %lx ", rax);
      for (int i = 0; i < 16; i++) printf("%02x", buf[i]);
      printf("\n");
    } else {
      printf("sig %ld %ld %lx\n", got_sig, trapno, err);
    }
    fflush(stdout);
  }
  return 0;
}
