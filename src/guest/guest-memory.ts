// The guest's LinearMemory (src/mmu/linear-memory.ts): what the CPU calls when it runs guest code.
// Every access translates through the guest TLB or, on a miss, the two-dimensional walk
// (walk.ts), then reads or writes system physical memory. As the contract requires, an access
// either completes or throws and changes nothing: a multi-byte access that crosses a page
// translates both pages before it writes a byte.
//
// Faults: a guest #PF or #VC is a CpuFault; a #VMEXIT(NPF) is a VmExitFault (exits.ts).
//
// Tracing: observe(o) installs a GuestWalkObserver (walk-trace.ts) on the walk and, to report
// every TLB lookup, an own `translate` on this object that tells the observer and then runs the
// class's translate. observe(null) removes both, so with tracing off the TLB-hit path is exactly
// the class's code (the same technique as the CPU's instruction tracer, src/cli/trace-insn.ts).

import type { PhysicalMemory } from '../mem/physical.ts';
import type { AccessKind, LinearMemory } from '../mmu/linear-memory.ts';
import type { GuestState } from './context.ts';
import { GuestTlb } from './guest-tlb.ts';
import type { GuestRmpPort } from './rmp-port.ts';
import { GuestAccess, NestedWalk } from './walk.ts';
import { ACCESS_TRACE_NAMES, type GuestWalkObserver } from './walk-trace.ts';

const PAGE = 4096;

export class GuestMemory implements LinearMemory {
  readonly walk: NestedWalk;
  readonly tlb = new GuestTlb();
  high32 = 0;

  constructor(
    readonly phys: PhysicalMemory,
    readonly rmp: GuestRmpPort,
    /** The running guest's state (VMSA-like record); VMPL, ASID and nCR3 are read from it. */
    public ctx: GuestState,
  ) {
    this.walk = new NestedWalk(phys, rmp, ctx);
  }

  /** Install (or, with null, remove) the trace observer of this memory's TLB lookups and walks. */
  observe(o: GuestWalkObserver | null): void {
    this.walk.observer = o;
    const self = this as unknown as Record<string, unknown>;
    if (Object.prototype.hasOwnProperty.call(self, 'translate')) delete self.translate;
    const report = o?.tlb;
    if (report === undefined) return;
    const classTranslate = GuestMemory.prototype.translate;
    const tlb = this.tlb;
    this.translate = (la: number, access: AccessKind): number => {
      if (tlb.enabled) {
        const ctx = this.ctx;
        const user = ctx.cpl === 3;
        report({ asid: ctx.asid, gva: la, access: ACCESS_TRACE_NAMES[access] ?? 'read', user, hit: tlb.peek(ctx.asid, la, access, user) >= 0 });
      }
      return classTranslate.call(this, la, access);
    };
  }

  /** Switch to another guest context (another VMSA): the TLB keeps other ASIDs' entries. */
  setContext(ctx: GuestState): void {
    this.ctx = ctx;
    this.walk.ctx = ctx;
  }

  // ------------------------------------------------------------------ control state

  setCpl(cpl: number): void {
    this.ctx.cpl = cpl;
  }

  setAlignmentCheck(ac: boolean): void {
    if (this.ctx.ac !== ac) {
      this.ctx.ac = ac;
      // SMAP's outcome depends on AC for supervisor data accesses: drop cached supervisor entries.
      this.tlb.flushAsid(this.ctx.asid);
    }
  }

  /**
   * Guest MOV to CR0/CR3/CR4 or WRMSR EFER. A CR3 write flushes the non-global entries even when the
   * value is unchanged (AMD APM Vol.2 §5.5.2), and a paging-mode change flushes everything; this TLB
   * has no global entries, so both drop every entry of the running ASID.
   */
  setControlRegisters(cr0: number, cr3: number, cr4: number, efer: number): void {
    const c = this.ctx;
    c.cr0 = cr0;
    c.cr3 = cr3;
    c.cr4 = cr4;
    c.efer = efer;
    this.tlb.flushAsid(c.asid);
  }

  invlpg(la: number): void {
    this.tlb.flushPage(this.ctx.asid, la);
  }

  /** Drop every cached translation of the running guest (after a nested-table or RMP change). */
  flushGuestTlb(): void {
    this.tlb.flushAsid(this.ctx.asid);
  }

  // ------------------------------------------------------------------ translation

  /** Full checks, A/D bits, TLB fill; returns the system physical address. */
  translate(la: number, access: AccessKind): number {
    const ctx = this.ctx;
    const user = ctx.cpl === 3;
    const frame = this.tlb.lookup(ctx.asid, la, access, user);
    if (frame >= 0) return frame + (la % PAGE);
    const spa = this.walk.translate(la, access, ctx.cpl);
    this.tlb.insert(ctx.asid, la, access, user, spa);
    return spa;
  }

  probe(la: number, length: number, access: AccessKind): void {
    if (length <= 0) return;
    const last = la + length - 1;
    for (let page = la - (la % PAGE); page <= last; page += PAGE) this.translate(Math.max(page, la), access);
  }

  // ------------------------------------------------------------------ reads

  private readN(la: number, bytes: number, access: number): number {
    const off = la % PAGE;
    if (off + bytes <= PAGE) return this.phys.readU32(this.translate(la, access as AccessKind), bytes);
    const first = this.translate(la, access as AccessKind);
    const second = this.translate(la - off + PAGE, access as AccessKind);
    let v = 0;
    for (let i = bytes - 1; i >= 0; i--) {
      const pa = off + i < PAGE ? first + i : second + (off + i - PAGE);
      v = v * 256 + this.phys.read8(pa);
    }
    return v;
  }

  read8(la: number): number {
    return this.phys.read8(this.translate(la, GuestAccess.Read));
  }

  read16(la: number): number {
    return this.readN(la, 2, GuestAccess.Read);
  }

  read32(la: number): number {
    return this.readN(la, 4, GuestAccess.Read);
  }

  read64(la: number): number {
    if (la % PAGE <= PAGE - 8) {
      const pa = this.translate(la, GuestAccess.Read);
      this.high32 = this.phys.readU32(pa + 4);
      return this.phys.readU32(pa);
    }
    this.probe(la, 8, GuestAccess.Read);
    const lo = this.readN(la, 4, GuestAccess.Read);
    this.high32 = this.readN(la + 4, 4, GuestAccess.Read);
    return lo;
  }

  /** Instruction-fetch read of one byte (the CPU's decoder may use translate(la, Fetch) instead). */
  fetch8(la: number): number {
    return this.phys.read8(this.translate(la, GuestAccess.Fetch));
  }

  // ------------------------------------------------------------------ writes

  private writeN(la: number, value: number, bytes: number): void {
    const off = la % PAGE;
    if (off + bytes <= PAGE) {
      this.phys.writeU32(this.translate(la, GuestAccess.Write), value, bytes);
      return;
    }
    const first = this.translate(la, GuestAccess.Write);
    const second = this.translate(la - off + PAGE, GuestAccess.Write);
    for (let i = 0; i < bytes; i++) {
      const pa = off + i < PAGE ? first + i : second + (off + i - PAGE);
      this.phys.write8(pa, value & 0xff);
      value = Math.floor(value / 256);
    }
  }

  write8(la: number, value: number): void {
    this.phys.write8(this.translate(la, GuestAccess.Write), value & 0xff);
  }

  write16(la: number, value: number): void {
    this.writeN(la, value & 0xffff, 2);
  }

  write32(la: number, value: number): void {
    this.writeN(la, value >>> 0, 4);
  }

  write64(la: number, lo: number, hi: number): void {
    this.probe(la, 8, GuestAccess.Write);
    this.writeN(la, lo >>> 0, 4);
    this.writeN(la + 4, hi >>> 0, 4);
  }
}
