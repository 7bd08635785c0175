/*
 * native-runner: run snippet cases on this machine's own CPU and print each final state in the
 * output format of spec/snippet.md, so that snpemu's `snippet --batch` and real hardware can be
 * compared field by field (docs/testing.md).
 *
 * Built at test time by test/diff/native.ts with the system cc. Not part of the shipped package.
 *
 * Input, one case per line (produced by native.ts; simpler than JSON on purpose):
 *     ID CODEHEX RFLAGS RAX RCX RDX RBX RSP RBP RSI RDI R8 .. R15 MEMHEX
 * all numbers in hex without 0x; CODEHEX and MEMHEX may be "-" for empty.
 * Output, one JSON line per case, in input order (spec/snippet.md "Output"), with "id" = ID.
 *
 * How a case runs:
 *   - CODE page at 0x100000 (read+execute) holds the snippet, followed by one INT3 (0xCC). DATA page
 *     at 0x200000 (read+write, not executable) holds MEM, zero-filled. Nothing else is mapped near
 *     them (0x100000 and 0x200000 are far below this PIE binary, its heap and its libraries).
 *   - A trampoline loads RFLAGS and all 16 GPRs (RSP last) from `snippet_state`, then jumps to
 *     0x100000 through a memory-indirect JMP, so no register is borrowed.
 *   - Every way out is a signal. The INT3 after the snippet raises SIGTRAP with RIP = end + 1:
 *     normal completion. A fault raises SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGTRAP; the kernel saves the
 *     state at the faulting instruction (as the CPU delivered it) in the ucontext, with the vector in
 *     REG_TRAPNO, the error code in REG_ERR and CR2 in REG_CR2 (arch/x86/mm/fault.c,
 *     set_signal_archinfo). The handler copies that state and siglongjmps back.
 *   - Signal frames go to an alternate stack (SA_ONSTACK), never to the snippet's RSP, which points
 *     into the DATA page: the page is compared byte for byte afterwards.
 *   - A per-case ITIMER_VIRTUAL (SIGVTALRM, user CPU time, so a loaded machine does not trip it)
 *     turns a runaway snippet into an error line: never a hang.
 *
 * Linux-specific mapping of the exception report (see docs/testing.md):
 *   - #PF: the kernel ORs X86_PF_USER into the error code (the hardware sets it anyway at CPL 3) and,
 *     for addresses at or above TASK_SIZE_MAX, X86_PF_PROT. Generated cases never touch the upper
 *     half, so REG_ERR is the hardware error code.
 *   - #GP, #SS, #UD, #DE: REG_TRAPNO is the hardware vector, REG_ERR the hardware error code.
 *     (#SS arrives as SIGBUS, #GP as SIGSEGV, #UD as SIGILL, #DE as SIGFPE.)
 *   - #BP (the snippet's own INT3): a trap, RIP is reported after the INT3, as hardware pushes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_ADDR 0x100000UL
#define DATA_ADDR 0x200000UL
#define PAGE_BYTES 4096
#define FLAGS_REPORTED 0xCD5UL /* CF PF AF ZF SF DF OF */
#define TIMEOUT_USEC 200000 /* of user CPU time */

/* Laid out for the trampoline below: gpr[0..15] at 0..120, rflags at 128, entry at 136. */
struct snippet_state {
  uint64_t gpr[16];
  uint64_t rflags;
  uint64_t entry;
};
struct snippet_state snippet_state;

void enter_snippet(void);
__asm__(
    ".text\n"
    ".globl enter_snippet\n"
    "enter_snippet:\n"
    "  leaq snippet_state(%rip), %rax\n"
    "  pushq 128(%rax)\n"
    "  popfq\n" /* MOVs below leave RFLAGS alone */
    "  movq 8(%rax), %rcx\n"
    "  movq 16(%rax), %rdx\n"
    "  movq 24(%rax), %rbx\n"
    "  movq 40(%rax), %rbp\n"
    "  movq 48(%rax), %rsi\n"
    "  movq 56(%rax), %rdi\n"
    "  movq 64(%rax), %r8\n"
    "  movq 72(%rax), %r9\n"
    "  movq 80(%rax), %r10\n"
    "  movq 88(%rax), %r11\n"
    "  movq 96(%rax), %r12\n"
    "  movq 104(%rax), %r13\n"
    "  movq 112(%rax), %r14\n"
    "  movq 120(%rax), %r15\n"
    "  movq 32(%rax), %rsp\n"
    "  movq 0(%rax), %rax\n"
    "  jmp *snippet_state+136(%rip)\n");

static sigjmp_buf back_to_harness;
static volatile sig_atomic_t captured_signal;
static greg_t captured_gregs[NGREG];

static void on_signal(int sig, siginfo_t *info, void *context) {
  (void)info;
  ucontext_t *uc = (ucontext_t *)context;
  captured_signal = sig;
  memcpy(captured_gregs, uc->uc_mcontext.gregs, sizeof captured_gregs);
  siglongjmp(back_to_harness, 1);
}

static void die(const char *what) {
  fprintf(stderr, "native-runner: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void install_handlers(void) {
  static uint8_t alt_stack[1 << 16];
  stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) die("sigaltstack");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGVTALRM};
  for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
    if (sigaction(signals[i], &sa, NULL) != 0) die("sigaction");
  }
}

static uint8_t *map_page(unsigned long addr, int prot) {
  void *p = mmap((void *)addr, PAGE_BYTES, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED || p != (void *)addr) die("mmap of a snippet page (is something already mapped there?)");
  return (uint8_t *)p;
}

static int hex_nibble(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decode a hex token into out (at most max bytes); "-" is empty. Returns the length or -1. */
static long decode_hex(const char *tok, uint8_t *out, long max) {
  if (strcmp(tok, "-") == 0) return 0;
  size_t n = strlen(tok);
  if (n % 2 != 0 || (long)(n / 2) > max) return -1;
  for (size_t i = 0; i < n; i += 2) {
    int hi = hex_nibble(tok[i]), lo = hex_nibble(tok[i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  return (long)(n / 2);
}

static int parse_u64(const char *tok, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(tok, &end, 16);
  if (errno != 0 || *end != '\0' || end == tok) return -1;
  *out = v;
  return 0;
}

/* The ucontext greg index of each GPR in architectural order (rax rcx rdx rbx rsp rbp rsi rdi r8..r15). */
static const int GREG_OF[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
static const char *const GPR_NAMES[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
static const char *const VECTOR_NAMES[32] = {
    [0] = "DE", [1] = "DB", [3] = "BP", [4] = "OF", [5] = "BR", [6] = "UD", [7] = "NM", [8] = "DF",
    [10] = "TS", [11] = "NP", [12] = "SS", [13] = "GP", [14] = "PF", [16] = "MF", [17] = "AC",
    [18] = "MC", [19] = "XM"};

/* Vectors that push an error code (AMD APM Vol.2 §8.2, Table 8-1). */
static int has_error_code(unsigned vector) {
  return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17;
}

static void print_error(const char *id, const char *message) {
  printf("{\"id\":\"%s\",\"error\":\"%s\"}\n", id, message);
}

static void print_state(const char *id, const uint8_t *data, uint64_t rip, int vector, uint64_t error_code,
                        uint64_t addr) {
  static const char HEX[] = "0123456789abcdef";
  static char mem_hex[PAGE_BYTES * 2 + 1];
  printf("{\"id\":\"%s\",\"regs\":{", id);
  for (int i = 0; i < 16; i++) {
    printf("%s\"%s\":\"0x%016llx\"", i ? "," : "", GPR_NAMES[i], (unsigned long long)captured_gregs[GREG_OF[i]]);
  }
  uint64_t flags = ((uint64_t)captured_gregs[REG_EFL] & FLAGS_REPORTED) | 2;
  printf("},\"rip\":\"0x%016llx\",\"rflags\":\"0x%016llx\",\"mem\":\"", (unsigned long long)rip,
         (unsigned long long)flags);
  for (int i = 0; i < PAGE_BYTES; i++) {
    mem_hex[2 * i] = HEX[data[i] >> 4];
    mem_hex[2 * i + 1] = HEX[data[i] & 15];
  }
  mem_hex[PAGE_BYTES * 2] = 0;
  fputs(mem_hex, stdout);
  if (vector < 0) {
    fputs("\",\"exception\":null}\n", stdout);
  } else {
    const char *name = vector < 32 && VECTOR_NAMES[vector] ? VECTOR_NAMES[vector] : "??";
    printf("\",\"exception\":{\"vector\":%d,\"name\":\"%s\",\"error_code\":%llu,\"addr\":\"0x%016llx\"}}\n", vector,
           name, (unsigned long long)error_code, (unsigned long long)addr);
  }
}

static void set_timer(long usec) {
  struct itimerval t = {{0, 0}, {usec / 1000000, usec % 1000000}};
  setitimer(ITIMER_VIRTUAL, &t, NULL);
}

int main(void) {
  install_handlers();
  uint8_t *code = map_page(CODE_ADDR, PROT_READ | PROT_EXEC);
  uint8_t *data = map_page(DATA_ADDR, PROT_READ | PROT_WRITE);
  static uint8_t code_bytes[PAGE_BYTES];
  static uint8_t mem_bytes[PAGE_BYTES];
  snippet_state.entry = CODE_ADDR;

  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  while ((got = getline(&line, &cap, stdin)) > 0) {
    if (line[got - 1] == '\n') line[--got] = 0;
    if (got == 0) continue;
    char *tokens[20];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(line, " ", &save); t && n < 20; t = strtok_r(NULL, " ", &save)) {
      tokens[n++] = t;
    }
    const char *volatile id = n > 0 ? tokens[0] : "?";
    if (n != 20) { print_error(id, "native-runner: expected 20 fields"); continue; }
    volatile long code_len = decode_hex(tokens[1], code_bytes, PAGE_BYTES);
    long mem_len = decode_hex(tokens[19], mem_bytes, PAGE_BYTES);
    uint64_t rflags;
    int bad = code_len < 0 || mem_len < 0 || parse_u64(tokens[2], &rflags) != 0;
    for (int i = 0; i < 16 && !bad; i++) bad = parse_u64(tokens[3 + i], &snippet_state.gpr[i]) != 0;
    if (bad) { print_error(id, "native-runner: bad hex field"); continue; }
    snippet_state.rflags = (rflags & FLAGS_REPORTED) | 2;

    if (mprotect(code, PAGE_BYTES, PROT_READ | PROT_WRITE) != 0) die("mprotect RW");
    memset(code, 0, PAGE_BYTES);
    memcpy(code, code_bytes, (size_t)code_len);
    if (code_len < PAGE_BYTES) code[code_len] = 0xCC; /* the capture INT3 */
    if (mprotect(code, PAGE_BYTES, PROT_READ | PROT_EXEC) != 0) die("mprotect RX");
    memset(data, 0, PAGE_BYTES);
    memcpy(data, mem_bytes, (size_t)mem_len);

    uint64_t end = CODE_ADDR + (uint64_t)code_len;
    fflush(stdout);
    if (sigsetjmp(back_to_harness, 1) == 0) {
      set_timer(TIMEOUT_USEC);
      enter_snippet();
    }
    set_timer(0);

    int sig = captured_signal;
    uint64_t rip = (uint64_t)captured_gregs[REG_RIP];
    unsigned trapno = (unsigned)captured_gregs[REG_TRAPNO];
    uint64_t err = (uint64_t)captured_gregs[REG_ERR];
    uint64_t cr2 = (uint64_t)captured_gregs[REG_CR2];
    if (sig == SIGVTALRM) {
      print_error(id, "native-runner: timeout (the snippet did not finish)");
    } else if (sig == SIGTRAP && trapno == 3 && rip == end + 1) {
      print_state(id, data, end, -1, 0, 0); /* reached the capture INT3 */
    } else if (code_len == PAGE_BYTES && sig == SIGSEGV && trapno == 14 && rip == end && cr2 == end) {
      print_state(id, data, end, -1, 0, 0); /* a full page of code: the fetch past its end */
    } else {
      print_state(id, data, rip, (int)trapno, has_error_code(trapno) ? err : 0, trapno == 14 ? cr2 : 0);
    }
  }
  free(line);
  return 0;
}
