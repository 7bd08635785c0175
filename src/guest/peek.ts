// Side-effect-free reads of guest memory by guest virtual address, for traces (the bytes of the
// instruction `--trace insn` shows). Unlike NestedWalk.translate this sets no A/D bit, fills no
// TLB, counts nothing and makes no RMP check, so tracing does not change what it traces. It walks
// the guest's 4-level table (AMD APM Vol.2 §5.3) with every entry's GPA looked up in the nested
// table (src/hv/npt.ts lookup), then the final GPA likewise; permissions are not checked.

import type { PhysicalMemory } from '../mem/physical.ts';
import type { NestedPageTable } from '../hv/npt.ts';
import { SIZE_4K } from './constants.ts';
import { Cr0, type GuestState } from './context.ts';

const ADDR = 0x0000fffffffff000n; // bits 47:12: 48-bit guest physical addresses, bit 51 is the C-bit
const SHIFTS = [39, 30, 21, 12];
const NAMES = ['PML4E', 'PDPTE', 'PDE', 'PTE'];

/** The SPA of guest virtual address `gva`, or a string saying why there is none. */
export function peekTranslate(phys: PhysicalMemory, npt: NestedPageTable, ctx: GuestState, gva: number): number | string {
  let gpa = gva;
  if ((ctx.cr0 & Cr0.PG) !== 0) {
    let table = Number(BigInt(ctx.cr3) & ADDR);
    for (let level = 0; level < 4; level++) {
      const entryGpa = table + (Math.floor(gva / 2 ** SHIFTS[level]!) % 512) * 8;
      const leaf = npt.lookup(entryGpa);
      if (leaf === null) return `the nested table does not map the guest ${NAMES[level]} at GPA 0x${entryGpa.toString(16)}`;
      const e = phys.readU64(leaf.spa);
      if ((e & 1n) === 0n) return `the guest ${NAMES[level]} is not present`;
      const base = Number(e & ADDR);
      if (level === 3 || (level > 0 && (e & 0x80n) !== 0n)) {
        const size = 2 ** SHIFTS[level]!;
        gpa = base - (base % size) + (gva % size);
        break;
      }
      table = base;
    }
  }
  const leaf = npt.lookup(gpa);
  return leaf === null ? `the nested table does not map GPA 0x${gpa.toString(16)}` : leaf.spa;
}

/** `length` bytes at guest virtual `gva` (each page translated on its own), or why they cannot be read. */
export function peekGuestBytes(phys: PhysicalMemory, npt: NestedPageTable, ctx: GuestState, gva: number, length: number): Uint8Array | string {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const spa = peekTranslate(phys, npt, ctx, gva + done);
    // Bytes up to an unmapped page are still worth decoding (an instruction near a page end).
    if (typeof spa === 'string') return done > 0 ? out.subarray(0, done) : `not mapped: ${spa}`;
    const chunk = Math.min(length - done, SIZE_4K - ((gva + done) % SIZE_4K));
    out.set(phys.readBytes(spa, chunk), done);
    done += chunk;
  }
  return out;
}
