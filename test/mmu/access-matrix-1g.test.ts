// Exhaustive access matrix for 1G pages against the independent reference model
// (see access-matrix.ts for what is enumerated and how it is checked).
import { describe, expect, it } from 'vitest';
import { runAccessMatrix } from './access-matrix.ts';
import { SIZE_1G } from './helpers.ts';

describe('access matrix, 1G pages', () => {
  it('every {P,RW,US,A,D,PS,NX} x {P,RW,US,A,D,PS,NX} x access x CPL x {WP,NXE,SMEP,SMAP,AC} walk matches the model', () => {
    const r = runAccessMatrix(SIZE_1G, 'walk');
    expect(r.mismatches).toEqual([]);
    expect(r.cases).toBe(128 * 128 * 3 * 2 * 32); // 3,145,728
  });

  // The TLB-on pass runs for 4K pages only (access-matrix-4k.test.ts), to keep the suite short;
  // the huge-page TLB has its own cases in tlb.test.ts.
});
