// A hypervisor model shaped like KVM's SNP code (Linux arch/x86/kvm/svm/svm.c npf_interception(),
// arch/x86/kvm/svm/sev.c sev_handle_rmp_fault(), sev_gmem_prepare(), sev_gmem_invalidate(),
// sev_gmem_max_mapping_level(); arch/x86/kvm/mmu/mmu.c kvm_mmu_page_fault()). spec/rmp.md §6.4,
// KVM part, is the reference; the function names below are KVM's so the two can be read side by side.
//
// Guest memory is a list of regions (KVM memslots with guest_memfd). Every guest frame has two
// possible backings: a private one (the gmem frame, RMP-assigned to the guest) and a shared one
// (ordinary host memory, hypervisor-owned). A per-frame attribute (KVM_MEMORY_ATTRIBUTE_PRIVATE)
// says which one the nested table maps. The nested table is built lazily, on not-present NPFs, as
// KVM's TDP MMU does, at the largest level that the backing, the attributes and (for private
// memory) the RMP allow.
//
// The NPF path:
//   npf_interception(exitinfo1, gpa)
//     ENC set (SNP guest)      → PFERR_PRIVATE_ACCESS
//     kvm_mmu_page_fault
//       private ≠ attribute    → "memory fault exit" (KVM_EXIT_MEMORY_FAULT) to the VMM: the
//                                scenario answers it (convert, then retry; or stop)
//       nothing mapped         → fault in (gmem prepare = rmp_make_private, then map)   "map"
//       already mapped         → spurious (RET_PF_SPURIOUS)                              "spurious"
//     RMP bit set, rc > 0      → sev_handle_rmp_fault
//       GFN not private        → warn "Unexpected RMP fault for non-private GPA", return  "warn"
//       RMP level 4K           → spurious (a concurrent PSMASH already split it)         "rmp-spurious"
//       else PSMASH the 2M-aligned pfn, retrying on FAIL_INUSE                            "psmash"
//            then kvm_zap_gfn_range(gfn, gfn + 512)                                       "zap"

import type { PhysicalMemory } from '../mem/physical.ts';
import { RmpStatus, RMP_STATUS_NAMES } from '../rmp/codes.ts';
import { encodeRmpState, describeFields } from '../rmp/entry.ts';
import { NpfBits, SIZE_1G, SIZE_2M, SIZE_4K } from '../guest/constants.ts';
import type { GuestRmpPort } from '../guest/rmp-port.ts';
import { NestedPageTable, FrameAllocator } from './npt.ts';

/** A guest memory region (a KVM memslot with a guest_memfd). */
export interface HvRegion {
  /** First GPA (4K-aligned). */
  gpa: number;
  /** Bytes (a multiple of 4K). */
  size: number;
  /** SPA of the private backing (the guest_memfd frames), contiguous. */
  privatePa: number;
  /** SPA of the shared backing (the VMM's host memory), contiguous. */
  sharedPa: number;
  /**
   * The largest nested mapping the backing allows (the host's page size for shared memory, the
   * gmem folio size for private memory): 4K, 2M or 1G.
   */
  hostPageSize: number;
}

export interface HvOptions {
  asid: number;
  /** The guest is SNP-active (ENC in EXITINFO1 means a private access). */
  snp: boolean;
  /**
   * sev_gmem_max_mapping_level(): cap private nested mappings at the RMP level, so a 2M nested
   * mapping is never built over 4K RMP entries (spec/rmp.md §6.4). Default true; false is the
   * "what if" of spec/rmp.md §7 case 37 (a hypervisor without the cap).
   */
  capAtRmpLevel: boolean;
  /** PSMASH attempts on FAIL_INUSE before giving up (KVM loops without bound; a model must not hang). */
  psmashRetries: number;
}

/** One step of the hypervisor's handling, for results and traces. */
export interface HvAction {
  action:
    | 'map' | 'spurious' | 'memory-fault' | 'warn' | 'rmp-spurious' | 'psmash' | 'zap' | 'convert-shared'
    | 'convert-private' | 'prepare' | 'psmash-failed'
    // Recorded by the scenario runner: the guest's #VC handler and scenario events.
    | 'vc-pvalidate' | 'rmpupdate' | 'rmpupdate-failed' | 'remap' | 'busy';
  gpa: number;
  why: string;
}

/** What the vCPU loop does after an exit was handled. */
export type HvOutcome =
  | { kind: 'resume' }
  /** KVM_EXIT_MEMORY_FAULT: the VMM must convert [gpa, gpa+size) to private (or shared), then re-enter. */
  | { kind: 'memory-fault'; gpa: number; size: number; toPrivate: boolean };

const PAGES_PER_2M = 512;

export class KvmVm {
  readonly npt: NestedPageTable;
  readonly regions: HvRegion[] = [];
  /** Per region, per 4K frame: 1 = private (KVM_MEMORY_ATTRIBUTE_PRIVATE). */
  private readonly privateAttr: Uint8Array[] = [];
  readonly log: HvAction[] = [];
  readonly opts: HvOptions;
  /** Called after the nested table changes (zap, remap): the guest TLBs must drop translations. */
  onNestedChange: () => void = () => {};

  constructor(
    readonly phys: PhysicalMemory,
    readonly rmp: GuestRmpPort,
    readonly frames: FrameAllocator,
    opts: Partial<HvOptions> & { asid: number },
  ) {
    this.opts = { snp: true, capAtRmpLevel: true, psmashRetries: 64, ...opts };
    this.npt = new NestedPageTable(phys, frames);
  }

  /** nCR3 for the VMCB. */
  get nCr3(): number {
    return this.npt.root;
  }

  addRegion(r: HvRegion, privateAtStart: boolean): void {
    for (const [name, v] of [['gpa', r.gpa], ['size', r.size], ['privatePa', r.privatePa], ['sharedPa', r.sharedPa]] as const) {
      if (!Number.isSafeInteger(v) || v < 0 || v % SIZE_4K !== 0) throw new RangeError(`region ${name} must be a 4K-aligned address, got ${v}`);
    }
    if (r.size === 0) throw new RangeError('a region needs a non-zero size');
    for (const o of this.regions) {
      if (r.gpa < o.gpa + o.size && o.gpa < r.gpa + r.size) {
        throw new RangeError(`region at GPA 0x${r.gpa.toString(16)} overlaps the region at GPA 0x${o.gpa.toString(16)}`);
      }
    }
    this.regions.push({ ...r });
    this.privateAttr.push(new Uint8Array(r.size / SIZE_4K).fill(privateAtStart ? 1 : 0));
  }

  private regionIndex(gpa: number): number {
    for (let i = 0; i < this.regions.length; i++) {
      const r = this.regions[i]!;
      if (gpa >= r.gpa && gpa < r.gpa + r.size) return i;
    }
    return -1;
  }

  /** kvm_mem_is_private(): the frame's attribute. False outside every region. */
  isPrivate(gpa: number): boolean {
    const i = this.regionIndex(gpa);
    if (i < 0) return false;
    return this.privateAttr[i]![Math.floor((gpa - this.regions[i]!.gpa) / SIZE_4K)] === 1;
  }

  /** The backing SPA of a GPA for the given attribute, or -1 outside every region. */
  backing(gpa: number, priv: boolean): number {
    const i = this.regionIndex(gpa);
    if (i < 0) return -1;
    const r = this.regions[i]!;
    return (priv ? r.privatePa : r.sharedPa) + (gpa - r.gpa);
  }

  private record(action: HvAction['action'], gpa: number, why: string): void {
    this.log.push({ action, gpa, why });
  }

  // ------------------------------------------------------------------ RMP helpers (Linux names)

  /** snp_lookup_rmpentry(): assigned from the pfn's own entry, level from the 2M-aligned entry. */
  private lookupRmp(pfn: number): { assigned: boolean; is2M: boolean } | null {
    if (!this.rmp.enabled || !this.rmp.isCovered(pfn)) return null;
    const aligned = pfn - (pfn % PAGES_PER_2M);
    return { assigned: this.rmp.entry(pfn).assigned, is2M: this.rmp.entry(aligned).pageSize === 1 };
  }

  private rmpupdate(spa: number, assigned: boolean, gpa: number, is2M: boolean): number {
    const state = encodeRmpState({ gpa: assigned ? gpa : 0, assigned, pageSize: is2M ? 1 : 0, immutable: false, asid: assigned ? this.opts.asid : 0 });
    return this.rmp.rmpupdate(spa, state);
  }

  /** snp_rmptable_psmash(): PSMASH the 2M-aligned pfn, retrying on FAIL_INUSE. */
  private psmashWithRetry(spa2M: number): number {
    let ret = this.rmp.psmash(spa2M);
    for (let tries = 1; ret === RmpStatus.FAIL_INUSE && tries < this.opts.psmashRetries; tries++) ret = this.rmp.psmash(spa2M);
    return ret;
  }

  // ------------------------------------------------------------------ fault-in (TDP MMU)

  /**
   * The largest level at which `gpa` can be mapped: the backing's page size, reduced while the
   * aligned block leaves the region, is not aligned in SPA, or mixes attributes
   * (kvm_mmu_max_mapping_level / hugepage_has_attrs); for private memory also capped at the RMP
   * level (sev_gmem_max_mapping_level) unless the cap is turned off.
   */
  private mappingLevel(gpa: number, priv: boolean): number {
    const i = this.regionIndex(gpa);
    const r = this.regions[i]!;
    const attrs = this.privateAttr[i]!;
    const base = priv ? r.privatePa : r.sharedPa;
    for (const size of [SIZE_1G, SIZE_2M]) {
      if (size > r.hostPageSize) continue;
      const start = gpa - (gpa % size);
      if (start < r.gpa || start + size > r.gpa + r.size) continue;
      if ((base + (start - r.gpa)) % size !== 0) continue;
      if (priv && this.opts.capAtRmpLevel && this.rmp.enabled) {
        // sev_gmem_max_mapping_level(): the RMP has no 1G pages, so private memory maps at 2M at most.
        if (size > SIZE_2M) continue;
        const l = this.lookupRmp(Math.floor((base + (start - r.gpa)) / SIZE_4K));
        if (l === null || !l.is2M) continue;
      }
      const first = (start - r.gpa) / SIZE_4K;
      const want = priv ? 1 : 0;
      let uniform = true;
      for (let k = 0; k < size / SIZE_4K; k++) if (attrs[first + k] !== want) { uniform = false; break; }
      if (!uniform) continue;
      return size;
    }
    return SIZE_4K;
  }

  /**
   * sev_gmem_prepare(): a private frame that is still hypervisor-owned becomes Guest-Invalid
   * (rmp_make_private) before it is mapped: as one 2M RMP page when the whole 2M block of the
   * backing is private, aligned and unassigned, else as a 4K page.
   */
  private prepare(gpa: number): void {
    const spa = this.backing(gpa, true);
    const pfn = Math.floor(spa / SIZE_4K);
    const l = this.lookupRmp(pfn);
    if (l === null || l.assigned) return;
    const i = this.regionIndex(gpa);
    const r = this.regions[i]!;
    const start = gpa - (gpa % SIZE_2M);
    let use2M = r.hostPageSize >= SIZE_2M && start >= r.gpa && start + SIZE_2M <= r.gpa + r.size && (spa - (gpa - start)) % SIZE_2M === 0;
    if (use2M) {
      const first = (start - r.gpa) / SIZE_4K;
      const basePfn = Math.floor((spa - (gpa - start)) / SIZE_4K);
      for (let k = 0; k < PAGES_PER_2M && use2M; k++) {
        if (this.privateAttr[i]![first + k] !== 1) use2M = false;
        else if (this.lookupRmp(basePfn + k)?.assigned !== false) use2M = false;
      }
    }
    const targetGpa = use2M ? start : gpa - (gpa % SIZE_4K);
    const targetSpa = use2M ? spa - (gpa - start) : spa - (spa % SIZE_4K);
    const ret = this.rmpupdate(targetSpa, true, targetGpa, use2M);
    this.record('prepare', targetGpa,
      `sev_gmem_prepare: rmp_make_private(pfn 0x${(targetSpa / SIZE_4K).toString(16)}, GPA 0x${targetGpa.toString(16)}, ${use2M ? '2M' : '4K'}, ASID ${this.opts.asid}) → ${RMP_STATUS_NAMES[ret] ?? ret}`);
  }

  /** Map `gpa` for its current attribute (the fault-in of kvm_tdp_page_fault). */
  private faultIn(gpa: number): void {
    const priv = this.isPrivate(gpa);
    if (priv && this.opts.snp) this.prepare(gpa);
    const size = this.mappingLevel(gpa, priv);
    const start = gpa - (gpa % size);
    const spa = this.backing(start, priv);
    this.npt.map(start, spa, size);
    this.record('map', start, `mapped GPA 0x${start.toString(16)} → SPA 0x${spa.toString(16)} (${priv ? 'private' : 'shared'}) with a ${size / 1024}K nested leaf`);
  }

  /** Map every frame of every region before the first instruction (like KVM pre-faulting). */
  populate(): void {
    for (const r of this.regions) {
      for (let gpa = r.gpa; gpa < r.gpa + r.size;) {
        if (this.npt.lookup(gpa) === null) this.faultIn(gpa);
        const leaf = this.npt.lookup(gpa)!;
        gpa = gpa - (gpa % leaf.size) + leaf.size;
      }
    }
  }

  // ------------------------------------------------------------------ the exit handlers

  /** npf_interception() (svm.c). */
  npfInterception(exitInfo1: bigint, gpa: number): HvOutcome {
    const privateAccess = this.opts.snp && (exitInfo1 & NpfBits.ENC) !== 0n;
    const rc = this.kvmMmuPageFault(exitInfo1, gpa, privateAccess);
    if (rc.kind !== 'resume') return rc;
    if ((exitInfo1 & NpfBits.RMP) !== 0n) this.sevHandleRmpFault(gpa, exitInfo1);
    return rc;
  }

  /** kvm_mmu_page_fault() for the cases the model has: attribute mismatch, fault-in, spurious. */
  private kvmMmuPageFault(exitInfo1: bigint, gpa: number, privateAccess: boolean): HvOutcome {
    const gfnGpa = gpa - (gpa % SIZE_4K);
    if (this.regionIndex(gpa) < 0) {
      this.record('warn', gfnGpa, `GPA 0x${gpa.toString(16)} is in no memslot: KVM would emulate MMIO; the model treats the fault as spurious`);
      return { kind: 'resume' };
    }
    if (this.opts.snp && privateAccess !== this.isPrivate(gpa)) {
      // kvm_faultin_pfn(): fault->is_private != kvm_mem_is_private() → kvm_mmu_prepare_memory_fault_exit().
      this.record('memory-fault', gfnGpa,
        `KVM_EXIT_MEMORY_FAULT: a ${privateAccess ? 'private (C=1)' : 'shared (C=0)'} access to GPA 0x${gfnGpa.toString(16)}, whose attribute is ${privateAccess ? 'shared' : 'private'}; the VMM must convert it`);
      return { kind: 'memory-fault', gpa: gfnGpa, size: SIZE_4K, toPrivate: privateAccess };
    }
    const present = (exitInfo1 & NpfBits.P) !== 0n;
    if (!present && this.npt.lookup(gpa) === null) {
      this.faultIn(gpa);
      this.onNestedChange();
      return { kind: 'resume' };
    }
    this.record('spurious', gfnGpa, `the nested table already maps GPA 0x${gfnGpa.toString(16)}: RET_PF_SPURIOUS`);
    return { kind: 'resume' };
  }

  /** sev_handle_rmp_fault() (sev.c). */
  sevHandleRmpFault(gpa: number, exitInfo1: bigint): void {
    const gfnGpa = gpa - (gpa % SIZE_4K);
    if (!this.isPrivate(gpa)) {
      this.record('warn', gfnGpa, `SEV: Unexpected RMP fault for non-private GPA 0x${gfnGpa.toString(16)} (EXITINFO1 0x${exitInfo1.toString(16)}); returning to the guest`);
      return;
    }
    const spa = this.backing(gpa, true);
    const pfn = Math.floor(spa / SIZE_4K);
    const l = this.lookupRmp(pfn);
    if (l === null || !l.assigned) {
      this.record('warn', gfnGpa, `SEV: Unexpected RMP fault, no assigned RMP entry found for GPA 0x${gfnGpa.toString(16)} PFN 0x${pfn.toString(16)}`);
      return;
    }
    if (!l.is2M) {
      this.record('rmp-spurious', gfnGpa,
        `the RMP entry of PFN 0x${pfn.toString(16)} is already 4K: treated as spurious (a concurrent PSMASH), nothing zapped; entry: ${describeFields(this.rmp.entry(pfn))}`);
      return;
    }
    const aligned = pfn - (pfn % PAGES_PER_2M);
    const ret = this.psmashWithRetry(aligned * SIZE_4K);
    if (ret !== RmpStatus.SUCCESS) {
      const again = this.lookupRmp(pfn);
      if (again !== null && again.assigned && !again.is2M) {
        this.record('rmp-spurious', gfnGpa, `PSMASH of PFN 0x${aligned.toString(16)} failed (${RMP_STATUS_NAMES[ret] ?? ret}) but the entry is 4K now: the race resolved itself`);
        return;
      }
      this.record('psmash-failed', gfnGpa, `SEV: Unable to split RMP entry for GPA 0x${gfnGpa.toString(16)} PFN 0x${aligned.toString(16)} ret ${ret}`);
    } else {
      this.record('psmash', gfnGpa, `PSMASH PFN 0x${aligned.toString(16)}: the 2M RMP page became 512 4K entries (Validated kept)`);
    }
    // kvm_zap_gfn_range(kvm, gfn, gfn + PTRS_PER_PMD): from the faulting gfn, 512 frames.
    const cleared = this.npt.zap(gfnGpa, PAGES_PER_2M * SIZE_4K);
    this.onNestedChange();
    this.record('zap', gfnGpa, `kvm_zap_gfn_range(0x${(gfnGpa / SIZE_4K).toString(16)}, +512): ${cleared} nested leaf(s) dropped, rebuilt at the RMP level on the next fault`);
  }

  // ------------------------------------------------------------------ conversions (the VMM's answer)

  /**
   * KVM_SET_MEMORY_ATTRIBUTES for [gpa, gpa+size): the nested mappings are zapped; a conversion to
   * shared also releases the private frames, as the VMM's fallocate(PUNCH_HOLE) on the guest_memfd
   * does through sev_gmem_invalidate(): PSMASH a 2M RMP page the range covers only in part
   * (FAIL_INUSE is transient), then rmp_make_shared.
   */
  convert(gpa: number, size: number, toPrivate: boolean): void {
    const start = gpa - (gpa % SIZE_4K);
    const end = Math.ceil((gpa + size) / SIZE_4K) * SIZE_4K;
    for (let g = start; g < end; g += SIZE_4K) {
      const i = this.regionIndex(g);
      if (i < 0) throw new RangeError(`cannot convert GPA 0x${g.toString(16)}: it is in no guest memory region`);
      this.privateAttr[i]![(g - this.regions[i]!.gpa) / SIZE_4K] = toPrivate ? 1 : 0;
    }
    this.npt.zap(start, end - start);
    this.onNestedChange();
    if (!toPrivate && this.rmp.enabled) {
      for (let g = start; g < end; g += SIZE_4K) {
        const spa = this.backing(g, true);
        const pfn = spa / SIZE_4K;
        const l = this.lookupRmp(pfn);
        if (l === null || !l.assigned) continue;
        if (l.is2M) {
          const alignedSpa = spa - (spa % SIZE_2M);
          const alignedGpa = g - (spa - alignedSpa);
          const whole = alignedGpa >= start && alignedGpa + SIZE_2M <= end;
          if (whole) {
            this.rmpupdate(alignedSpa, false, 0, true);
            g = alignedGpa + SIZE_2M - SIZE_4K;
            continue;
          }
          const ret = this.psmashWithRetry(alignedSpa);
          this.record(ret === RmpStatus.SUCCESS ? 'psmash' : 'psmash-failed', alignedGpa,
            `sev_gmem_invalidate: PSMASH PFN 0x${(alignedSpa / SIZE_4K).toString(16)} before a partial conversion → ${RMP_STATUS_NAMES[ret] ?? ret}`);
        }
        this.rmpupdate(spa, false, 0, false);
      }
    }
    this.record(toPrivate ? 'convert-private' : 'convert-shared', start,
      `the VMM converted GPA 0x${start.toString(16)}..0x${end.toString(16)} to ${toPrivate ? 'private' : 'shared'} (KVM_SET_MEMORY_ATTRIBUTES${toPrivate ? '' : ', then rmp_make_shared on the released gmem frames'}) and zapped its nested mappings`);
  }

  /** A hypervisor that points a GPA at another frame (spec/rmp.md §7 case 43): map without asking. */
  remap(gpa: number, spa: number, size: number): void {
    this.npt.zap(gpa - (gpa % size), size);
    this.npt.map(gpa - (gpa % size), spa - (spa % size), size);
    this.onNestedChange();
  }
}
