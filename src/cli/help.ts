// Help texts: `snpemu --help`, `snpemu help COMMAND`, `snpemu COMMAND --help`.

const TRACE_HELP = `Tracing (in the spirit of qemu -d; off by default, and free when off):
  --trace KINDS        comma-separated list of:
                         insn    each instruction: address, bytes, disassembly, changed registers
                         mmu     each page walk (levels, entries, final address), TLB hits and
                                 misses, A/D-bit writes
                         rmp     each RMP check: address, access, page size, result and why
                         fault   one line per exception: vector, error code, CR2, RIP (like -d int)
                         kernel  each decision of the emulated kernel's fault handler
                         all     all of the above
  --trace-file PATH    write traces to PATH instead of standard error
  --json               JSON Lines: results (and traces) one JSON object per line`;

export const MAIN_HELP = `snpemu: an x86-64 emulator that models AMD SEV-SNP's Reverse Map Table (RMP) and the Linux
host kernel's handling of RMP page faults (the v7 SNP host patch, and mainline).

Usage: snpemu COMMAND [options]

Commands:
  run PROGRAM [ARGS]      run a static x86-64 Linux ELF under the emulated kernel
                          (.s/.asm files are assembled with the system assembler first)
  run --raw FILE --at A   run raw machine code loaded at address A
  scenario FILE...        run scenario files (docs/scenarios.md) and check their expectations
  walk FILE ADDRESS       show the page walk and RMP check of one address in a scenario's machine
  snippet --batch         the snippet runner: JSON Lines cases on stdin, final states on stdout
  bench [ARGS]            run the benchmarks (the same as npm run bench)
  demo                    retell the story: a THP, a guest page and the v7 handler (npm start)
  help [COMMAND]          this text, or the help of one command

Options for every command:
  -h, --help              help of the command
  --debug                 show a stack trace on internal errors
  --version               print the version

Exit status: 0 success, 1 a scenario's expectations did not hold, 2 bad input (unknown option,
missing file, malformed JSON, ELF or scenario, unsupported instruction), 3 internal error.
\`snpemu run\` exits with the program's status, or 128+signal number when a signal killed it.

Examples:
  snpemu demo
  snpemu scenario scenarios/*.json
  snpemu scenario --trace fault,kernel scenarios/01-thp-shared-page-v7.json
  snpemu walk scenarios/01-thp-shared-page-v7.json buf+0x80010 --access write
  snpemu run ./hello
  snpemu run --trace insn --raw code.bin --at 0x400000
`;

export const COMMAND_HELP: Record<string, string> = {
  run: `Usage: snpemu run [options] PROGRAM [ARGS...]
       snpemu run [options] --raw FILE --at ADDRESS

Runs a static x86-64 Linux program (ELF64 ET_EXEC or static-PIE) as a user process (CPL 3) of the
emulated Linux host. write() to fds 1 and 2 goes to standard output and error; read() from fd 0
reads standard input. The exit status is the program's, or 128+signal number when a signal
(SIGSEGV, SIGBUS, ...) ends it, as a shell reports it; 1 when the kernel livelocks or oopses or
the instruction budget runs out; 2 for bad input, including an instruction outside the subset
snpemu emulates.

PROGRAM may be:
  an ELF file          built e.g. with gcc -static -nostdlib, or nasm + ld
  FILE.s               assembled with GNU as (AT&T syntax unless the file says .intel_syntax)
                       and linked with ld; needs binutils
  FILE.asm             assembled with nasm -f elf64 and linked with ld; needs nasm

Options:
  --raw FILE           load FILE's bytes as code instead of an ELF ...
  --at ADDRESS         ... at this virtual address (page-aligned is not required); the process
                       gets a Linux stack below 0x7ffffffff000 and starts at ADDRESS
  --kernel POLICY      v7 (default) or mainline: the RMP fault handling policy
  --memory SIZE        RAM size, e.g. 64M (default), 1G
  --no-snp             run with SYSCFG.SNP_EN=0 (no RMP checks)
  --max-instructions N stop after N instructions (default 1000000000, about ten seconds)

${TRACE_HELP}
`,
  scenario: `Usage: snpemu scenario [options] FILE...

Runs scenario files (format 1, docs/scenarios.md): each sets up a machine, runs code on it under
a kernel policy (v7, mainline, or none for bare hardware) and says what must happen. Every file is
loaded and validated first; if any is malformed, its error is printed and nothing runs. A file with
a \`guest\` section (an SNP guest under the hypervisor model, docs/guest.md) runs through the guest
runner; its result lists #VMEXITs, guest exceptions and hypervisor decisions instead.

Output: a readable report per scenario (PASS/FAIL, the outcome, each fault and each kernel decision
with a sentence saying why), or with --json one JSON object per scenario (JSON Lines):
  { name, outcome, faults, kernel, regs, stdout, stats, expect: { passed, mismatches } }

Exit status: 0 every expectation held, 1 some did not, 2 an input error (nothing ran).

${TRACE_HELP}
`,
  walk: `Usage: snpemu walk [options] FILE ADDRESS

Builds FILE's machine (a scenario: its memory, RMP, page tables or process regions), then shows the
page walk of ADDRESS level by level (entry address, value, decoded flags), the final physical
address and page size, and the RMP check of the final stage with its result: what an access there
would do, without doing it (no A/D writes, no TLB fill).

ADDRESS is a number (0x40080010) or a region symbol (buf+0x80010).

Options:
  --access KIND        read, write (default) or fetch
  --cpl N              privilege of the access: 3 (default for process scenarios) or 0
  --after-run          run the scenario first and walk in the final state (e.g. after a split)
  --json               print the walk trace as one JSON object
`,
  snippet: `Usage: snpemu snippet --batch [--step-limit N]

The snippet runner (spec/snippet.md): reads JSON Lines cases on standard input, each
  {"id":"c1","code":"4801d8","regs":{"rax":"0x1"},"rflags":"0x2","mem":"00ff..."}
runs each at CPL 3 on a fixed machine (code at 0x100000, data/stack page at 0x200000) and prints
one JSON line per case with all registers, RIP, RFLAGS, the data page and any exception.

Options:
  --batch              required: read cases from standard input
  --step-limit N       instructions per case before it ends with an error line (default 4096)
`,
  bench: `Usage: snpemu bench [ARGS...]

Runs the benchmarks (bench/run.ts, the same as npm run bench): instruction throughput, page walks
and TLB hits, RMP overhead, and comparisons with qemu-user, unicorn and Bochs where installed.
ARGS are passed to bench/run.ts; Results go to bench/results.json, bench/RESULTS.md and the SVG
charts in bench/. Its options:
  --quick              short loops and few samples (about two minutes)
  --only NAME          one section or one whole program (repeatable)
  --samples N          turns per whole program (default 5, quick 3)
  --report             measure nothing: regenerate RESULTS.md and the charts from bench/results.json
It works from any directory: tsx and bench/ are taken from the snpemu package.
`,
  demo: `Usage: snpemu demo [--json] [--verbose]

Retells the story of the v7 SNP host patch in a few scenarios, each under v7 and mainline:
  - a write to a shared page of a THP whose 2M region holds one guest page (split, then success)
  - a write to the guest page itself (SIGBUS)
  - the same under a 1G hugetlb mapping (livelock: the PUD path never splits)
  - a race: the page is munmapped between the RMP #PF and the handler (the UNMAP path)
  - an HV-Fixed page, with and without the hostChecksImmutable quirk
then prints one table row per story and kernel (outcome and a short why), the paths of the
scenario files to edit, and the commands to try next. It runs in well under a second.

Options:
  --json               one JSON result per scenario instead of the table
  --verbose            under each row, the full sentences: the fault, events, decisions, the point
`,
  help: `Usage: snpemu help [COMMAND]

Prints the overview, or the help of COMMAND (run, scenario, walk, snippet, bench, demo).
`,
};
