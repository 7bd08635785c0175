// Every scenario file must pass: the shared conformance suite (../shared/conformance, relative to
// the repository), the demo's scenarios (scenarios/) and the project's own cases
// (test/scenario/cases/). Each test runs the file exactly as `snpemu scenario` does and expects no
// mismatch; a failure prints the mismatches, which name the field, the expected and the actual value.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/scenario/run.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const suites: [string, string][] = [
  ['conformance (../shared/conformance)', join(repo, '..', 'shared', 'conformance')],
  ['demo (scenarios/)', join(repo, 'scenarios')],
  ['own cases (test/scenario/cases/)', join(repo, 'test', 'scenario', 'cases')],
];

for (const [title, dir] of suites) {
  if (!existsSync(dir)) {
    describe.skip(`${title}: directory ${dir} is absent, skipped`, () => {});
    continue;
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  describe(title, () => {
    it('has scenario files', () => {
      expect(files.length).toBeGreaterThan(0);
    });
    for (const f of files) {
      it(f, () => {
        const { result } = runScenario(loadScenarioFile(join(dir, f)));
        expect(result.expect.mismatches).toEqual([]);
        expect(result.expect.passed).toBe(true);
      });
    }
  });
}
