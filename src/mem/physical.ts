// Physical memory: the ground floor. The MMU, the RMP table and the kernel model all read and write
// system physical addresses through this class, and nothing below it exists.
//
// Sparse: RAM is split into 4 KiB frames, and a frame's backing store is allocated on its first
// write. A frame that was never written reads as zero, so a 3 GiB machine that touches a few pages
// costs a few pages.
//
// Beyond RAM (documented behaviour, docs/memory.md): there is no device there. Reads return all-ones
// bytes, as an unclaimed bus read does on a PC, and writes are dropped. A page-table entry read from
// beyond RAM therefore has P=1 and reserved bits set, so a walk through it ends in a reserved-bit #PF
// rather than in silently wrong state.
//
// Code marks: the decoded-instruction cache marks every frame it decodes from (`codeMarks`). Every
// write through this class to a marked frame calls `onCodeWrite(pfn)` first, so the cache can drop
// the stale decodings (design.md, pattern 1). Anything that writes a frame's bytes without going
// through these methods (a TLB that caches `frameForWrite` arrays) must check `codeMarks` itself.
//
// Snapshots: `frameForWrite` is the one place a frame becomes writable, so copy-on-write snapshots
// hook in there (frames shared with a snapshot are copied before their first write). Every change
// of a frame's backing array goes through `setFrame`, which keeps the dirty list: restoring the
// snapshot last taken or restored visits only the frames changed since (docs/memory.md).
//
// Cached frames (the MMU's TLB keeps a frame's DataView so that a TLB hit is one typed-array access):
// whoever caches a frame's backing array must learn when that array is replaced. Three things replace
// one: a copy-on-write split (`frameForWrite` on a shared frame), `snapshotFrames` (every frame becomes
// shared, so an array cached for writing would write into the snapshot) and `restoreFrames`. Each
// calls the listeners added with `addFrameReplacedListener`, with the pfn, or with -1 for "all frames".
// `viewForCache` allocates a never-written RAM frame, so a cached zero page cannot go stale when the
// frame is first written through another path.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PAGE_MASK = 0xfff;

const ALL_ONES_FRAME = new Uint8Array(PAGE_SIZE).fill(0xff);
const ZERO_FRAME = new Uint8Array(PAGE_SIZE);
const ALL_ONES_VIEW = new DataView(ALL_ONES_FRAME.buffer);
const ZERO_VIEW = new DataView(ZERO_FRAME.buffer);

/** Called with a pfn whose backing array was replaced, or with -1 when every frame may have been. */
export type FrameReplacedListener = (pfn: number) => void;

export class PhysicalMemory {
  /** RAM size in bytes (a multiple of 4 KiB). */
  readonly size: number;
  /** Number of 4 KiB frames of RAM. */
  readonly frameCount: number;
  /** Backing store per frame; undefined until the frame is first written. */
  private readonly frames: (Uint8Array | undefined)[];
  /** Frames shared with a snapshot: copied on their next write. */
  private readonly sharedWithSnapshot: Uint8Array;
  /** Non-zero for frames that hold decoded (cached) instructions. */
  readonly codeMarks: Uint8Array;
  /** Called before a write lands on a frame whose code mark is set. */
  onCodeWrite: (pfn: number) => void = () => {};
  /** DataView over each allocated frame, made on first request and dropped when the frame is replaced. */
  private readonly views: (DataView | undefined)[];
  private readonly frameReplacedListeners: FrameReplacedListener[] = [];
  /**
   * Dirty tracking for cheap restores: `baseline` is the frame list of the last snapshot taken or
   * restored, and `frames` differs from it only at the pfns in `dirtyList` (those whose backing
   * array was allocated or replaced since). Restoring that same list again visits only them.
   */
  private baseline: (Uint8Array | undefined)[] | null = null;
  private readonly dirtyFlags: Uint8Array;
  private dirtyList: number[] = [];

  constructor(sizeBytes: number) {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % PAGE_SIZE !== 0) {
      throw new RangeError(`physical memory size must be a positive multiple of 4 KiB, got ${sizeBytes}`);
    }
    this.size = sizeBytes;
    this.frameCount = sizeBytes / PAGE_SIZE;
    this.frames = new Array(this.frameCount);
    this.views = new Array(this.frameCount);
    this.sharedWithSnapshot = new Uint8Array(this.frameCount);
    this.codeMarks = new Uint8Array(this.frameCount);
    this.dirtyFlags = new Uint8Array(this.frameCount);
  }

  /** The one place a frame's backing array is set: records the pfn for the next restore. */
  private setFrame(pfn: number, frame: Uint8Array | undefined): void {
    this.frames[pfn] = frame;
    if (this.baseline !== null && this.dirtyFlags[pfn] === 0) {
      this.dirtyFlags[pfn] = 1;
      this.dirtyList.push(pfn);
    }
  }

  /** Frames whose backing array changed since the last snapshot or restore (for tests and tools). */
  get dirtyFrameCount(): number {
    return this.dirtyList.length;
  }

  private clearDirty(): void {
    for (const pfn of this.dirtyList) this.dirtyFlags[pfn] = 0;
    this.dirtyList = [];
  }

  /** True when the physical address lies in RAM. */
  inRam(pa: number): boolean {
    return pa >= 0 && pa < this.size;
  }

  /** Bytes of a frame for reading: RAM frames (zero if never written), all-ones beyond RAM. */
  frameForRead(pfn: number): Uint8Array {
    if (pfn >= this.frameCount || pfn < 0) return ALL_ONES_FRAME;
    return this.frames[pfn] ?? ZERO_FRAME;
  }

  /**
   * Bytes of a RAM frame for writing, allocated (or un-shared from a snapshot) on demand.
   * Returns undefined beyond RAM, where writes are dropped. Does not fire `onCodeWrite`.
   */
  frameForWrite(pfn: number): Uint8Array | undefined {
    if (pfn >= this.frameCount || pfn < 0) return undefined;
    let frame = this.frames[pfn];
    if (frame === undefined) {
      frame = new Uint8Array(PAGE_SIZE);
      this.setFrame(pfn, frame);
    } else if (this.sharedWithSnapshot[pfn] !== 0) {
      frame = frame.slice();
      this.setFrame(pfn, frame);
      this.views[pfn] = undefined;
      this.sharedWithSnapshot[pfn] = 0;
      this.notifyFrameReplaced(pfn);
    }
    return frame;
  }

  /** A DataView over a frame for reading: zero if never written, all-ones beyond RAM. */
  viewForRead(pfn: number): DataView {
    if (pfn >= this.frameCount || pfn < 0) return ALL_ONES_VIEW;
    if (this.frames[pfn] === undefined) return ZERO_VIEW;
    return this.viewOf(pfn);
  }

  /**
   * A DataView over a RAM frame for writing (allocated or un-shared first), undefined beyond RAM.
   * Does not fire `onCodeWrite`: a caller that writes through it checks `codeMarks` itself.
   */
  viewForWrite(pfn: number): DataView | undefined {
    // Fast case (every TLB fill with write rights): a private frame whose view exists already.
    if (pfn >= 0 && pfn < this.frameCount && this.sharedWithSnapshot[pfn] === 0) {
      const view = this.views[pfn];
      if (view !== undefined) return view;
    }
    if (this.frameForWrite(pfn) === undefined) return undefined;
    return this.viewOf(pfn);
  }

  /**
   * A DataView to keep in a cache (the TLB): a never-written RAM frame is allocated first, but a
   * frame shared with a snapshot stays shared; if it is later split, the listeners hear of it.
   * Beyond RAM it is the shared all-ones view, which must only be read.
   */
  viewForCache(pfn: number): DataView {
    if (pfn >= this.frameCount || pfn < 0) return ALL_ONES_VIEW;
    if (this.frames[pfn] === undefined) this.setFrame(pfn, new Uint8Array(PAGE_SIZE));
    return this.viewOf(pfn);
  }

  private viewOf(pfn: number): DataView {
    let view = this.views[pfn];
    if (view === undefined) {
      const frame = this.frames[pfn]!;
      view = new DataView(frame.buffer, frame.byteOffset, PAGE_SIZE);
      this.views[pfn] = view;
    }
    return view;
  }

  /** Hear when a frame's backing array is replaced (see the header); returns a remover. */
  addFrameReplacedListener(listener: FrameReplacedListener): () => void {
    this.frameReplacedListeners.push(listener);
    return () => {
      const i = this.frameReplacedListeners.indexOf(listener);
      if (i >= 0) this.frameReplacedListeners.splice(i, 1);
    };
  }

  private notifyFrameReplaced(pfn: number): void {
    for (const listener of this.frameReplacedListeners) listener(pfn);
  }

  /** True once a frame has backing store (it was written at least once). */
  isAllocated(pfn: number): boolean {
    return pfn >= 0 && pfn < this.frameCount && this.frames[pfn] !== undefined;
  }

  private noteWrite(pfn: number): void {
    if (pfn < this.frameCount && this.codeMarks[pfn] !== 0) this.onCodeWrite(pfn);
  }

  read8(pa: number): number {
    return this.frameForRead(Math.floor(pa / PAGE_SIZE))[pa % PAGE_SIZE]!;
  }

  write8(pa: number, value: number): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    this.noteWrite(pfn);
    const frame = this.frameForWrite(pfn);
    if (frame !== undefined) frame[pa % PAGE_SIZE] = value;
  }

  /** Little-endian unsigned read of 1..4 bytes; may cross frames. */
  readU32(pa: number, bytes = 4): number {
    const off = pa % PAGE_SIZE;
    if (off + bytes <= PAGE_SIZE) {
      const f = this.frameForRead(Math.floor(pa / PAGE_SIZE));
      let v = 0;
      for (let i = bytes - 1; i >= 0; i--) v = v * 256 + f[off + i]!;
      return v;
    }
    let v = 0;
    for (let i = bytes - 1; i >= 0; i--) v = v * 256 + this.read8(pa + i);
    return v;
  }

  /** Little-endian write of 1..4 bytes of `value`; may cross frames. */
  writeU32(pa: number, value: number, bytes = 4): void {
    const off = pa % PAGE_SIZE;
    if (off + bytes <= PAGE_SIZE) {
      // One frame: one code-mark check and one frame lookup for the whole value (the kernel model
      // writes every page-table entry through here).
      const pfn = Math.floor(pa / PAGE_SIZE);
      this.noteWrite(pfn);
      const frame = this.frameForWrite(pfn);
      if (frame === undefined) return;
      for (let i = 0; i < bytes; i++) {
        frame[off + i] = value & 0xff;
        value >>>= 8;
      }
      return;
    }
    for (let i = 0; i < bytes; i++) {
      this.write8(pa + i, value & 0xff);
      value >>>= 8;
    }
  }

  /** 64-bit little-endian read as a bigint (for tables and tools, not for the hot path). */
  readU64(pa: number): bigint {
    const lo = BigInt(this.readU32(pa, 4));
    const hi = BigInt(this.readU32(pa + 4, 4));
    return (hi << 32n) | lo;
  }

  writeU64(pa: number, value: bigint): void {
    this.writeU32(pa, Number(value & 0xffffffffn), 4);
    this.writeU32(pa + 4, Number((value >> 32n) & 0xffffffffn), 4);
  }

  /** Copy bytes out of physical memory (beyond RAM reads as 0xff). */
  readBytes(pa: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.read8(pa + i);
    return out;
  }

  writeBytes(pa: number, bytes: ArrayLike<number>): void {
    for (let i = 0; i < bytes.length; i++) this.write8(pa + i, bytes[i]!);
  }

  /** Zero a whole frame (used when the kernel hands out a fresh page). */
  zeroFrame(pfn: number): void {
    this.noteWrite(pfn);
    if (this.frames[pfn] !== undefined) this.frameForWrite(pfn)!.fill(0);
  }

  /**
   * Copy-on-write snapshot of RAM: returns the current frame list; every allocated frame becomes
   * shared, so the next write to it copies it first. Cost: O(frames of RAM).
   */
  snapshotFrames(): (Uint8Array | undefined)[] {
    const copy = this.frames.slice();
    for (let pfn = 0; pfn < this.frameCount; pfn++) {
      if (copy[pfn] !== undefined) this.sharedWithSnapshot[pfn] = 1;
    }
    this.baseline = copy;
    this.clearDirty();
    // Arrays cached for writing would now write into the snapshot: make every cache let go.
    this.notifyFrameReplaced(-1);
    return copy;
  }

  /**
   * Restore a frame list taken by `snapshotFrames`; frames stay shared with the snapshot.
   * Restoring the list last taken or restored visits only the frames allocated or copied since
   * (the dirty list); any other list costs one pass over RAM's frames.
   */
  restoreFrames(saved: (Uint8Array | undefined)[]): void {
    if (saved.length !== this.frameCount) throw new RangeError('snapshot belongs to a machine of another size');
    if (saved === this.baseline) {
      for (const pfn of this.dirtyList) this.restoreFrame(pfn, saved[pfn]);
    } else {
      for (let pfn = 0; pfn < this.frameCount; pfn++) this.restoreFrame(pfn, saved[pfn]);
      this.baseline = saved;
    }
    this.clearDirty();
    this.notifyFrameReplaced(-1);
  }

  private restoreFrame(pfn: number, frame: Uint8Array | undefined): void {
    if (this.frames[pfn] !== frame) {
      if (this.codeMarks[pfn] !== 0) this.onCodeWrite(pfn);
      this.views[pfn] = undefined;
      this.frames[pfn] = frame;
    }
    this.sharedWithSnapshot[pfn] = frame === undefined ? 0 : 1;
  }
}
