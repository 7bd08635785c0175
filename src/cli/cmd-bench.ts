// `snpemu bench [ARGS]`: runs bench/run.ts (the entry of `npm run bench`) in a child Node process
// with tsx, passing ARGS through, and returns its exit status.
//
// tsx and bench/run.ts are resolved from this package, not from the caller's directory, and the
// child runs in the package root: `cd /tmp && npx --prefix /path/to/snpemu snpemu bench` works.
// The options are checked here first, so a typo gets the usual one-line "snpemu: ..." message.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { optionValue, parseArgs, UsageError } from './args.ts';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The options bench/run.ts understands (see its USAGE). */
const BENCH_OPTIONS = {
  quick: { value: false }, report: { value: false }, only: { value: true, repeat: true }, samples: { value: true },
} as const;

/** The file URL of tsx's ESM loader, as installed with this package (for `node --import`). */
function tsxLoaderUrl(): string {
  try {
    return pathToFileURL(createRequire(`${PACKAGE_ROOT}package.json`).resolve('tsx')).href;
  } catch {
    throw new UsageError(`the benchmarks need tsx, which is not installed in ${PACKAGE_ROOT} (run npm ci there)`, 'bench');
  }
}

export async function commandBench(argv: string[]): Promise<number> {
  const p = parseArgs(argv, BENCH_OPTIONS, 'bench');
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0]}"`, 'bench');
  const samples = optionValue(p, 'samples');
  if (samples !== undefined && !/^[1-9][0-9]*$/.test(samples)) {
    throw new UsageError(`--samples needs a positive integer, got "${samples}"`, 'bench');
  }
  const entry = fileURLToPath(new URL('bench/run.ts', pathToFileURL(PACKAGE_ROOT)));
  if (!existsSync(entry)) {
    throw new UsageError(`the benchmarks are not installed: ${entry} is missing (they ship with the source tree, not the npm package)`, 'bench');
  }
  const r = spawnSync(process.execPath, ['--import', tsxLoaderUrl(), entry, ...argv], { stdio: 'inherit', cwd: PACKAGE_ROOT });
  if (r.error !== undefined) throw new UsageError(`could not start the benchmarks: ${r.error.message}`, 'bench');
  return r.status ?? 1;
}
