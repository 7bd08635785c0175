// The whole-program harness never records a figure it cannot vouch for: an engine that is not
// installed is 'unavailable' with its reason, and an engine whose run computes a different
// checksum from the native run is 'failed', naming both checksums.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { native, type Engine } from '../../bench/harness/engines.ts';
import { runWholePrograms } from '../../bench/harness/whole-program.ts';

const cache = mkdtempSync(join(tmpdir(), 'snpemu-bench-wp-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

/** Runs the program natively but reports a checksum one higher: a wrong answer. */
const offByOne: Engine = {
  name: 'off-by-one',
  label: 'test engine',
  paging: 'n/a',
  problem: () => null,
  command: (b) => ({ command: b.elf, args: [] }),
  checksum: (run) => (run.status === null ? null : (run.status + 1) & 0xff),
};

const missing: Engine = { ...offByOne, name: 'missing', problem: () => 'missing-emulator is not installed' };

describe('runWholePrograms', () => {
  it('fails an engine with a wrong checksum and reports an absent one as unavailable', async () => {
    const records = await runWholePrograms({ quick: true, samples: 1, programs: ['call'], engines: [native, offByOne, missing], cacheDir: cache });
    expect(records.map((r) => r.name)).toEqual(['program.call.native', 'program.call.off-by-one', 'program.call.missing']);
    const [, wrong, absent] = records;
    // The test engine reports the native exit status + 1 (mod 256), whatever that status is.
    expect(wrong!.status).toBe('failed');
    expect(wrong!.note).toMatch(/^5000000-iteration run computed checksum (\d+), native computed (\d+)/);
    const [, got, want] = /computed checksum (\d+), native computed (\d+)/.exec(wrong!.note!)!;
    expect(Number(got)).toBe((Number(want) + 1) & 0xff);
    expect(wrong!.median).toBeUndefined();
    expect(absent).toMatchObject({ status: 'unavailable', note: 'missing-emulator is not installed' });
    expect(absent!.median).toBeUndefined();
  });
});
