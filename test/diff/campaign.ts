// Long differential campaigns: `npm run fuzz:diff -- --cases N [--seed S]` (docs/testing.md).
//
//   --cases N          how many cases (default 20000)
//   --seed S           campaign seed (default: a fresh random one, printed)
//   --first K          start at case index K (to resume or bisect)
//   --out FILE         where failing cases go, as JSON lines
//                      (default .cache/fuzz-diff/diff-failures-SEED.jsonl, git-ignored)
//   --replay FILE      re-run the cases of a failures (or corpus) file and report again
//   --write-corpus F   write the cases with their native results to F (the committed corpus)
//   --culprits         shrink every failing case and group the failures by the first instruction
//                      where snpemu and the CPU part ways (with --replay, or after a campaign)
//   --quiet            no progress bar
//
// Exit status: 0 when every case matched, 1 when any failed, 2 on bad arguments.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareOutputs, formatMismatch } from './compare.ts';
import { runNative } from './native.ts';
import { generateCase, type GeneratedCase } from './generator.ts';
import { packNativeResult } from './corpus.ts';

interface Args {
  cases: number;
  seed: number;
  first: number;
  out?: string;
  replay?: string;
  writeCorpus?: string;
  quiet: boolean;
  culprits: boolean;
}

function usage(message: string): never {
  process.stderr.write(`fuzz:diff: ${message}\nusage: npm run fuzz:diff -- [--cases N] [--seed S] [--first K] [--out FILE] [--replay FILE] [--write-corpus FILE] [--culprits] [--quiet]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const args: Args = { cases: 20000, seed: (Math.random() * 0x100000000) >>> 0, first: 0, quiet: false, culprits: false };
  const number = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isSafeInteger(n) || n < 0) usage(`${name} needs a non-negative integer, got ${v ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--cases': args.cases = number(a, argv[++i]); break;
      case '--seed': args.seed = number(a, argv[++i]) >>> 0; break;
      case '--first': args.first = number(a, argv[++i]); break;
      case '--out': args.out = argv[++i] ?? usage('--out needs a file'); break;
      case '--replay': args.replay = argv[++i] ?? usage('--replay needs a file'); break;
      case '--write-corpus': args.writeCorpus = argv[++i] ?? usage('--write-corpus needs a file'); break;
      case '--quiet': args.quiet = true; break;
      case '--culprits': args.culprits = true; break;
      default: usage(`unknown argument ${a}`);
    }
  }
  return args;
}

function progressBar(done: number, total: number, failures: number, started: number): string {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const rate = done / Math.max(1e-3, (performance.now() - started) / 1000);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${((100 * done) / total).toFixed(0).padStart(3)}% ${done}/${total} cases, ${failures} failing, ${rate.toFixed(0)} cases/s `;
}

async function replay(file: string, culprits: boolean): Promise<number> {
  const { runInSnpemu, groupByCulprit } = await import('./harness.ts');
  const cases = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as GeneratedCase);
  const native = runNative(cases as unknown as Record<string, unknown>[]);
  let failures = 0;
  cases.forEach((c, i) => {
    const diffs = compareOutputs(c, native[i]!, runInSnpemu(c));
    if (diffs.length > 0) {
      failures++;
      process.stdout.write(formatMismatch(c, diffs, `replayed from ${file}`) + '\n\n');
    }
  });
  process.stdout.write(`replayed ${cases.length} cases from ${file}: ${failures} failing\n`);
  if (culprits && failures > 0) printCulprits(groupByCulprit(cases.filter((c, i) => compareOutputs(c, native[i]!, runInSnpemu(c)).length > 0)));
  return failures === 0 ? 0 : 1;
}

function printCulprits(groups: { mnemonic: string; count: number; examples: string[] }[]): void {
  process.stdout.write('first differing instruction of each shrunk failing case:\n');
  for (const g of groups) {
    process.stdout.write(`  ${g.mnemonic}: ${g.count}\n`);
    for (const e of g.examples) process.stdout.write(`      ${e}\n`);
  }
}

function writeCorpus(file: string, seed: number, count: number): void {
  const cases: GeneratedCase[] = [];
  // Cases with a small initial data area keep the committed file small.
  for (let i = 0; cases.length < count; i++) {
    const c = generateCase(seed, i);
    if (c.mem.length <= 1024) cases.push(c);
  }
  const native = runNative(cases as unknown as Record<string, unknown>[]);
  const lines = cases.map((c, i) => {
    // Each line is a snippet input (unknown keys are ignored by `snpemu snippet --batch`) plus
    // what a comparison needs: the undefined-flag masks, the instruction starts, and the native
    // result, whose 4 KiB data page is stored deflated (corpus.ts expands it).
    return JSON.stringify({ ...c, native: packNativeResult(native[i]!) });
  });
  writeFileSync(file, lines.join('\n') + '\n');
  process.stdout.write(`wrote ${count} cases (seed ${seed}) with native results to ${file}\n`);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.replay) return await replay(args.replay, args.culprits);
  if (args.writeCorpus) {
    writeCorpus(args.writeCorpus, args.seed, args.cases);
    return 0;
  }
  // snpemu is loaded only for the modes that run it, so --write-corpus needs only the native side.
  const { runCampaign, groupByCulprit } = await import('./harness.ts');
  const started = performance.now();
  const tty = !args.quiet;
  process.stderr.write(`differential campaign: seed ${args.seed}, ${args.cases} cases from index ${args.first}\n`);
  const summary = runCampaign(args.seed, args.cases, {
    first: args.first,
    batch: 250,
    progress: tty ? (done, failures) => process.stderr.write(progressBar(done, args.cases, failures, started)) : undefined,
  });
  if (tty) process.stderr.write('\n');
  const seconds = (performance.now() - started) / 1000;
  for (const f of summary.failures.slice(0, 5)) process.stdout.write(f.report + '\n\n');
  if (summary.failures.length > 5) process.stdout.write(`... and ${summary.failures.length - 5} more failing cases\n`);
  if (summary.failures.length > 0) {
    let out = args.out;
    if (out === undefined) {
      const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache', 'fuzz-diff');
      mkdirSync(dir, { recursive: true });
      out = join(dir, `diff-failures-${args.seed}.jsonl`);
    }
    writeFileSync(out, summary.failures.map((f) => JSON.stringify(f.case)).join('\n') + '\n');
    process.stdout.write(`failing cases written to ${out} (replay: npm run fuzz:diff -- --replay ${out})\n`);
    if (args.culprits) printCulprits(groupByCulprit(summary.failures.map((f) => f.case)));
  }
  const sorted = (r: Record<string, number>) => Object.entries(r).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}: ${v}`).join(', ');
  process.stdout.write(
    [
      `seed ${summary.seed}: ${summary.cases} cases, ${summary.failures.length} failing, ${seconds.toFixed(1)} s ` +
        `(generate ${(summary.generateMs / 1000).toFixed(1)} s, native ${(summary.nativeMs / 1000).toFixed(1)} s, snpemu ${(summary.snpemuMs / 1000).toFixed(1)} s)`,
      `outcomes: ${sorted(summary.outcomes)}`,
      `families (cases using each): ${sorted(summary.families)}`,
    ].join('\n') + '\n',
  );
  return summary.failures.length === 0 ? 0 : 1;
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (e: unknown) => {
    process.stderr.write(`fuzz:diff: ${(e as Error).message}\n`);
    process.exitCode = 2;
  },
);
