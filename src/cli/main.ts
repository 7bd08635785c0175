// snpemu: the command-line entry point (bin/snpemu.js runs this through tsx).
//
// Every bad input (unknown option, missing file, malformed JSON, ELF or scenario, unsupported
// instruction) ends as one line on standard error naming the problem, and exit status 2; a stack
// trace appears only with --debug (issue 6, "Errors").

import { COMMAND_HELP, MAIN_HELP } from './help.ts';
import { UsageError } from './args.ts';
import { InputError } from '../scenario/errors.ts';
import { VERSION } from './version.ts';
import { cliState } from './common.ts';

type Command = (argv: string[]) => Promise<number>;

// Commands load on first use, so `--help` and `bench` do not compile the whole emulator first.
const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./cmd-run.ts')).commandRun,
  scenario: async () => (await import('./cmd-scenario.ts')).commandScenario,
  walk: async () => (await import('./cmd-walk.ts')).commandWalk,
  snippet: async () => (await import('./cmd-snippet.ts')).commandSnippet,
  bench: async () => (await import('./cmd-bench.ts')).commandBench,
  demo: async () => (await import('./cmd-demo.ts')).commandDemo,
};

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') {
    process.stdout.write(MAIN_HELP);
    return 0;
  }
  if (first === '--version') {
    process.stdout.write(`snpemu ${VERSION}\n`);
    return 0;
  }
  if (first === 'help') {
    const topic = rest.find((a) => !a.startsWith('-'));
    if (topic === undefined) {
      process.stdout.write(MAIN_HELP);
      return 0;
    }
    const text = COMMAND_HELP[topic];
    if (text === undefined) throw new UsageError(`no command "${topic}"; commands are ${Object.keys(COMMANDS).join(', ')}`);
    process.stdout.write(text);
    return 0;
  }
  const load = COMMANDS[first];
  if (load === undefined) {
    if (first.startsWith('-')) throw new UsageError(`unknown option ${first} (options come after the command)`);
    throw new UsageError(`unknown command "${first}"; commands are ${Object.keys(COMMANDS).join(', ')}`);
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    // For `run`, a --help after PROGRAM belongs to the program.
    const programAt = first === 'run' ? rest.findIndex((a) => !a.startsWith('-')) : -1;
    const helpAt = rest.findIndex((a) => a === '--help' || a === '-h');
    if (programAt < 0 || helpAt < programAt) {
      process.stdout.write(COMMAND_HELP[first]!);
      return 0;
    }
  }
  return (await load())(rest);
}

// A closed pipe (`snpemu ... | head`) ends the output quietly, as other command-line tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const argv = process.argv.slice(2);
const debug = argv.includes('--debug');
const cleanArgv = argv.filter((a) => a !== '--debug');
cliState.debug = debug;

try {
  const status = await main(cleanArgv);
  process.exitCode = status;
} catch (e) {
  if (e instanceof UsageError) {
    process.stderr.write(`snpemu: ${e.message}${e.command ? ` (see snpemu help ${e.command})` : ' (see snpemu --help)'}\n`);
    process.exitCode = 2;
  } else if (e instanceof InputError) {
    process.stderr.write(`snpemu: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`snpemu: internal error: ${message}${debug ? '' : ' (run with --debug for the stack trace)'}\n`);
    if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 3;
  }
  if (debug && (e instanceof UsageError || e instanceof InputError) && e.stack) process.stderr.write(`${e.stack}\n`);
}
