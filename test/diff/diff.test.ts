// Differential testing against this machine's own CPU (issue 2, item 7; docs/testing.md):
// random instruction sequences run natively (native-runner.c) and in snpemu's snippet runner must
// agree on every register, RIP, the whole data page, the exception, and every flag the manuals
// define at the point where the case stopped.
import { describe, expect, it } from 'vitest';
import { runCampaign, type CampaignSummary } from './harness.ts';

/** The fixed seed of the suite: the same 5,000 cases on every run. */
const FIXED_SEED = 0x5eed2026;
const FIXED_CASES = 5000;
/** A fresh seed per run widens coverage over time; a failure prints it for replay. */
const FRESH_CASES = 3000;

function explain(summary: CampaignSummary): string {
  const head = `${summary.failures.length} of ${summary.cases} cases differ (seed ${summary.seed}; replay: ` +
    `npm run fuzz:diff -- --seed ${summary.seed} --cases ${summary.cases})`;
  return [head, ...summary.failures.slice(0, 3).map((f) => f.report)].join('\n\n');
}

describe('differential: snpemu vs this CPU', () => {
  it(`matches on ${FIXED_CASES} cases of the fixed seed ${FIXED_SEED}`, () => {
    const summary = runCampaign(FIXED_SEED, FIXED_CASES);
    expect(summary.cases).toBe(FIXED_CASES);
    // The cases must exercise both normal completion and faults, or the comparison proves little.
    expect(summary.outcomes.ok ?? 0).toBeGreaterThan(FIXED_CASES / 2);
    expect(Object.keys(summary.outcomes).filter((k) => k.startsWith('#')).length).toBeGreaterThanOrEqual(5);
    if (summary.failures.length > 0) expect.fail(explain(summary));
  });

  it(`matches on ${FRESH_CASES} cases of a fresh seed (SNPEMU_DIFF_SEED to replay)`, () => {
    const fromEnv = process.env.SNPEMU_DIFF_SEED;
    const seed = fromEnv !== undefined ? Number(fromEnv) >>> 0 : (Math.random() * 0x100000000) >>> 0;
    const summary = runCampaign(seed, FRESH_CASES);
    if (summary.failures.length > 0) expect.fail(explain(summary));
  });
});
