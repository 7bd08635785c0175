// Every guest scenario file in scenarios/guest runs and its `expect` holds (spec/rmp.md §7 cases
// 32-44 and the additional cases; each file's notes derive its expected EXITINFO1 values).
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGuestScenario } from '../../src/guest/scenario.ts';
import { runGuestScenario } from '../../src/guest/scenario-run.ts';

const DIR = join(import.meta.dirname, '../../scenarios/guest');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe('guest scenarios', () => {
  it('the directory holds the §7 guest cases 32-44', () => {
    for (let n = 32; n <= 44; n++) expect(files.some((f) => f.startsWith(`case${n}-`)), `case ${n}`).toBe(true);
  });

  for (const f of files) {
    it(f, () => {
      const s = parseGuestScenario(readFileSync(join(DIR, f), 'utf8'), f);
      const r = runGuestScenario(s);
      expect(r.expect.mismatches, JSON.stringify({ outcome: r.outcome, exits: r.exits.map((e) => [e.exitInfo1, e.exitInfo2, e.why]), faults: r.faults, hv: r.hv.map((h) => h.action), steps: r.steps }, null, 1)).toEqual([]);
      expect(r.expect.passed).toBe(true);
    });
  }
});
