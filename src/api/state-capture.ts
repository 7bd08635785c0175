// In-place capture and restore of an object graph: how a snapshot saves the state of the modules
// that keep it in ordinary JavaScript objects (the kernel's VMAs, frame allocator and page-table
// bookkeeping; the RMP table's MSRs and side tables), without those modules writing a clone method.
//
// Why "in place": every module holds references to its collaborators (the kernel's address space
// holds the frame allocator, closures hold the kernel). A deep copy would have to rewire all of them.
// Instead, a capture records, for every object reachable from the roots, the values of its own
// fields (or elements, or Map/Set entries, or typed-array bytes), and a restore writes those values
// back into the very same objects. Identity is preserved, so every reference and closure stays valid;
// objects created after the capture simply become unreachable again.
//
// What is not followed (kept as a plain reference, never saved nor restored):
// - objects the caller names as external (physical memory, the MMU, the CPU: they have their own
//   snapshot path), functions, frozen objects, DataViews, and built-ins other than Array, Map, Set,
//   typed arrays and plain or class instances;
// - ECMAScript private fields (`#x`), which reflection cannot reach. The modules captured this way
//   use TypeScript `private`, which is an ordinary property at run time; the snapshot tests (restore
//   and re-run gives the identical result, kernel included) would catch a module that hides state.
// A field added to an object after the capture is reset to undefined on restore (not deleted, so the
// object keeps its hidden class and its call sites stay fast).

type TypedArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

const KIND_OBJECT = 0;
const KIND_ARRAY = 1;
const KIND_TYPED = 2;
const KIND_MAP = 3;
const KIND_SET = 4;

/** The saved state of one object graph. Opaque to callers; restore with `restoreGraph`. */
export interface GraphCapture {
  readonly objects: object[];
  readonly kinds: Uint8Array;
  /** Per object: field names (objects), or null. */
  readonly keys: (string[] | null)[];
  /** Per object: field values, elements, bytes, or Map/Set entries. */
  readonly values: unknown[];
}

function isTypedArray(v: object): v is TypedArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

function kindOf(v: object): number {
  if (Array.isArray(v)) return KIND_ARRAY;
  if (isTypedArray(v)) return KIND_TYPED;
  if (v instanceof Map) return KIND_MAP;
  if (v instanceof Set) return KIND_SET;
  return KIND_OBJECT;
}

/** Built-ins whose state reflection cannot read: they are kept as references. */
function isOpaqueBuiltin(v: object): boolean {
  return v instanceof DataView || v instanceof ArrayBuffer || v instanceof Promise || v instanceof WeakMap ||
    v instanceof WeakSet || v instanceof RegExp || v instanceof Date || v instanceof Error;
}

/**
 * Record the state of every object reachable from `roots`, except `external` ones (a root itself is
 * always captured).
 * Cost: one pass over the reachable objects; typed arrays are copied (memcpy).
 */
export function captureGraph(roots: readonly object[], external: ReadonlySet<object>): GraphCapture {
  const objects: object[] = [];
  const kinds: number[] = [];
  const keys: (string[] | null)[] = [];
  const values: unknown[] = [];
  const seen = new Set<object>();
  const stack: object[] = [...roots];
  const visit = (v: unknown): void => {
    if (v !== null && typeof v === 'object' && !seen.has(v) && !external.has(v)) stack.push(v);
  };
  const rootSet = new Set<object>(roots);
  while (stack.length > 0) {
    const o = stack.pop()!;
    // A root is captured even when it is also listed as external (the machine parts are external to
    // each other's captures, and each is the root of its own).
    if (seen.has(o) || (external.has(o) && !rootSet.has(o))) continue;
    seen.add(o);
    if (Object.isFrozen(o) || isOpaqueBuiltin(o)) continue;
    const kind = kindOf(o);
    objects.push(o);
    kinds.push(kind);
    switch (kind) {
      case KIND_ARRAY: {
        const copy = (o as unknown[]).slice();
        keys.push(null);
        values.push(copy);
        for (const e of copy) visit(e);
        break;
      }
      case KIND_TYPED:
        keys.push(null);
        values.push((o as TypedArray).slice());
        break;
      case KIND_MAP: {
        const entries = [...(o as Map<unknown, unknown>).entries()];
        keys.push(null);
        values.push(entries);
        for (const [k, v] of entries) {
          visit(k);
          visit(v);
        }
        break;
      }
      case KIND_SET: {
        const members = [...(o as Set<unknown>).values()];
        keys.push(null);
        values.push(members);
        for (const m of members) visit(m);
        break;
      }
      default: {
        const names = Object.keys(o);
        const vals = names.map((n) => (o as Record<string, unknown>)[n]);
        keys.push(names);
        values.push(vals);
        for (const v of vals) visit(v);
      }
    }
  }
  return { objects, kinds: Uint8Array.from(kinds), keys, values };
}

/** Write a capture's values back into its objects (the same objects, so references stay valid). */
export function restoreGraph(c: GraphCapture): void {
  const { objects, kinds, keys, values } = c;
  for (let i = 0; i < objects.length; i++) {
    const o = objects[i]!;
    switch (kinds[i]) {
      case KIND_ARRAY: {
        const a = o as unknown[];
        const saved = values[i] as unknown[];
        a.length = saved.length;
        for (let j = 0; j < saved.length; j++) a[j] = saved[j];
        break;
      }
      case KIND_TYPED:
        (o as TypedArray).set(values[i] as never);
        break;
      case KIND_MAP: {
        const m = o as Map<unknown, unknown>;
        m.clear();
        for (const [k, v] of values[i] as [unknown, unknown][]) m.set(k, v);
        break;
      }
      case KIND_SET: {
        const s = o as Set<unknown>;
        s.clear();
        for (const v of values[i] as unknown[]) s.add(v);
        break;
      }
      default: {
        const names = keys[i]!;
        const vals = values[i] as unknown[];
        const rec = o as Record<string, unknown>;
        for (let j = 0; j < names.length; j++) rec[names[j]!] = vals[j];
        // Fields that appeared after the capture: reset, not deleted (see the header).
        if (Object.keys(o).length !== names.length) {
          const known = new Set(names);
          for (const k of Object.keys(o)) if (!known.has(k)) rec[k] = undefined;
        }
      }
    }
  }
}

/** Number of objects a capture holds (for tests and cost reports). */
export function captureSize(c: GraphCapture): number {
  return c.objects.length;
}
