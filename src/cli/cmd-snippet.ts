// `snpemu snippet --batch` (spec/snippet.md): JSON Lines cases on stdin, one result line per case.

import { flag, optionValue, parseArgs, UsageError } from './args.ts';
import { runSnippetBatch } from '../snippet/index.ts';

export async function commandSnippet(argv: string[]): Promise<number> {
  const p = parseArgs(argv, { batch: { value: false }, 'step-limit': { value: true } }, 'snippet');
  if (!flag(p, 'batch')) throw new UsageError('snippet needs --batch (cases come as JSON Lines on standard input)', 'snippet');
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0]}"; cases come on standard input`, 'snippet');
  const limitText = optionValue(p, 'step-limit');
  let stepLimit: number | undefined;
  if (limitText !== undefined) {
    stepLimit = Number(limitText);
    if (!/^[0-9]+$/.test(limitText) || !Number.isSafeInteger(stepLimit) || stepLimit <= 0) {
      throw new UsageError(`--step-limit needs a positive integer, got "${limitText}"`, 'snippet');
    }
  }
  process.stdin.setEncoding('utf8');
  // Collect output and write in large chunks: one write per case would dominate a big batch.
  let buffer = '';
  await runSnippetBatch(process.stdin, (line) => {
    buffer += `${line}\n`;
    if (buffer.length > 1 << 16) {
      process.stdout.write(buffer);
      buffer = '';
    }
  }, stepLimit === undefined ? {} : { stepLimit });
  process.stdout.write(buffer);
  return 0;
}
