// The kernel's own scenario files (test/kernel/scenarios/): combinations beyond spec/rmp.md §7, run
// exactly as `snpemu scenario` runs them. A failure prints the mismatches.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/scenario/run.ts';

const dir = fileURLToPath(new URL('./scenarios/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('kernel scenarios beyond the §7 table', () => {
  it('has scenario files', () => expect(files.length).toBeGreaterThan(10));
  for (const f of files) {
    it(f, () => {
      const { result } = runScenario(loadScenarioFile(join(dir, f)));
      expect(result.expect.mismatches).toEqual([]);
      expect(result.expect.passed).toBe(true);
    });
  }
});
