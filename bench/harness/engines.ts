// The engines that run the whole-program benchmarks, and how each is started and checked.
//
// Every engine runs the same bench_main (bench/programs/*.s): the Linux engines the same static
// ELF file, Bochs a boot floppy linking the same object file behind a bare-metal start-up
// (bench/peers/bochs/boot.s). Each run's checksum (the exit status, or the two hex digits Bochs
// prints on port 0xE9) must equal the native run's, or the figure is not recorded.

import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BENCH_DIR, type ProgramBuild } from './programs.ts';
import { runProcess, type ProcessCommand, type ProcessRun } from './process.ts';

export const PROJECT_DIR = join(BENCH_DIR, '..');
const UNICORN_DRIVER = join(BENCH_DIR, 'peers', 'unicorn_run.py');
const PYTHON = '/usr/bin/python3';
const BOCHS_BIOS = '/usr/share/bochs/BIOS-bochs-latest';
const BOCHS_VGA_BIOS = '/usr/share/bochs/VGABIOS-lgpl-latest';

export interface Engine {
  name: string;
  /** What it is, with its version when known. */
  label: string;
  /** How guest memory is translated in this engine: the figures mean different things. */
  paging: string;
  /** Null when the engine can run here, else why not (one sentence). */
  problem(): string | null;
  command(build: ProgramBuild): ProcessCommand;
  /** The checksum the program computed, or null when the run did not end as it should. */
  checksum(run: ProcessRun): number | null;
  /** Only these programs (by name); all when absent. */
  programs?: readonly string[];
}

function exitStatus(run: ProcessRun): number | null {
  return run.error === undefined && run.signal === null ? run.status : null;
}

function firstLine(command: string, args: string[]): string | null {
  const r = runProcess({ command, args }, 10_000);
  if (r.status !== 0 && r.stdout === '' && r.stderr === '') return null;
  if (r.error !== undefined) return null;
  return `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? null;
}

export const native: Engine = {
  name: 'native',
  label: 'this machine\'s CPU (the reference, not an emulator)',
  paging: 'the host CPU\'s own MMU and TLB, under the host kernel',
  problem: () => (process.platform === 'linux' && process.arch === 'x64' ? null : 'the programs are x86-64 Linux executables'),
  command: (b) => ({ command: b.elf, args: [] }),
  checksum: exitStatus,
};

export const snpemu: Engine = {
  name: 'snpemu',
  label: `snpemu (node bin/snpemu.js run, Node ${process.version})`,
  paging: 'emulated 4-level walk and TLB (src/mmu) over page tables the emulated kernel builds',
  problem: () => (existsSync(join(PROJECT_DIR, 'bin', 'snpemu.js')) ? null : 'bin/snpemu.js is missing'),
  // 256 MiB of emulated RAM holds the 66 MiB mapping of the memory programs and its page tables
  // (the default 64 MiB does not); the instruction cap is lifted far above the longest run.
  command: (b) => ({
    command: process.execPath,
    args: [join(PROJECT_DIR, 'bin', 'snpemu.js'), 'run', '--memory', '256M', '--max-instructions', '1000000000000', b.elf],
    cwd: PROJECT_DIR,
  }),
  checksum: exitStatus,
};

/**
 * snpemu with SYSCFG.SNP_EN=0, on the memory programs only: side by side with `snpemu`, the cost
 * of the RMP checks (issue 4: at most 10% on TLB-hit-heavy runs) and the extra cost per walk.
 */
export const snpemuNoSnp: Engine = {
  ...snpemu,
  name: 'snpemu-nosnp',
  label: 'snpemu run --no-snp (SYSCFG.SNP_EN=0: no RMP checks)',
  programs: ['mem-4k', 'mem-2m'],
  command: (b) => {
    const cmd = snpemu.command(b);
    return { ...cmd, args: [...cmd.args.slice(0, -1), '--no-snp', b.elf] };
  },
};

let qemuVersion: string | null | undefined;
export const qemu: Engine = {
  name: 'qemu',
  get label() {
    qemuVersion ??= firstLine('qemu-x86_64', ['--version']);
    return `${qemuVersion ?? 'qemu-x86_64'} (user mode, TCG JIT)`;
  },
  paging: 'none: user-mode qemu maps guest addresses onto host addresses, so the host MMU does the work',
  problem: () => (firstLine('qemu-x86_64', ['--version']) === null ? 'qemu-x86_64 is not installed (apt-get install qemu-user)' : null),
  command: (b) => ({ command: 'qemu-x86_64', args: [b.elf] }),
  checksum: exitStatus,
};

let unicornVersion: string | null | undefined;
export const unicorn: Engine = {
  name: 'unicorn',
  get label() {
    unicornVersion ??= firstLine(PYTHON, ['-c', 'import unicorn; print(unicorn.__version__)']);
    return `unicorn ${unicornVersion ?? ''} via Python (bench/peers/unicorn_run.py), TCG JIT`.replace('  ', ' ');
  },
  paging: 'softmmu TLB over real 4-level page tables at CPL 3 (identity-mapped: see unicorn_run.py)',
  problem: () => {
    if (!existsSync(PYTHON)) return `${PYTHON} is missing (apt-get install python3-unicorn)`;
    const r = runProcess({ command: PYTHON, args: ['-c', 'import unicorn'] }, 10_000);
    return r.status === 0 ? null : 'the Python module unicorn is not installed (apt-get install python3-unicorn)';
  },
  command: (b) => ({ command: PYTHON, args: [UNICORN_DRIVER, b.elf] }),
  checksum: exitStatus,
};

/**
 * Bochs as Debian builds it: with its debugger compiled in (it stops at a prompt before the
 * first instruction, so "c" on stdin starts it) and without the "nogui" display library, so the
 * headless display is RFB with no wait for a client (it listens on a local TCP port while it runs).
 */
/** What Bochs prints when the boot image writes "Shutdown" to port 0x8900: the program is done. */
const BOCHS_DONE = /Shutdown port: shutdown requested/;

function bochsrc(build: ProgramBuild): string {
  return [
    `# Generated by bench/harness/engines.ts for ${build.spec.name} (${build.iterations} iterations).`,
    'megs: 256',
    `romimage: file=${BOCHS_BIOS}`,
    `vgaromimage: file=${BOCHS_VGA_BIOS}`,
    'cpu: model=corei7_sandy_bridge_2600k, count=1, reset_on_triple_fault=0',
    'clock: sync=none, time0=local',
    `floppya: 1_44=${build.floppy}, status=inserted`,
    'boot: floppy',
    'display_library: rfb, options="timeout=0"',
    'port_e9_hack: enabled=1',
    'plugin_ctrl: unmapped=1, speaker=0',
    'log: -',
    'panic: action=fatal',
    'error: action=report',
    'info: action=ignore',
    'debug: action=ignore',
    '',
  ].join('\n');
}

export const bochs: Engine = {
  name: 'bochs',
  label: 'Bochs 2.7 (Debian build, interpreter, debugger compiled in), long-mode boot image',
  paging: 'Bochs\'s TLB over 4-level identity page tables at CPL 3, built by the boot image',
  problem: () => {
    if (firstLine('bochs', ['--help']) === null) return 'bochs is not installed (apt-get install bochs bochsbios)';
    if (!existsSync(BOCHS_BIOS) || !existsSync(BOCHS_VGA_BIOS)) return 'the Bochs BIOS images are missing (apt-get install bochsbios vgabios)';
    return null;
  },
  command: (b) => {
    const rc = join(dirname(b.floppy), 'bochsrc');
    writeFileSync(rc, bochsrc(b));
    return { command: 'bochs', args: ['-q', '-f', rc], input: 'c\n', doneWhen: BOCHS_DONE, startedWhen: /<bochs:1>/ };
  },
  checksum: (run) => {
    // A clean end is Bochs's own "shutdown requested" panic after the checksum line.
    if (run.error !== undefined || !BOCHS_DONE.test(run.stdout + run.stderr)) return null;
    const m = /^([0-9a-f]{2})$/m.exec(run.stdout) ?? /^([0-9a-f]{2})$/m.exec(run.stderr);
    return m === null ? null : Number.parseInt(m[1], 16);
  },
};

/** In the order they take turns. */
export const ENGINES: readonly Engine[] = [snpemu, snpemuNoSnp, native, qemu, unicorn, bochs];
