// The README's API section works when pasted into a fresh project that installs snpemu from a local
// path (issue 9, "Done when"). The example is read from docs/api.md between its readme-example
// markers, so the document and this test cannot drift apart. Offline: npm installs a local path
// without the registry.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function readmeExample(): string {
  const doc = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
  const m = /<!-- readme-example:start -->\s*```js\n([\s\S]*?)```\s*<!-- readme-example:end -->/.exec(doc);
  if (m === null) throw new Error('docs/api.md has no readme-example block');
  return m[1]!;
}

describe('a fresh project installing snpemu from a local path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'snpemu-consumer-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('npm install /path/to/snpemu, then the README example runs with node and type-checks with tsc', () => {
    const run = (cmd: string, args: string[]): string =>
      execFileSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } });
    run('npm', ['init', '-y']);
    run('npm', ['install', '--offline', ROOT]);
    const code = readmeExample();
    writeFileSync(join(dir, 'example.mjs'), code);
    const out = run(process.execPath, ['example.mjs']);
    expect(out.trim().split('\n')).toEqual([
      'failed RMP check: Hypervisor-Owned on pfn 0x300',
      'exception PF 80000003 400005',
      'halt 5n',
    ]);
    // The same text as TypeScript, checked against the package's declarations (dist/index.d.ts).
    writeFileSync(join(dir, 'example.ts'), code);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: [] },
      files: ['example.ts'],
    }));
    run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json']);
  }, 180_000);
});
