// `machine.hooks`: the list of registered hooks, per kind. It knows nothing about the CPU or the
// MMU; whenever the set of enabled hooks of a kind changes it tells the plumbing (hook-plumbing.ts),
// which installs or removes exactly what that kind needs, so a kind with no enabled hook costs nothing.

import { checkBoolean, checkKeys, checkOneOf, integerValue } from './validate.ts';
import {
  HOOK_KINDS, type HookCallback, type HookHandle, type HookKind, type HookKinds, type RangeOptions,
} from './hooks.ts';

const FULL_END = (1n << 64n) - 1n;

export interface HookEntry<K extends HookKind = HookKind> {
  readonly id: number;
  readonly kind: K;
  readonly callback: HookCallback<K>;
  readonly options: HookKinds[K]['options'];
  /** Inclusive range, unsigned 64-bit. */
  readonly begin: bigint;
  readonly end: bigint;
  enabled: boolean;
  calls: number;
}

/** The options each kind accepts (hooks.ts HookKinds); anything else is a misspelling. */
const OPTION_KEYS: Record<HookKind, readonly string[]> = {
  instruction: ['begin', 'end'],
  block: [],
  read: ['begin', 'end', 'space'],
  write: ['begin', 'end', 'space'],
  fetch: ['begin', 'end', 'space'],
  walk: ['begin', 'end'],
  'rmp-check': ['begin', 'end', 'failedOnly'],
  exception: [],
  'kernel-decision': [],
  syscall: [],
};

function bound(v: unknown, fallback: bigint, kind: HookKind, what: string): bigint {
  if (v === undefined) return fallback;
  return BigInt.asUintN(64, integerValue(v, `hooks.add("${kind}") option ${what}`));
}

export class HookRegistry {
  private readonly byKind = new Map<HookKind, HookEntry[]>(HOOK_KINDS.map((k) => [k, []]));
  private nextId = 1;

  constructor(private readonly changed: (kind: HookKind) => void) {}

  /**
   * Register a hook. `options` depend on the kind (docs/api.md, "Hooks"): a range for instruction,
   * read/write/fetch, walk and rmp-check hooks; `space` for memory hooks; `failedOnly` for rmp-check.
   */
  add<K extends HookKind>(kind: K, callback: HookCallback<K>, options?: HookKinds[K]['options']): HookHandle {
    const list = this.byKind.get(kind);
    if (list === undefined) throw new TypeError(`unknown hook kind "${String(kind)}"; kinds are ${HOOK_KINDS.join(', ')}`);
    if (typeof callback !== 'function') throw new TypeError(`hooks.add("${kind}", callback): callback must be a function`);
    const opts = (options ?? {}) as RangeOptions & { space?: string; failedOnly?: boolean };
    checkKeys(opts, OPTION_KEYS[kind], `hooks.add("${kind}") options`);
    checkOneOf(opts.space, ['linear', 'physical'], `hooks.add("${kind}") option space`);
    checkBoolean(opts.failedOnly, `hooks.add("${kind}") option failedOnly`);
    const begin = bound(opts.begin, 0n, kind, 'begin');
    const end = bound(opts.end, FULL_END, kind, 'end');
    if (begin > end) throw new RangeError(`hooks.add("${kind}"): range begin 0x${begin.toString(16)} is above end 0x${end.toString(16)}`);
    const entry: HookEntry<K> = {
      id: this.nextId++, kind, callback, options: (options ?? {}) as HookKinds[K]['options'], begin, end, enabled: true, calls: 0,
    };
    list.push(entry as unknown as HookEntry);
    this.changed(kind);
    const registry = this;
    return {
      id: entry.id,
      kind,
      get enabled() {
        return entry.enabled;
      },
      set enabled(on: boolean) {
        if (entry.enabled === on) return;
        entry.enabled = on;
        registry.changed(kind);
      },
      get calls() {
        return entry.calls;
      },
      remove() {
        registry.remove(entry.id);
      },
    };
  }

  /** Remove one hook by id; false when there was none. */
  remove(id: number): boolean {
    for (const [kind, list] of this.byKind) {
      const i = list.findIndex((e) => e.id === id);
      if (i >= 0) {
        list.splice(i, 1);
        this.changed(kind);
        return true;
      }
    }
    return false;
  }

  /** Remove every hook. */
  clear(): void {
    for (const [kind, list] of this.byKind) {
      if (list.length === 0) continue;
      list.length = 0;
      this.changed(kind);
    }
  }

  /** Enabled hooks of a kind, in registration order (a fresh array: callbacks may add or remove hooks). */
  enabled<K extends HookKind>(kind: K): HookEntry<K>[] {
    return this.byKind.get(kind)!.filter((e) => e.enabled) as unknown as HookEntry<K>[];
  }

  /** True when at least one hook of the kind is enabled. */
  has(kind: HookKind): boolean {
    return this.byKind.get(kind)!.some((e) => e.enabled);
  }

  /** Number of registered hooks (enabled or not). */
  get size(): number {
    let n = 0;
    for (const list of this.byKind.values()) n += list.length;
    return n;
  }
}
