// The hypervisor's nested page table (AMD APM Vol.2 §15.25: "nested paging"). It lives in emulated
// physical memory, in the long-mode 4-level format, rooted at nCR3, and maps guest physical
// addresses (GPA) to system physical addresses (SPA) with 4K, 2M (PS in the PDE) or 1G (PS in the
// PDPTE) leaves. The guest walk (src/guest/walk.ts) reads it from physical memory like hardware;
// this file only builds and edits it, as KVM's TDP MMU does.
//
// Every nested access is a user access (APM §15.25.5), so every entry this builder writes has U/S=1,
// as KVM's SPTEs do. Upper levels get P|RW|US; leaves get the flags the caller asks for.

import type { PhysicalMemory } from '../mem/physical.ts';
import { SIZE_1G, SIZE_2M, SIZE_4K } from '../guest/constants.ts';
import { PTE_ADDR_MASK, PTE_BITS } from '../mmu/paging-bits.ts';

/** Hands out zeroed 4K frames from [start, end), skipping frames the caller must not use. */
export class FrameAllocator {
  private next: number;
  private top: number;

  constructor(
    private readonly phys: PhysicalMemory,
    start: number,
    private readonly end: number,
    private readonly avoid: (pfn: number) => boolean = () => false,
  ) {
    if (start % SIZE_4K !== 0 || end % SIZE_4K !== 0 || end <= start) {
      throw new RangeError(`frame pool [0x${start.toString(16)}, 0x${end.toString(16)}) must be 4K-aligned and non-empty`);
    }
    this.next = start;
    this.top = end;
  }

  /**
   * A contiguous block of `bytes` aligned to `align` (a power of two ≥ 4K), taken from the top of
   * the pool downwards so that large aligned blocks do not collide with the table frames that
   * alloc() hands out from the bottom. Not zeroed (frames read as zero until written). Throws when
   * the pool is exhausted.
   */
  allocContiguous(bytes: number, align: number): number {
    let start = Math.floor((this.top - bytes) / align) * align;
    for (;;) {
      if (start < this.next) throw new RangeError(`out of host memory for a ${bytes / 1024}K block: enlarge machine.memory`);
      let clash = -1;
      for (let pa = start; pa < start + bytes; pa += SIZE_4K) {
        if (this.avoid(pa / SIZE_4K)) { clash = pa; break; }
      }
      if (clash < 0) break;
      start = Math.floor((clash - bytes) / align) * align;
    }
    this.top = start;
    return start;
  }

  /** A zeroed frame's physical address. Throws when the pool is exhausted. */
  alloc(): number {
    while (this.next < this.top) {
      const pa = this.next;
      this.next += SIZE_4K;
      if (this.avoid(pa / SIZE_4K)) continue;
      this.phys.zeroFrame(pa / SIZE_4K);
      return pa;
    }
    throw new RangeError('out of frames for page tables: enlarge machine.memory');
  }
}

/** A leaf of the nested table, as `lookup` finds it. */
export interface NestedLeaf {
  /** Physical address of the leaf entry itself. */
  entryPa: number;
  /** The entry's value. */
  entry: bigint;
  /** Size the leaf maps: 4K, 2M or 1G. */
  size: number;
  /** SPA that the looked-up GPA translates to. */
  spa: number;
}

/** Level shifts: PML4 39, PDPT 30, PD 21, PT 12. */
const SHIFTS = [39, 30, 21, 12] as const;

function indexOf(gpa: number, shift: number): number {
  return Math.floor(gpa / 2 ** shift) % 512;
}

function sizeToLeafLevel(size: number): number {
  if (size === SIZE_4K) return 3;
  if (size === SIZE_2M) return 2;
  if (size === SIZE_1G) return 1;
  throw new RangeError(`nested mapping size must be 4K, 2M or 1G, got ${size}`);
}

export class NestedPageTable {
  /** nCR3: the physical address of the PML4. */
  readonly root: number;

  constructor(
    private readonly phys: PhysicalMemory,
    private readonly frames: FrameAllocator,
  ) {
    this.root = frames.alloc();
  }

  /**
   * Map `gpa` → `spa` with one leaf of `size` bytes (both aligned to it). Flags default to
   * P|RW|US (A and D clear: the walk sets them). A leaf already in the way is replaced, as KVM does
   * after zapping: a huge leaf where a table is needed becomes a fresh table, a table where a huge
   * leaf goes is dropped.
   */
  map(gpa: number, spa: number, size: number, flags: bigint = PTE_BITS.P | PTE_BITS.RW | PTE_BITS.US): void {
    const leafLevel = sizeToLeafLevel(size);
    if (gpa % size !== 0 || spa % size !== 0) {
      throw new RangeError(`nested ${size / 1024}K mapping needs aligned addresses: gpa 0x${gpa.toString(16)}, spa 0x${spa.toString(16)}`);
    }
    let table = this.root;
    for (let level = 0; level < leafLevel; level++) {
      const entryPa = table + indexOf(gpa, SHIFTS[level]!) * 8;
      const e = this.phys.readU64(entryPa);
      if ((e & PTE_BITS.P) !== 0n && (level === 0 || (e & PTE_BITS.PS) === 0n)) {
        table = Number(e & PTE_ADDR_MASK);
        continue;
      }
      const next = this.frames.alloc();
      this.phys.writeU64(entryPa, BigInt(next) | PTE_BITS.P | PTE_BITS.RW | PTE_BITS.US);
      table = next;
    }
    const leafPa = table + indexOf(gpa, SHIFTS[leafLevel]!) * 8;
    const ps = leafLevel < 3 ? PTE_BITS.PS : 0n;
    this.phys.writeU64(leafPa, BigInt(spa) | flags | ps);
  }

  /** Write a raw 64-bit value into the entry that maps `gpa` at `size` (for reserved-bit and odd cases). */
  setRawLeaf(gpa: number, size: number, value: bigint): void {
    this.map(gpa, 0, size);
    const leaf = this.lookup(gpa);
    if (leaf === null) throw new Error('unreachable: a just-made leaf is missing');
    this.phys.writeU64(leaf.entryPa, value);
  }

  /** The leaf that maps `gpa`, or null when some level is not present. */
  lookup(gpa: number): NestedLeaf | null {
    let table = this.root;
    for (let level = 0; level < 4; level++) {
      const entryPa = table + indexOf(gpa, SHIFTS[level]!) * 8;
      const e = this.phys.readU64(entryPa);
      if ((e & PTE_BITS.P) === 0n) return null;
      const isLeaf = level === 3 || (level > 0 && (e & PTE_BITS.PS) !== 0n);
      if (isLeaf) {
        const size = 2 ** SHIFTS[level]!;
        const base = Number(e & PTE_ADDR_MASK) - (level < 3 ? Number(e & PTE_ADDR_MASK) % size : 0);
        return { entryPa, entry: e, size, spa: base + (gpa % size) };
      }
      table = Number(e & PTE_ADDR_MASK);
    }
    return null;
  }

  /**
   * Zap every leaf that maps any byte of [gpa, gpa + bytes): clear it (P=0), as KVM's
   * kvm_zap_gfn_range() drops SPTEs. A huge leaf that overlaps the range is dropped whole.
   * Returns the number of leaves cleared. The caller flushes the TLBs of the guest.
   */
  zap(gpa: number, bytes: number): number {
    let cleared = 0;
    let at = gpa;
    const end = gpa + bytes;
    while (at < end) {
      const leaf = this.lookup(at);
      if (leaf === null) {
        at = Math.floor(at / SIZE_4K) * SIZE_4K + SIZE_4K;
        continue;
      }
      this.phys.writeU64(leaf.entryPa, 0n);
      cleared++;
      at = Math.floor(at / leaf.size) * leaf.size + leaf.size;
    }
    return cleared;
  }
}
