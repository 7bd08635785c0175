// A process's address space: VMAs plus page tables, and the memory-management operations the fault
// handler, the syscalls and the scenario events use. Each operation is named after the Linux function
// it models (mm/memory.c, mm/huge_memory.c, mm/hugetlb.c, mm/mprotect.c, mm/mmap.c).
//
// Leaf entries follow x86 Linux's vm_page_prot (pgtable_types.h): every user leaf has P|US|A
// (PAGE_SHARED, PAGE_COPY and PAGE_READONLY all include _PAGE_ACCESSED), RW only when the page may be
// written now, NX for non-executable VMAs when EFER.NXE is on. D is set when the page is mapped for a
// write (do_anonymous_page: pte_mkwrite(pte_mkdirty()); hugetlb make_huge_pte; THP maybe_pmd_mkwrite
// (pmd_mkdirty())). Upper levels get _PAGE_TABLE (P|RW|US|A|D).

import { PTE_BITS } from '../mmu/paging-bits.ts';
import { KERNEL_RIP, SIZE_1G, SIZE_2M, SIZE_4K } from './constants.ts';
import { OutOfFramesError, type FrameAllocator } from './frame-allocator.ts';
import type { KernelMemory } from './kernel-memory.ts';
import {
  describeFlags, isLeaf, isPresent, leafFrame, LEVEL_NAMES, levelBytes, levelOfBytes, PageTables,
  type Level, type LeafRef,
} from './page-tables.ts';
import { protString, VmaList, type Prot, type Vma, type VmaKind } from './vma.ts';

/** What the MMU offers the kernel for TLB maintenance. */
export interface TlbPort {
  invlpg(la: number): void;
  flushAll(): void;
}

/** The kernel handler's decisions, in the scenario vocabulary (spec/scenario.md `kernel`). */
export const KERNEL_ACTIONS = [
  'split', 'retry', 'unmap', 'sigbus', 'sigsegv', 'spurious', 'demand', 'cow', 'efault', 'oops',
] as const;
export type KernelAction = (typeof KERNEL_ACTIONS)[number];

/** What handle_mm_fault did. */
export interface MmFaultResult {
  action: 'demand' | 'cow' | 'spurious' | 'split' | 'split-ignored' | 'oom';
  why: string;
}

/** Ownership of the frames a leaf points at, so zap knows what to give back to the allocator. */
type FrameOwner = 'anon' | 'pinned' | 'file' | 'zero' | 'foreign';

/** A mapping request: a scenario region, an ELF segment, an mmap. */
export interface MapRequest {
  name: string;
  start: number;
  size: number;
  prot: Prot;
  kind: VmaKind;
  /** Leaf size: 4K, 2M or 1G. */
  pageBytes: number;
  /** Pinned frames (the scenario's `pa`). */
  pa?: number;
  /** Initial bytes from `start`. */
  bytes?: Uint8Array;
  /** MAP_POPULATE: map every page now (scenario regions always are). */
  populate: boolean;
}

export class MmError extends Error {
  override name = 'MmError';
}

export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/**
 * A present-leaf result on a branch that never splits (hugetlb_fault, the PUD branch of
 * __handle_mm_fault): when FAULT_FLAG_PAGE_SPLIT was set, `ignored` is the sentence saying it was
 * ignored, and the action says so too; otherwise `ignored` is '' and the result stands.
 */
function splitIgnored(r: MmFaultResult, ignored: string): MmFaultResult {
  return ignored === '' ? r : { action: 'split-ignored', why: r.why.replace(/\.?$/, '.') + ignored };
}

export class AddressSpace {
  readonly vmas = new VmaList();
  readonly tables: PageTables;
  /** Owner of each mapped frame run, keyed by its first pfn (huge pages: one record). */
  private readonly owners = new Map<number, FrameOwner>();
  private zeroPfn = -1;

  constructor(
    private readonly kmem: KernelMemory,
    private readonly frames: FrameAllocator,
    private readonly tlb: TlbPort,
    private readonly nx: boolean,
  ) {
    this.tables = new PageTables(kmem, frames);
  }

  // ---- leaves -----------------------------------------------------------------------------------

  private leafValue(pa: number, level: Level, vma: Vma, writable: boolean, dirty: boolean): bigint {
    let v = BigInt(pa) | PTE_BITS.P | PTE_BITS.US | PTE_BITS.A;
    if (writable) v |= PTE_BITS.RW;
    if (dirty) v |= PTE_BITS.D;
    if (level !== 1) v |= PTE_BITS.PS;
    if (this.nx && !vma.prot.exec) v |= PTE_BITS.NX;
    return v;
  }

  private installLeaf(va: number, level: Level, value: bigint, what: string): void {
    const slot = this.tables.ensureSlot(va, level);
    this.tables.setEntry(slot, value, what);
    this.tlb.invlpg(va);
  }

  /** The zero page: one frame of zeros mapped read-only for read faults (my_zero_pfn). */
  private zeroPage(): number {
    if (this.zeroPfn < 0) {
      this.zeroPfn = this.frames.alloc4K();
      this.kmem.zeroFrames(this.zeroPfn, 1, KERNEL_RIP.clear_page, 'clear_page: the zero page');
      this.owners.set(this.zeroPfn, 'zero');
    }
    return this.zeroPfn;
  }

  /** Allocate and clear a page of `bytes` for an anonymous fault; its physical address. */
  private freshPage(bytes: number, what: string): number {
    const pfn = this.frames.allocPage(bytes);
    this.kmem.zeroFrames(pfn, bytes / SIZE_4K, KERNEL_RIP.clear_page, what);
    this.owners.set(pfn, 'anon');
    return pfn * SIZE_4K;
  }

  ownerOf(pa: number): FrameOwner {
    return this.owners.get(Math.floor(pa / SIZE_4K)) ?? 'foreign';
  }

  // ---- creating mappings ------------------------------------------------------------------------

  /**
   * Create a VMA and, with `populate`, map every page of it now (MAP_POPULATE). Pinned frames
   * (`pa`) back the region as given; otherwise frames come from the allocator.
   */
  map(req: MapRequest): Vma {
    const { start, size, pageBytes } = req;
    const end = start + size;
    if (start % pageBytes !== 0 || size % pageBytes !== 0 || size <= 0) {
      throw new MmError(`region "${req.name}": start ${hex(start)} and size ${hex(size)} must be multiples of the page size ${hex(pageBytes)}`);
    }
    if (end > 2 ** 47) throw new MmError(`region "${req.name}" ends at ${hex(end)}, above the user half (2^47)`);
    if (this.vmas.overlaps(start, end)) throw new MmError(`region "${req.name}" (${hex(start)}-${hex(end)}) overlaps another mapping`);
    if (req.pa !== undefined && req.pa % pageBytes !== 0) {
      throw new MmError(`region "${req.name}": pinned pa ${hex(req.pa)} must be aligned to its page size ${hex(pageBytes)}`);
    }
    if ((req.kind === 'shared-file' || req.kind === 'private-file') && pageBytes !== SIZE_4K) {
      throw new MmError(`region "${req.name}": file-backed kinds are mapped with 4K pages in this kernel model`);
    }
    if (req.kind === 'thp' && pageBytes !== SIZE_2M) throw new MmError(`region "${req.name}": a THP is mapped by a PMD (2M)`);
    const vma: Vma = {
      start, end, prot: { ...req.prot }, kind: req.kind, name: req.name, pageBytes,
      thp: req.kind === 'thp' || (req.kind === 'anon' && pageBytes === SIZE_2M),
      pinnedPa: req.pa,
    };
    this.vmas.insert(vma);
    if (req.kind === 'shared-file' || req.kind === 'private-file') {
      this.createFile(vma, req);
    }
    if (!req.populate) return vma;
    if (!req.prot.read && !req.prot.write && !req.prot.exec) return vma; // PROT_NONE: GUP maps nothing
    this.populate(vma, req);
    return vma;
  }

  /** The page cache of a file-backed region: frames holding the file's bytes. */
  private createFile(vma: Vma, req: MapRequest): void {
    const pages = req.size / SIZE_4K;
    // Pinned frames are the page cache, except for a writable private mapping, whose populated
    // pages are the private copies (see populate).
    const pinCache = req.pa !== undefined && !(req.kind === 'private-file' && req.prot.write);
    const pfns: number[] = [];
    for (let i = 0; i < pages; i++) {
      const pfn = pinCache ? req.pa! / SIZE_4K + i : this.frames.alloc4K();
      if (!pinCache) this.kmem.zeroFrames(pfn, 1, KERNEL_RIP.clear_page, `page cache of "${req.name}"`);
      pfns.push(pfn);
      this.owners.set(pfn, 'file');
    }
    vma.file = { base: vma.start, pfns };
    if (req.bytes !== undefined && req.bytes.length > 0) {
      for (let i = 0; i < pages; i++) {
        const chunk = req.bytes.subarray(i * SIZE_4K, (i + 1) * SIZE_4K);
        if (chunk.length === 0) break;
        this.kmem.writeBytes(pfns[i]! * SIZE_4K, chunk, KERNEL_RIP.copy_page, `load the file bytes of "${req.name}"`);
      }
    }
  }

  private populate(vma: Vma, req: MapRequest): void {
    const level = levelOfBytes(vma.pageBytes);
    const w = vma.prot.write;
    for (let va = vma.start; va < vma.end; va += vma.pageBytes) {
      const offset = va - vma.start;
      let pa: number;
      let writable = w;
      let dirty = w;
      if (vma.file !== undefined) {
        const cachePfn = vma.file.pfns[offset / SIZE_4K]!;
        if (vma.kind === 'shared-file') {
          // A read fault maps the shmem page with vm_page_prot: writable if the VMA is, still clean.
          pa = cachePfn * SIZE_4K;
          dirty = false;
        } else if (w) {
          // MAP_POPULATE on a writable private mapping write-faults each page (populate_vma_page_range
          // sets FOLL_WRITE), so copy-on-write is broken now: a private copy.
          const pfn = req.pa !== undefined ? req.pa / SIZE_4K + offset / SIZE_4K : this.frames.alloc4K();
          this.kmem.copyFrame(cachePfn, pfn, KERNEL_RIP.copy_page, `copy-on-write copy of "${vma.name}" page ${hex(va)}`);
          this.owners.set(pfn, req.pa !== undefined ? 'pinned' : 'anon');
          pa = pfn * SIZE_4K;
        } else {
          pa = cachePfn * SIZE_4K;
        }
      } else if (req.pa !== undefined) {
        pa = req.pa + offset;
        this.owners.set(pa / SIZE_4K, 'pinned');
      } else {
        pa = this.freshPage(vma.pageBytes, `clear_page for "${vma.name}" at ${hex(va)}`);
      }
      if (vma.file === undefined && req.bytes !== undefined && offset < req.bytes.length) {
        const chunk = req.bytes.subarray(offset, offset + vma.pageBytes);
        this.kmem.writeBytes(pa, chunk, KERNEL_RIP.copy_page, `load the bytes of "${vma.name}"`);
      }
      if (vma.file === undefined && req.bytes === undefined && req.pa !== undefined) {
        // A pinned frame is handed over as the scenario left it: its bytes are whatever `physical`
        // placed there (scenario.md: "Other bytes are zero" applies to unpinned regions).
      }
      // hugetlb's make_huge_pte sets young; the others have A from vm_page_prot already.
      this.installLeaf(va, level, this.leafValue(pa, level, vma, writable, dirty), `populate ${vma.name} at ${hex(va)}`);
    }
  }

  // ---- handle_mm_fault ----------------------------------------------------------------------------

  /**
   * handle_mm_fault (mm/memory.c) for a fault at `va` inside `vma`, after access_error passed.
   * `split` is v7's FAULT_FLAG_PAGE_SPLIT: honoured only on the PMD (THP) branch, as in v7's
   * __handle_mm_fault → handle_split_page_fault; hugetlb_fault and the PUD branch never look at it.
   */
  handleMmFault(vma: Vma, va: number, write: boolean, split: boolean): MmFaultResult {
    try {
      if (vma.kind === 'hugetlb') return this.hugetlbFault(vma, va, write, split);
      if (vma.pageBytes === SIZE_1G) return this.hugePudFault(vma, va, write, split);
      // PMD branch.
      const pmdSlot = this.tables.ensureSlot(va, 2);
      const pmd = this.tables.readEntry(pmdSlot);
      if (pmd === 0n && vma.thp && this.thpFits(vma, va)) {
        return this.createHugePmd(vma, va, write);
      }
      if (isPresent(pmd) && isLeaf(pmd, 2)) {
        if (split) return this.splitHugePmd(vma, va, 'handle_split_page_fault (FAULT_FLAG_PAGE_SPLIT)');
        if (write && (pmd & PTE_BITS.RW) === 0n) return this.wpHuge(vma, va, pmdSlot, pmd, 2);
        return this.setAccessed(va, pmdSlot, pmd, 2, write, 'huge_pmd_set_accessed');
      }
      return this.ptePath(vma, va, write, split);
    } catch (e) {
      if (e instanceof OutOfFramesError) return { action: 'oom', why: e.message };
      throw e;
    }
  }

  private thpFits(vma: Vma, va: number): boolean {
    const base = va - (va % SIZE_2M);
    return base >= vma.start && base + SIZE_2M <= vma.end && vma.file === undefined;
  }

  private createHugePmd(vma: Vma, va: number, write: boolean): MmFaultResult {
    const base = va - (va % SIZE_2M);
    let pa: number;
    try {
      pa = this.freshPage(SIZE_2M, `clear_huge_page for ${vma.name} at ${hex(base)}`);
    } catch (e) {
      if (!(e instanceof OutOfFramesError)) throw e;
      return this.ptePath(vma, va, write, false); // no 2M block: fall back to a 4K page
    }
    this.installLeaf(base, 2, this.leafValue(pa, 2, vma, vma.prot.write, vma.prot.write), `do_huge_pmd_anonymous_page at ${hex(base)}`);
    return {
      action: 'demand',
      why: `do_huge_pmd_anonymous_page: the PDE for ${hex(va)} was none in THP-eligible VMA "${vma.name}"; mapped a fresh zeroed 2M page at pa ${hex(pa)} with a PS=1 PDE`,
    };
  }

  private hugetlbFault(vma: Vma, va: number, write: boolean, split: boolean): MmFaultResult {
    const level = levelOfBytes(vma.pageBytes);
    const base = va - (va % vma.pageBytes);
    const slot = this.tables.ensureSlot(base, level);
    const entry = this.tables.readEntry(slot);
    const ignored = split ? ' FAULT_FLAG_PAGE_SPLIT is ignored here: hugetlb_fault() has no split path, so nothing was split.' : '';
    if (!isPresent(entry)) {
      const pa = this.freshPage(vma.pageBytes, `clear_huge_page (hugetlb) at ${hex(base)}`);
      this.installLeaf(base, level, this.leafValue(pa, level, vma, vma.prot.write, vma.prot.write), `hugetlb_no_page at ${hex(base)}`);
      return { action: split ? 'split-ignored' : 'demand', why: `hugetlb_no_page: the ${LEVEL_NAMES[level]} for ${hex(va)} was not present; mapped a fresh ${vma.pageBytes === SIZE_1G ? '1G' : '2M'} huge page at pa ${hex(pa)}.${ignored}` };
    }
    if (write && (entry & PTE_BITS.RW) === 0n) return splitIgnored(this.wpHuge(vma, va, slot, entry, level), ignored);
    return splitIgnored(this.setAccessed(base, slot, entry, level, write, 'hugetlb_fault'), ignored);
  }

  private hugePudFault(vma: Vma, va: number, write: boolean, split: boolean): MmFaultResult {
    const base = va - (va % SIZE_1G);
    const slot = this.tables.ensureSlot(base, 3);
    const entry = this.tables.readEntry(slot);
    const ignored = split ? ' FAULT_FLAG_PAGE_SPLIT is ignored on the PUD branch of __handle_mm_fault, so nothing was split.' : '';
    if (!isPresent(entry)) {
      const pa = this.freshPage(SIZE_1G, `clear_huge_page (PUD) at ${hex(base)}`);
      this.installLeaf(base, 3, this.leafValue(pa, 3, vma, vma.prot.write, vma.prot.write), `create_huge_pud at ${hex(base)}`);
      return { action: split ? 'split-ignored' : 'demand', why: `create_huge_pud: mapped a fresh 1G page at pa ${hex(pa)}.${ignored}` };
    }
    if (write && (entry & PTE_BITS.RW) === 0n) return splitIgnored(this.wpHuge(vma, va, slot, entry, 3), ignored);
    return splitIgnored(this.setAccessed(base, slot, entry, 3, write, 'huge_pud_set_accessed'), ignored);
  }

  /** Write fault on a present read-only huge leaf in a writable VMA: anonymous pages are reused. */
  private wpHuge(vma: Vma, va: number, slot: number, entry: bigint, level: Level): MmFaultResult {
    const value = entry | PTE_BITS.RW | PTE_BITS.D | PTE_BITS.A;
    this.tables.setEntry(slot, value, `wp of the ${LEVEL_NAMES[level]} for ${hex(va)}`);
    this.tlb.invlpg(va);
    return { action: 'cow', why: `write to a read-only ${LEVEL_NAMES[level]} (${describeFlags(entry, level)}) in writable VMA "${vma.name}": the huge page is exclusive, so it is reused and made writable` };
  }

  /**
   * The "nothing to do" end of the fault path: the entry is present and allows the access, so the
   * fault is treated as spurious (handle_pte_fault's ptep_set_access_flags branch,
   * huge_pmd_set_accessed, hugetlb_fault). A/D are set if missing; the instruction re-executes.
   */
  private setAccessed(va: number, slot: number, entry: bigint, level: Level, write: boolean, fn: string): MmFaultResult {
    const want = entry | PTE_BITS.A | (write ? PTE_BITS.D : 0n);
    if (want !== entry) {
      this.tables.setEntry(slot, want, `${fn}: set A/D in the ${LEVEL_NAMES[level]} for ${hex(va)}`);
    }
    return {
      action: 'spurious',
      why: `${fn}: the ${LEVEL_NAMES[level]} for ${hex(va)} is present and allows the ${write ? 'write' : 'read'} (${describeFlags(want, level)}), so the fault looks spurious and the instruction re-executes`,
    };
  }

  private ptePath(vma: Vma, va: number, write: boolean, split: boolean): MmFaultResult {
    const page = va - (va % SIZE_4K);
    const slot = this.tables.ensureSlot(page, 1);
    const pte = this.tables.readEntry(slot);
    const tag = split ? ' (FAULT_FLAG_PAGE_SPLIT was set, but the mapping is already 4K: nothing to split)' : '';
    if (!isPresent(pte)) {
      const r = this.doPteNone(vma, page, write, slot);
      return { action: split ? 'split-ignored' : r.action, why: r.why + tag };
    }
    if (write && (pte & PTE_BITS.RW) === 0n) {
      const r = this.doWpPage(vma, page, slot, pte);
      return { action: split ? 'split-ignored' : r.action, why: r.why + tag };
    }
    const r = this.setAccessed(page, slot, pte, 1, write, 'handle_pte_fault');
    return { action: split ? 'split-ignored' : r.action, why: r.why + tag };
  }

  /** A none PTE: do_anonymous_page, or do_fault for a file-backed VMA. */
  private doPteNone(vma: Vma, page: number, write: boolean, slot: number): MmFaultResult {
    if (vma.file !== undefined) {
      const cachePfn = vma.file.pfns[(page - vma.file.base) / SIZE_4K]!;
      if (vma.kind === 'shared-file' || !write) {
        const writable = vma.kind === 'shared-file' && vma.prot.write;
        this.tables.setEntry(slot, this.leafValue(cachePfn * SIZE_4K, 1, vma, writable, write), `do_read_fault at ${hex(page)}`);
        this.tlb.invlpg(page);
        return { action: 'demand', why: `${vma.kind === 'shared-file' ? 'do_shared_fault' : 'do_read_fault'}: the PTE for ${hex(page)} was none; mapped page-cache frame pa ${hex(cachePfn * SIZE_4K)} of "${vma.name}"` };
      }
      const pfn = this.frames.alloc4K();
      this.kmem.copyFrame(cachePfn, pfn, KERNEL_RIP.copy_page, `do_cow_fault copy at ${hex(page)}`);
      this.owners.set(pfn, 'anon');
      this.tables.setEntry(slot, this.leafValue(pfn * SIZE_4K, 1, vma, true, true), `do_cow_fault at ${hex(page)}`);
      this.tlb.invlpg(page);
      return { action: 'demand', why: `do_cow_fault: the PTE for ${hex(page)} was none and the access is a write to a private file mapping; copied page-cache frame ${hex(cachePfn * SIZE_4K)} to a fresh page at pa ${hex(pfn * SIZE_4K)}` };
    }
    if (!write) {
      const zero = this.zeroPage();
      this.tables.setEntry(slot, this.leafValue(zero * SIZE_4K, 1, vma, false, false), `do_anonymous_page (zero page) at ${hex(page)}`);
      this.tlb.invlpg(page);
      return { action: 'demand', why: `do_anonymous_page: the PTE for ${hex(page)} was none and the access is a read; mapped the shared zero page (pa ${hex(zero * SIZE_4K)}) read-only` };
    }
    const pa = this.freshPage(SIZE_4K, `clear_page at ${hex(page)}`);
    this.tables.setEntry(slot, this.leafValue(pa, 1, vma, true, true), `do_anonymous_page at ${hex(page)}`);
    this.tlb.invlpg(page);
    return { action: 'demand', why: `do_anonymous_page: the PTE for ${hex(page)} was none; mapped a fresh zeroed page at pa ${hex(pa)} (P RW US A D)` };
  }

  /** do_wp_page: a write to a present read-only PTE in a writable VMA. */
  private doWpPage(vma: Vma, page: number, slot: number, pte: bigint): MmFaultResult {
    const oldPa = leafFrame(pte, 1);
    const owner = this.ownerOf(oldPa);
    if (owner === 'anon' || owner === 'pinned' || (owner === 'file' && vma.kind === 'shared-file')) {
      this.tables.setEntry(slot, pte | PTE_BITS.RW | PTE_BITS.D | PTE_BITS.A, `wp_page_reuse at ${hex(page)}`);
      this.tlb.invlpg(page);
      return { action: 'cow', why: `do_wp_page → wp_page_reuse: the read-only PTE for ${hex(page)} maps an exclusive page (pa ${hex(oldPa)}), made writable in place` };
    }
    const pfn = this.frames.alloc4K();
    this.kmem.copyFrame(oldPa / SIZE_4K, pfn, KERNEL_RIP.copy_page, `wp_page_copy at ${hex(page)}`);
    this.owners.set(pfn, 'anon');
    this.tables.setEntry(slot, this.leafValue(pfn * SIZE_4K, 1, vma, true, true), `wp_page_copy at ${hex(page)}`);
    this.tlb.invlpg(page);
    return {
      action: 'cow',
      why: `do_wp_page → wp_page_copy: the read-only PTE for ${hex(page)} maps a shared ${owner === 'zero' ? 'zero page' : 'page-cache page'} (pa ${hex(oldPa)}); copied it to a fresh page at pa ${hex(pfn * SIZE_4K)} and mapped that writable`,
    };
  }

  /**
   * __split_huge_pmd (mm/huge_memory.c): replace the PS=1 PDE that maps `va` by a page table of 512
   * PTEs over the same frames, with the same permissions, A and D. As __split_huge_pmd_locked does,
   * the PDE is first invalidated (pmdp_invalidate: cleared, TLB flushed), the PTEs are written, and
   * then the PDE is pointed at the new table (pmd_populate). The 2M range is flushed from the TLB.
   */
  splitHugePmd(vma: Vma, va: number, fn: string): MmFaultResult {
    const base = va - (va % SIZE_2M);
    const pmdSlot = this.tables.ensureSlot(base, 2);
    const pmd = this.tables.readEntry(pmdSlot);
    if (!isPresent(pmd) || !isLeaf(pmd, 2)) {
      return { action: 'spurious', why: `${fn}: the PDE for ${hex(va)} is no longer a huge leaf; nothing to split` };
    }
    const frame = leafFrame(pmd, 2);
    const table = this.tables.allocTable(`pte_alloc for the split of ${hex(base)}`);
    // Flags carried over; the PAT bit moves from bit 12 to bit 7 (Intel SDM §4.9.2).
    let flags = pmd & (PTE_BITS.P | PTE_BITS.RW | PTE_BITS.US | PTE_BITS.PWT | PTE_BITS.PCD | PTE_BITS.A | PTE_BITS.D | PTE_BITS.G | PTE_BITS.NX);
    if (pmd & PTE_BITS.PAT_LARGE) flags |= PTE_BITS.PS;
    this.tables.setEntry(pmdSlot, pmd & ~PTE_BITS.P, `pmdp_invalidate of the PDE for ${hex(base)}`);
    this.tlb.invlpg(base);
    for (let i = 0; i < 512; i++) {
      this.tables.setEntry(table + i * 8, BigInt(frame + i * SIZE_4K) | flags, `__split_huge_pmd: PTE ${i} for ${hex(base + i * SIZE_4K)}`);
    }
    this.tables.setEntry(pmdSlot, BigInt(table) | PTE_BITS.P | PTE_BITS.RW | PTE_BITS.US | PTE_BITS.A | PTE_BITS.D, `pmd_populate of the PDE for ${hex(base)}`);
    this.flushRange(base, SIZE_2M);
    // The frames are now 512 separate 4K pages, each with the owner the 2M page had.
    const owner = this.owners.get(frame / SIZE_4K);
    if (owner !== undefined) for (let i = 1; i < 512; i++) this.owners.set(frame / SIZE_4K + i, owner);
    return {
      action: 'split',
      why: `${fn} → __split_huge_pmd: the PS=1 PDE at pa ${hex(pmdSlot)} mapped ${hex(base)}-${hex(base + SIZE_2M)} to pa ${hex(frame)} (${describeFlags(pmd, 2)}); replaced by a page table at pa ${hex(table)} of 512 PTEs over the same frames, TLB flushed for the 2M range`,
    };
  }

  private flushRange(start: number, bytes: number): void {
    if (bytes > 64 * SIZE_4K) this.tlb.flushAll();
    else for (let va = start; va < start + bytes; va += SIZE_4K) this.tlb.invlpg(va);
  }

  // ---- unmap, munmap, remap, mprotect -------------------------------------------------------------

  /**
   * Visit each leaf mapping inside [start, end), splitting a THP PMD that straddles an edge
   * (split_huge_pmd from vma_adjust_trans_huge). hugetlb and PUD leaves must lie wholly inside.
   */
  private forEachLeaf(start: number, end: number, visit: (va: number, leaf: LeafRef) => void): void {
    let va = start;
    while (va < end) {
      const ref = this.tables.lookup(va);
      if (ref === null) {
        // A missing upper table: skip to the next 2M boundary (the PDE level, the finest with none).
        va = va - (va % SIZE_2M) + SIZE_2M;
        continue;
      }
      const bytes = levelBytes(ref.level);
      const leafVa = va - (va % bytes);
      if (!isPresent(ref.value) && ref.value === 0n) {
        va = leafVa + bytes;
        continue;
      }
      if (leafVa < start || leafVa + bytes > end) {
        const vma = this.vmas.find(va);
        if (ref.level === 2 && vma !== undefined && vma.kind !== 'hugetlb') {
          this.splitHugePmd(vma, va, 'split_huge_pmd for a partial range');
          continue;
        }
        throw new MmError(`the range ${hex(start)}-${hex(end)} cuts a ${hex(bytes)}-byte huge mapping at ${hex(leafVa)}`);
      }
      visit(leafVa, ref);
      va = leafVa + bytes;
    }
  }

  /** zap_page_range: clear every leaf in [start, end), give anonymous frames back; VMAs stay. */
  zap(start: number, end: number): number {
    let zapped = 0;
    this.forEachLeaf(start, end, (va, ref) => {
      const bytes = levelBytes(ref.level);
      const frame = leafFrame(ref.value, ref.level);
      this.tables.setEntry(ref.entryPa, 0n, `zap ${LEVEL_NAMES[ref.level]} for ${hex(va)}`);
      this.tlb.invlpg(va);
      zapped++;
      if (isPresent(ref.value) && this.owners.get(frame / SIZE_4K) === 'anon') {
        for (let i = 0; i < bytes / SIZE_4K; i++) this.owners.delete(frame / SIZE_4K + i);
        this.frames.free(frame / SIZE_4K, bytes / SIZE_4K);
      }
    });
    return zapped;
  }

  /** munmap: zap, then remove the VMAs (split at the edges). */
  munmap(start: number, end: number): void {
    this.zap(start, end);
    for (const v of this.vmas.carve(start, end)) this.vmas.remove(v);
  }

  /** Point every present leaf of [start, end) at frames from `toPa` (same offsets, same flags). */
  remap(start: number, end: number, toPa: number): void {
    this.forEachLeaf(start, end, (va, ref) => {
      if (!isPresent(ref.value)) return;
      const bytes = levelBytes(ref.level);
      const pa = toPa + (va - start);
      if (pa % bytes !== 0) throw new MmError(`remap target ${hex(pa)} for ${hex(va)} is not aligned to its ${hex(bytes)}-byte page`);
      const flags = ref.value & ~(BigInt(leafFrame(ref.value, ref.level)));
      this.tables.setEntry(ref.entryPa, BigInt(pa) | flags, `remap ${LEVEL_NAMES[ref.level]} for ${hex(va)} to ${hex(pa)}`);
      this.tlb.invlpg(va);
      if (!this.owners.has(pa / SIZE_4K)) this.owners.set(pa / SIZE_4K, 'pinned');
    });
  }

  /** mprotect: new protection for the VMAs and the present leaves of [start, end). */
  mprotect(start: number, end: number, prot: Prot): void {
    this.forEachLeaf(start, end, (va, ref) => {
      if (ref.value === 0n) return;
      const frame = leafFrame(ref.value, ref.level);
      const owner = this.ownerOf(frame);
      const vma = this.vmas.find(va)!;
      // Only pages that are this process's own may become writable without a fault
      // (can_change_pte_writable); zero-page and private page-cache pages keep RW=0 for do_wp_page.
      const canWrite = prot.write && (owner === 'anon' || owner === 'pinned' || (owner === 'file' && vma.kind === 'shared-file'));
      let v = ref.value & ~(PTE_BITS.RW | PTE_BITS.NX | PTE_BITS.P | PTE_BITS.G);
      const none = !prot.read && !prot.write && !prot.exec;
      // PROT_NONE keeps the frame with P=0 and _PAGE_PROTNONE (bit 8) set, as x86 Linux does.
      v |= none ? PTE_BITS.G : PTE_BITS.P;
      if (canWrite) v |= PTE_BITS.RW;
      if (this.nx && !prot.exec) v |= PTE_BITS.NX;
      this.tables.setEntry(ref.entryPa, v, `change_protection of the ${LEVEL_NAMES[ref.level]} for ${hex(va)} to ${protString(prot)}`);
      this.tlb.invlpg(va);
    });
    for (const v of this.vmas.carve(start, end)) v.prot = { ...prot };
  }

  /** MADV_HUGEPAGE / MADV_NOHUGEPAGE on anonymous VMAs of [start, end). */
  setHugepage(start: number, end: number, on: boolean): void {
    for (const v of this.vmas.carve(start, end)) if (v.kind === 'anon' || v.kind === 'thp') v.thp = on;
  }

  // ---- lookups for the kernel, the runner and tests -------------------------------------------------

  /** Physical address `va` maps to now (software walk), or null. */
  translate(va: number): number | null {
    const steps = this.tables.walk(va);
    const last = steps[steps.length - 1]!;
    if (!isPresent(last.value)) return null;
    const bytes = levelBytes(last.level);
    return leafFrame(last.value, last.level) + (va % bytes);
  }
}
