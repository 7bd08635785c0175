// Every example in examples/ runs as a user would run it (`npx tsx examples/NAME.ts`) and prints
// what its header promises. A new example without a check here fails the first test.

import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function runExample(name: string, ...args: string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', `examples/${name}`, ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000,
  });
}

const checks: Record<string, () => void> = {
  'walks-per-2m.ts': () => {
    const out = runExample('walks-per-2m.ts');
    expect(out).toContain('outcome: exit');
    // 1536 pages touched: 512 walks in each 4K-mapped 2M region, 1 for the whole 2M huge page.
    expect(out).toMatch(/0x000010000000\s+512\s+4K/);
    expect(out).toMatch(/0x000010200000\s+512\s+4K/);
    expect(out).toMatch(/0x000010400000\s+1\s+2M/);
  },
  'failed-rmp-checks.ts': () => {
    const out = runExample('failed-rmp-checks.ts');
    // First write (RIP 0x400000) through the 2M mapping fails on the guest page's region: split, retry.
    // Second write (RIP 0x400006) hits the guest page itself through a 4K PTE: SIGBUS.
    expect(out.match(/^FAILED RMP check at RIP 0x[0-9a-f]+/gm)).toEqual([
      'FAILED RMP check at RIP 0x400000', 'FAILED RMP check at RIP 0x400006',
    ]);
    expect(out).toContain('mapped by a 2M page');
    expect(out).toContain('kernel decision: split (#PF error code 0x80000007)');
    expect(out).toContain('kernel decision: sigbus');
    expect(out).toContain('outcome: signal SIGBUS');
  },
  'snapshot-fuzz.ts': () => {
    const out = runExample('snapshot-fuzz.ts', '3000');
    expect(out).toMatch(/^3000 runs in/m);
    expect(out).toMatch(/#PF at 0x40000d\s+\d+/); // movzx edx, byte [rsi] read past the page
    expect(out).toMatch(/#UD at 0x400020\s+\d+/); // the ud2 behind a sum of 0x1ff
    expect(out).toContain('replayed: #PF at 0x40000d');
    expect(out).toContain('replayed: #UD at 0x400020');
  },
};

describe('examples', () => {
  it('every example has a check', () => {
    const files = readdirSync(`${ROOT}examples`).filter((f) => f.endsWith('.ts')).sort();
    expect(files).toEqual(Object.keys(checks).sort());
  });

  for (const [name, check] of Object.entries(checks)) it(`${name} runs and prints what it promises`, check, 60_000);
});
