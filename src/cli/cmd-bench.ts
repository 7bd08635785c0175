// `snpemu bench [ARGS]`: runs bench/run.ts (the entry of `npm run bench`) in a child Node process
// with tsx, passing ARGS through, and returns its exit status.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from './args.ts';

export async function commandBench(argv: string[]): Promise<number> {
  const entry = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));
  if (!existsSync(entry)) {
    throw new UsageError(`the benchmarks are not installed: ${entry} is missing (they ship with the source tree, not the npm package)`, 'bench');
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry, ...argv], { stdio: 'inherit' });
  if (r.error !== undefined) throw new UsageError(`could not start the benchmarks: ${r.error.message}`, 'bench');
  return r.status ?? 1;
}
