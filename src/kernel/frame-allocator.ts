// The kernel's physical frame allocator: which 4 KiB frames the emulated kernel may hand out for
// page tables, anonymous pages, THPs and hugetlb pages.
//
// Frames that are not the kernel's to give are reserved up front: the RMP table itself (a Linux host
// reserves it in e820, spec/rmp.md §1.2), every frame a scenario pins with `pa`, and every page a
// scenario names in `physical` or `rmp`. The first MiB is left alone, as Linux leaves it to the
// firmware and real-mode trampolines.
//
// Order (chosen for determinism, documented in docs/kernel.md): 4K frames come from a LIFO list of
// freed frames first (Linux's per-CPU page lists hand back the last freed page), then from a cursor
// that climbs from 1 MiB; huge frames (2M, 1G) are searched top-down, so small allocations do not
// fragment the naturally aligned blocks huge pages need.

import { SIZE_1G, SIZE_2M, SIZE_4K } from './constants.ts';

const FRAMES_PER_2M = SIZE_2M / SIZE_4K; // 512
const BLOCKS_PER_1G = SIZE_1G / SIZE_2M; // 512

export class OutOfFramesError extends Error {
  override name = 'OutOfFramesError';
}

export class FrameAllocator {
  readonly frameCount: number;
  /** 1 when the frame is in use or reserved. */
  private readonly used: Uint8Array;
  /** Number of used frames in each 2 MiB block: a block is free for a 2M page when its count is 0. */
  private readonly usedPer2M: Uint16Array;
  private readonly freed: number[] = [];
  private cursor: number;

  constructor(memoryBytes: number) {
    this.frameCount = Math.floor(memoryBytes / SIZE_4K);
    this.used = new Uint8Array(this.frameCount);
    this.usedPer2M = new Uint16Array(Math.ceil(this.frameCount / FRAMES_PER_2M));
    // A partial last 2M block can never hold a 2M page: count its missing frames as used.
    const tail = this.frameCount % FRAMES_PER_2M;
    if (tail !== 0) this.usedPer2M[this.usedPer2M.length - 1] = FRAMES_PER_2M - tail;
    this.cursor = Math.min(0x100000 / SIZE_4K, this.frameCount);
    this.reserve(0, Math.min(0x100000, memoryBytes));
  }

  /** Mark [pa, pa+bytes) as not the allocator's to give (clipped to RAM). */
  reserve(pa: number, bytes: number): void {
    const first = Math.max(0, Math.floor(pa / SIZE_4K));
    const end = Math.min(this.frameCount, Math.ceil((pa + bytes) / SIZE_4K));
    for (let pfn = first; pfn < end; pfn++) this.mark(pfn);
  }

  isUsed(pfn: number): boolean {
    return pfn < 0 || pfn >= this.frameCount || this.used[pfn] !== 0;
  }

  /** One 4 KiB frame; its pfn. */
  alloc4K(): number {
    while (this.freed.length > 0) {
      const pfn = this.freed.pop()!;
      if (this.used[pfn] === 0) {
        this.mark(pfn);
        return pfn;
      }
    }
    while (this.cursor < this.frameCount && this.used[this.cursor] !== 0) this.cursor++;
    if (this.cursor >= this.frameCount) {
      // The cursor ran off the end: look for any free frame below it (freed huge pages, holes).
      for (let pfn = 0; pfn < this.frameCount; pfn++) {
        if (this.used[pfn] === 0) {
          this.mark(pfn);
          return pfn;
        }
      }
      throw new OutOfFramesError('out of physical memory: no free 4 KiB frame left');
    }
    const pfn = this.cursor++;
    this.mark(pfn);
    return pfn;
  }

  /** A naturally aligned 2 MiB block; the pfn of its first frame. */
  alloc2M(): number {
    for (let block = this.usedPer2M.length - 1; block >= 0; block--) {
      if (this.usedPer2M[block] === 0) {
        const first = block * FRAMES_PER_2M;
        for (let i = 0; i < FRAMES_PER_2M; i++) this.mark(first + i);
        return first;
      }
    }
    throw new OutOfFramesError('out of physical memory: no free, 2 MiB-aligned 2 MiB block left');
  }

  /** A naturally aligned 1 GiB block; the pfn of its first frame. */
  alloc1G(): number {
    const blocks1G = Math.floor(this.usedPer2M.length / BLOCKS_PER_1G);
    for (let g = blocks1G - 1; g >= 0; g--) {
      let free = true;
      for (let b = 0; b < BLOCKS_PER_1G && free; b++) free = this.usedPer2M[g * BLOCKS_PER_1G + b] === 0;
      if (!free) continue;
      const first = g * BLOCKS_PER_1G * FRAMES_PER_2M;
      for (let i = 0; i < BLOCKS_PER_1G * FRAMES_PER_2M; i++) this.mark(first + i);
      return first;
    }
    // The kernel's own frames sit in the low blocks, so a 1G page needs RAM past them: one GiB more.
    const suggestion = `${Math.ceil((this.usedPer2M.length * FRAMES_PER_2M * 4096) / 2 ** 30) + 1}G`;
    throw new OutOfFramesError(`out of physical memory: no free, 1 GiB-aligned 1 GiB block left (raise machine.memory, e.g. "${suggestion}")`);
  }

  /** Allocate a frame run for a page of `bytes` (4K, 2M or 1G). */
  allocPage(bytes: number): number {
    if (bytes === SIZE_4K) return this.alloc4K();
    if (bytes === SIZE_2M) return this.alloc2M();
    if (bytes === SIZE_1G) return this.alloc1G();
    throw new RangeError(`no page size of ${bytes} bytes`);
  }

  /** Give `count` frames starting at `pfn` back. 4K frames go on the LIFO list. */
  free(pfn: number, count = 1): void {
    for (let i = count - 1; i >= 0; i--) {
      const f = pfn + i;
      if (f < 0 || f >= this.frameCount || this.used[f] === 0) continue;
      this.used[f] = 0;
      this.usedPer2M[Math.floor(f / FRAMES_PER_2M)]!--;
      if (count === 1) this.freed.push(f);
      else if (f < this.cursor) this.cursor = f;
    }
  }

  private mark(pfn: number): void {
    if (this.used[pfn] !== 0) return;
    this.used[pfn] = 1;
    this.usedPer2M[Math.floor(pfn / FRAMES_PER_2M)]!++;
  }
}
