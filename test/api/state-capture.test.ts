// The in-place object-graph capture behind kernel and RMP snapshots (src/api/state-capture.ts).

import { describe, expect, it } from 'vitest';
import { captureGraph, restoreGraph } from '../../src/api/state-capture.ts';

describe('captureGraph / restoreGraph', () => {
  it('restores fields, arrays, Maps, Sets and typed arrays in place, keeping identities', () => {
    const shared = { hits: 1 };
    const root = {
      n: 1, s: 'a', big: 5n, list: [1, shared], map: new Map<number, { v: number }>([[1, { v: 1 }]]),
      set: new Set([1, 2]), bytes: new Uint8Array([1, 2, 3]), nested: { shared, flag: false }, fn: () => 42,
    };
    const { list, map, set, bytes, nested } = root;
    const inner = map.get(1)!;
    const c = captureGraph([root], new Set());
    root.n = 2; root.s = 'b'; root.big = 6n;
    list.push(3); shared.hits = 9;
    map.set(2, { v: 2 }); inner.v = 7;
    set.delete(1); set.add(5);
    bytes[0] = 0xff;
    nested.flag = true;
    (root as Record<string, unknown>).later = 'added after the capture';
    restoreGraph(c);
    expect(root).toMatchObject({ n: 1, s: 'a', big: 5n, nested: { flag: false } });
    expect(root.list).toBe(list); // same objects, old contents
    expect(list).toEqual([1, shared]);
    expect(shared.hits).toBe(1);
    expect([...map.keys()]).toEqual([1]);
    expect(map.get(1)).toBe(inner);
    expect(inner.v).toBe(1);
    expect([...set]).toEqual([1, 2]);
    expect([...bytes]).toEqual([1, 2, 3]);
    expect(root.fn()).toBe(42);
    expect((root as Record<string, unknown>).later).toBeUndefined();
  });

  it('does not follow external objects, but always captures its roots', () => {
    const outside = { v: 1 };
    const root = { outside, own: { v: 1 } };
    const c = captureGraph([root], new Set<object>([outside, root]));
    outside.v = 2;
    root.own.v = 2;
    restoreGraph(c);
    expect(outside.v).toBe(2); // external: not saved, not restored
    expect(root.own.v).toBe(1);
  });

  it('handles cycles', () => {
    const a: { b?: unknown; v: number } = { v: 1 };
    const b = { a, v: 1 };
    a.b = b;
    const c = captureGraph([a], new Set());
    a.v = 2; b.v = 2;
    restoreGraph(c);
    expect([a.v, b.v]).toEqual([1, 1]);
  });
});
