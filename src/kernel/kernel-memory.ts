// The emulated kernel's own accesses to physical memory, through its direct map.
//
// Linux reaches every physical page through the direct map at page_offset_base (0xffff888000000000
// without KASLR). A kernel write is a host write, so it is RMP-checked like any other
// (spec/rmp.md §3.2). Mainline splits the direct map to 4K around every page it hands to a guest
// (adjust_direct_map, §6.4), so each kernel write here is checked as a 4K write (scenario.md:
// "kernel writes ... are RMP-checked as kernel writes through a 4K direct map"). Kernel reads are not
// checked: host reads never are (§3.2).
//
// A failing check is a supervisor-mode RMP #PF on a kernel address: it is thrown as a
// DirectMapFault, and the kernel's run loop turns it into do_kern_addr_fault → oops.

import type { PhysicalMemory } from '../mem/physical.ts';
import { Access } from '../mmu/linear-memory.ts';
import { TableAccess, type HostRmpCheck, type RmpCheckFailure } from '../rmp/host-check.ts';
import { DIRECT_MAP_BASE, SIZE_4K } from './constants.ts';

/** A kernel write through the direct map failed its RMP check. */
export class DirectMapFault {
  constructor(
    /** The physical address written. */
    readonly pa: number,
    /** The linear address of the write: the direct-map alias of `pa`. */
    readonly address: bigint,
    /** The symbolic kernel RIP of the function that wrote (constants.ts KERNEL_RIP). */
    readonly rip: bigint,
    /** What the kernel was doing, e.g. "set_pte: PTE of 0x600000". */
    readonly what: string,
    readonly failure: RmpCheckFailure,
  ) {}

  /**
   * A handler decision already taken when this write faulted (v7 decided SPLIT, then
   * __split_huge_pmd's write oopsed): recorded before the oops so the decision list shows both.
   */
  interrupted?: { action: 'split'; address: bigint; why: string };
}

export function directMapAddress(pa: number): bigint {
  return DIRECT_MAP_BASE + BigInt(pa);
}

export class KernelMemory {
  /** Bumped on every page-table write, so the livelock detector can tell whether tables changed. */
  tableGeneration = 0;

  constructor(
    readonly phys: PhysicalMemory,
    private readonly rmp: HostRmpCheck,
  ) {}

  /** RMP-check a kernel write to the 4K page holding `pa`; throw a DirectMapFault if it fails. */
  checkWrite(pa: number, rip: bigint, what: string): void {
    if (!this.rmp.enabled) return;
    const failure = this.rmp.checkHost(pa, Access.Write, SIZE_4K, TableAccess.None);
    if (failure !== null) throw new DirectMapFault(pa, directMapAddress(pa), rip, what, failure);
  }

  readU64(pa: number): bigint {
    return this.phys.readU64(pa);
  }

  /** A page-table entry write (set_pte/set_pmd/set_pud/pgd_populate). */
  writeEntry(pa: number, value: bigint, rip: bigint, what: string): void {
    this.checkWrite(pa, rip, what);
    this.phys.writeU64(pa, value);
    this.tableGeneration++;
  }

  /** Write bytes (loading a program, laying out the stack, copy-on-write): checked per 4K page. */
  writeBytes(pa: number, bytes: Uint8Array, rip: bigint, what: string): void {
    let done = 0;
    while (done < bytes.length) {
      const at = pa + done;
      const chunk = Math.min(bytes.length - done, SIZE_4K - (at % SIZE_4K));
      this.checkWrite(at, rip, what);
      this.phys.writeBytes(at, bytes.subarray(done, done + chunk));
      done += chunk;
    }
  }

  /** clear_page on `count` frames from `pfn`: each 4K frame is checked, then zeroed. */
  zeroFrames(pfn: number, count: number, rip: bigint, what: string): void {
    for (let i = 0; i < count; i++) {
      this.checkWrite((pfn + i) * SIZE_4K, rip, what);
      this.phys.zeroFrame(pfn + i);
    }
  }

  /** Copy one 4K frame to another (copy_page). */
  copyFrame(fromPfn: number, toPfn: number, rip: bigint, what: string): void {
    this.checkWrite(toPfn * SIZE_4K, rip, what);
    this.phys.writeBytes(toPfn * SIZE_4K, this.phys.readBytes(fromPfn * SIZE_4K, SIZE_4K));
  }
}
