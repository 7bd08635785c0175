// The independent corpus (issue 2, "Done when"): test/diff/corpus.jsonl holds generated cases with
// the results this machine's CPU gave when the file was written (npm run fuzz:diff --
// --write-corpus). The whole file goes through `runSnippetBatch`, exactly as `snpemu snippet
// --batch` reads it, and every output line must match the recorded native result outside the
// flags left undefined.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compareOutputs, formatMismatch } from './compare.ts';
import { unpackNativeResult } from './corpus.ts';
import type { GeneratedCase } from './generator.ts';
import { runSnippetBatch } from '../../src/snippet/index.ts';

const CORPUS = fileURLToPath(new URL('./corpus.jsonl', import.meta.url));
const SNPEMU = fileURLToPath(new URL('../../bin/snpemu.js', import.meta.url));

type CorpusRecord = GeneratedCase & { native: Record<string, unknown> };

function loadCorpus(): { text: string; records: CorpusRecord[] } {
  const text = readFileSync(CORPUS, 'utf8');
  const records = text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as CorpusRecord);
  return { text, records };
}

function mismatches(records: CorpusRecord[], out: string[], source: string): string[] {
  const reports: string[] = [];
  records.forEach((r, i) => {
    const diffs = compareOutputs(r, unpackNativeResult(r.native), out[i]!);
    if (diffs.length > 0) reports.push(formatMismatch(r, diffs, source));
  });
  return reports;
}

describe('independent corpus through snippet --batch', () => {
  it('matches every recorded native result', async () => {
    const { text, records } = loadCorpus();
    expect(records.length).toBeGreaterThanOrEqual(300);
    const out: string[] = [];
    const { cases, errors } = await runSnippetBatch(text, (line) => out.push(line));
    expect(cases).toBe(records.length);
    expect(errors).toBe(0);
    const reports = mismatches(records, out, 'corpus.jsonl');
    if (reports.length > 0) expect.fail(`${reports.length} corpus cases differ:\n\n${reports.slice(0, 3).join('\n\n')}`);
  });

  it('matches through the real `snpemu snippet --batch` command', () => {
    const { text, records } = loadCorpus();
    const run = spawnSync(process.execPath, [SNPEMU, 'snippet', '--batch'], { input: text, encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const out = run.stdout.split('\n').filter((l) => l !== '');
    expect(out).toHaveLength(records.length);
    const reports = mismatches(records, out, 'corpus.jsonl via bin/snpemu.js');
    if (reports.length > 0) expect.fail(`${reports.length} corpus cases differ:\n\n${reports.slice(0, 3).join('\n\n')}`);
  });
});
