// Run one whole process and time it, wall clock, from spawn to exit.
//
// Every engine pays the same spawnSync overhead, and the harness subtracts a zero-iteration run
// of the same program anyway (whole-program.ts), so what is left is the loop.

import { spawn, spawnSync } from 'node:child_process';

export interface ProcessRun {
  /** Wall time in milliseconds. */
  ms: number;
  /** Exit status, or null when killed by a signal (then `signal` says which). */
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Set when the process could not be started or ran past its time limit. */
  error?: string;
  /** The `startedWhen` output never appeared (see ProcessCommand). */
  notStarted?: boolean;
}

export interface ProcessCommand {
  command: string;
  args: string[];
  /** Bytes for standard input (Bochs reads its debugger's "continue" from there). */
  input?: string;
  cwd?: string;
  /**
   * Output that means the program has finished (Bochs: its "shutdown requested" message). The
   * clock stops when it appears; the process then gets DONE_GRACE_MS to exit (and flush what it
   * buffered) before it is killed, so an emulator that is slow or stuck in its own exit path
   * neither counts against the program nor hangs the harness.
   */
  doneWhen?: RegExp;
  /**
   * Output that means the engine has started (Bochs: its debugger prompt). If it has not appeared
   * after START_TIMEOUT_MS the process is killed and the run reports `notStarted`, so the caller
   * can try again: now and then Bochs's start-up hangs before it runs anything.
   */
  startedWhen?: RegExp;
}

const START_TIMEOUT_MS = 20_000;

export function runProcess(cmd: ProcessCommand, timeoutMs: number): ProcessRun {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd.command, cmd.args, {
    input: cmd.input ?? '',
    cwd: cmd.cwd,
    timeout: timeoutMs,
    maxBuffer: 16 << 20,
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  let error: string | undefined;
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    error = code === 'ETIMEDOUT' ? `ran longer than ${timeoutMs / 1000} s and was stopped` : r.error.message;
  }
  return { ms, status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error };
}

/** The first line of stderr (or stdout) that says something, for a one-line reason. */
export function firstMessage(run: ProcessRun): string {
  const lines = `${run.stderr}\n${run.stdout}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const line = lines.find((l) => /error|not|cannot|unknown|unsupported|usage/i.test(l)) ?? lines[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

const DONE_GRACE_MS = 10_000;

/** Like runProcess, asynchronously, and honouring `doneWhen`. */
export function runProcessAsync(cmd: ProcessCommand, timeoutMs: number): Promise<ProcessRun> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const elapsed = (): number => Number(process.hrtime.bigint() - start) / 1e6;
    let stdout = '';
    let stderr = '';
    let doneAt: number | undefined;
    let error: string | undefined;
    let started = cmd.startedWhen === undefined;
    let notStarted = false;
    // Without input, standard input is /dev/null, so a program that reads it sees end of file.
    const child = spawn(cmd.command, cmd.args, { cwd: cmd.cwd, stdio: [cmd.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      error = `ran longer than ${timeoutMs / 1000} s and was stopped`;
      child.kill('SIGKILL');
    }, timeoutMs);
    const startTimer = started ? undefined : setTimeout(() => {
      notStarted = true;
      error = `did not start within ${START_TIMEOUT_MS / 1000} s and was stopped`;
      child.kill('SIGKILL');
    }, START_TIMEOUT_MS);
    const watch = (): void => {
      if (!started && cmd.startedWhen!.test(stdout + stderr)) {
        started = true;
        clearTimeout(startTimer);
      }
      if (doneAt === undefined && cmd.doneWhen !== undefined && cmd.doneWhen.test(stdout + stderr)) {
        doneAt = elapsed();
        clearTimeout(timer);
        setTimeout(() => child.kill('SIGKILL'), DONE_GRACE_MS).unref();
      }
    };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; watch(); });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; watch(); });
    // Standard input stays open until the process ends: Bochs's debugger writes its prompt to the
    // terminal side of fd 0 and dies of SIGPIPE if that end is already closed.
    child.stdin?.on('error', () => {}); // a program that exits before reading its input
    child.stdin?.write(cmd.input ?? '');
    child.on('error', (e) => { error ??= e.message; });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      clearTimeout(startTimer);
      child.stdin?.destroy();
      const finished = doneAt !== undefined;
      resolve({
        ms: doneAt ?? elapsed(),
        status: finished ? 0 : status,
        signal: finished ? null : signal,
        stdout,
        stderr,
        error: finished ? undefined : error,
        notStarted: notStarted || undefined,
      });
    });
  });
}
