// Virtual memory areas (Linux struct vm_area_struct): what the process may touch, with which
// protection and backing. The page tables say what is mapped right now; the VMAs say what a fault may
// map (mm/mmap.c, find_vma).

export type VmaKind = 'anon' | 'thp' | 'hugetlb' | 'shared-file' | 'private-file';

export interface Prot {
  read: boolean;
  write: boolean;
  exec: boolean;
}

/** Page-cache frames of a file-backed mapping: pfns[i] holds the file's bytes at page i. */
export interface FileBacking {
  /** Virtual address that file page 0 is mapped at. */
  base: number;
  pfns: number[];
}

export interface Vma {
  start: number;
  /** Exclusive end. */
  end: number;
  prot: Prot;
  kind: VmaKind;
  /** Human name: a region name, "[heap]", "[stack]", "mmap", an ELF segment. */
  name: string;
  /** Size of the leaves this VMA is mapped with when it is populated or faulted: 4K, 2M or 1G. */
  pageBytes: number;
  /** VM_HUGEPAGE / THP-eligible: a none PMD over an aligned 2M range faults in a 2M page. */
  thp: boolean;
  file?: FileBacking;
  /** Frames pinned by a scenario (`pa`): frame of `start`; the mapping is contiguous. */
  pinnedPa?: number;
}

export function protString(p: Prot): string {
  return `${p.read ? 'r' : '-'}${p.write ? 'w' : '-'}${p.exec ? 'x' : '-'}`;
}

/** The sorted, non-overlapping list of a process's VMAs. */
export class VmaList {
  private readonly list: Vma[] = [];

  all(): readonly Vma[] {
    return this.list;
  }

  /** The VMA that contains `va`, or undefined (find_vma plus the start check of do_user_addr_fault). */
  find(va: number): Vma | undefined {
    for (const v of this.list) if (va >= v.start && va < v.end) return v;
    return undefined;
  }

  /** Any VMA overlapping [start, end)? */
  overlaps(start: number, end: number): boolean {
    return this.list.some((v) => v.start < end && start < v.end);
  }

  insert(vma: Vma): void {
    if (this.overlaps(vma.start, vma.end)) {
      throw new Error(`internal: VMA 0x${vma.start.toString(16)}-0x${vma.end.toString(16)} overlaps another`);
    }
    this.list.push(vma);
    this.list.sort((a, b) => a.start - b.start);
  }

  /**
   * Split VMAs so that `start` and `end` fall on VMA boundaries (split_vma), and return the VMAs
   * inside [start, end).
   */
  carve(start: number, end: number): Vma[] {
    for (const edge of [start, end]) {
      const v = this.find(edge);
      if (v !== undefined && v.start < edge) {
        const tail: Vma = { ...v, start: edge, prot: { ...v.prot } };
        v.end = edge;
        this.list.push(tail);
      }
    }
    this.list.sort((a, b) => a.start - b.start);
    return this.list.filter((v) => v.start >= start && v.end <= end);
  }

  remove(vma: Vma): void {
    const i = this.list.indexOf(vma);
    if (i >= 0) this.list.splice(i, 1);
  }

  /** Highest free gap of `length` bytes, aligned to `align`, below `below` (top-down mmap layout). */
  findGap(length: number, align: number, below: number, above: number): number | undefined {
    let top = below;
    const sorted = [...this.list].sort((a, b) => b.start - a.start);
    for (const v of sorted) {
      if (v.end <= top) {
        const candidate = Math.floor((top - length) / align) * align;
        if (candidate >= v.end && candidate >= above) return candidate;
      }
      top = Math.min(top, v.start);
    }
    const candidate = Math.floor((top - length) / align) * align;
    return candidate >= above ? candidate : undefined;
  }
}
