// Guest mode from the library (src/index.ts, docs/guest.md "Library"): the exported loader and
// runner give, for every file in scenarios/guest, exactly the JSON line `snpemu scenario --json`
// prints; Machine.fromScenario refuses a guest file with a one-line InputError that names the
// exported runner.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  InputError, Machine, formatGuestReport, loadGuestScenario, parseGuestScenario, runGuestScenario, GuestMachine,
  type GuestScenarioResult,
} from '../../src/index.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(repo, 'bin', 'snpemu.js');
const files = readdirSync(join(repo, 'scenarios', 'guest')).filter((f) => f.endsWith('.json')).sort();
// Absolute paths: the result's `file` is the path as given, to the CLI and to the loader alike.
const paths = files.map((f) => join(repo, 'scenarios', 'guest', f));

describe('guest scenarios through the library', () => {
  it('the result equals the CLI\'s --json line for every file in scenarios/guest', () => {
    expect(files.length).toBeGreaterThan(20);
    const r = spawnSync(process.execPath, [bin, 'scenario', '--json', ...paths], { cwd: repo, encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(paths.length);
    paths.forEach((p, i) => {
      const result: GuestScenarioResult = runGuestScenario(loadGuestScenario(p));
      expect(JSON.stringify(result), p).toBe(lines[i]);
      expect(result.expect.passed).toBe(true);
    });
  });

  it('accepts a parsed object and JSON text as well as a path, with the same result', () => {
    const p = paths.find((f) => f.endsWith('case34-shared-write-to-private.json'))!;
    const text = readFileSync(p, 'utf8');
    const fromPath = JSON.stringify(runGuestScenario(loadGuestScenario(p)));
    expect(JSON.stringify(runGuestScenario(loadGuestScenario(text, p)))).toBe(fromPath);
    expect(JSON.stringify(runGuestScenario(loadGuestScenario(JSON.parse(text), p)))).toBe(fromPath);
    expect(JSON.stringify(runGuestScenario(parseGuestScenario(JSON.parse(text), p)))).toBe(fromPath);
    // Without a file name the result says '<inline>'.
    expect(runGuestScenario(loadGuestScenario(text)).file).toBe('<inline>');
  });

  it('formatGuestReport and GuestMachine are exported', () => {
    const r = runGuestScenario(loadGuestScenario(paths[0]!));
    expect(formatGuestReport(r)).toMatch(/^PASS /);
    expect(typeof GuestMachine).toBe('function');
  });

  it('Machine.fromScenario on a guest file: one InputError naming the exported runner', () => {
    const p = paths.find((f) => f.endsWith('case34-shared-write-to-private.json'))!;
    for (const input of [p, readFileSync(p, 'utf8'), JSON.parse(readFileSync(p, 'utf8'))]) {
      let err: unknown;
      try {
        Machine.fromScenario(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      const e = err as InputError;
      expect(e.jsonPath).toBe('guest');
      expect(e.problem).toContain('runGuestScenario(loadGuestScenario(input))');
      expect(e.message.includes('\n')).toBe(false);
    }
  });

  it('loadGuestScenario on a host scenario points back at Machine.fromScenario', () => {
    const host = join(repo, 'scenarios', '01-thp-shared-page-v7.json');
    expect(() => loadGuestScenario(host)).toThrow(/Machine\.fromScenario/);
    // and the host file still builds through the facade
    expect(Machine.fromScenario(host).runScenario().expect.passed).toBe(true);
  });

  it('a bad guest input is the same InputError from the library as from the CLI (path and problem)', () => {
    const bad = { format: 1, name: 'x', guest: { memory: [{ gpa: '0x0', size: '2M', pa: '0x80000000' }], steps: [{ read: '0x3000' }] } };
    expect(() => loadGuestScenario(bad, 'bad.json')).toThrow(InputError);
    try {
      loadGuestScenario(bad, 'bad.json');
    } catch (e) {
      expect((e as InputError).jsonPath).toBe('guest.memory[0].pa');
    }
  });
});
