// The guest's TLB: final translations (guest linear page → system physical frame), tagged by ASID
// (AMD APM Vol.2 §15.16 "TLB Control": entries are tagged with the ASID, so a VMRUN to another
// guest needs no flush). Only translations that passed every check — guest paging, nested paging
// and the RMP — are cached (spec/rmp.md §4: a failing check installs nothing).
//
// Direct-mapped, one set per (access kind, user/supervisor) × 256 pages, in typed arrays: a hit is
// three array loads and compares. A write entry is only installed by a write walk, which has set the
// D bits, so the first store to a clean page walks again (design.md pattern 5).

const SETS = 256;
const KINDS = 6; // read/write/fetch × supervisor/user

export class GuestTlb {
  /** Guest virtual page number + 1 (0 = empty slot). */
  private readonly tagVpn = new Float64Array(SETS * KINDS);
  private readonly tagAsid = new Int32Array(SETS * KINDS);
  private readonly frame = new Float64Array(SETS * KINDS);
  enabled = true;
  hits = 0;
  misses = 0;

  private static slot(vpn: number, access: number, user: boolean): number {
    return (access + (user ? 3 : 0)) * SETS + (vpn % SETS);
  }

  /** The cached SPA frame base for (asid, page of gva, access, user), or -1. */
  lookup(asid: number, gva: number, access: number, user: boolean): number {
    if (!this.enabled) return -1;
    const vpn = Math.floor(gva / 4096);
    const s = GuestTlb.slot(vpn, access, user);
    if (this.tagVpn[s] === vpn + 1 && this.tagAsid[s] === asid) {
      this.hits++;
      return this.frame[s]!;
    }
    this.misses++;
    return -1;
  }

  /** lookup() without counting (for traces): the cached frame base, or -1. */
  peek(asid: number, gva: number, access: number, user: boolean): number {
    if (!this.enabled) return -1;
    const vpn = Math.floor(gva / 4096);
    const s = GuestTlb.slot(vpn, access, user);
    return this.tagVpn[s] === vpn + 1 && this.tagAsid[s] === asid ? this.frame[s]! : -1;
  }

  insert(asid: number, gva: number, access: number, user: boolean, spa: number): void {
    if (!this.enabled) return;
    const vpn = Math.floor(gva / 4096);
    const s = GuestTlb.slot(vpn, access, user);
    this.tagVpn[s] = vpn + 1;
    this.tagAsid[s] = asid;
    this.frame[s] = spa - (spa % 4096);
  }

  /** Drop the translations of one guest page (INVLPG), every kind. */
  flushPage(asid: number, gva: number): void {
    const vpn = Math.floor(gva / 4096);
    for (let k = 0; k < KINDS; k++) {
      const s = k * SETS + (vpn % SETS);
      if (this.tagVpn[s] === vpn + 1 && this.tagAsid[s] === asid) this.tagVpn[s] = 0;
    }
  }

  /** Drop every translation of one ASID (guest CR3 write, nested-table change, TLB_CONTROL). */
  flushAsid(asid: number): void {
    for (let s = 0; s < SETS * KINDS; s++) if (this.tagAsid[s] === asid) this.tagVpn[s] = 0;
  }

  /** Drop everything (RMPUPDATE/PSMASH flush globally, spec/rmp.md §4). */
  flushAll(): void {
    this.tagVpn.fill(0);
  }

  /** Drop every translation whose frame lies in [spa, spa + bytes). */
  flushPhysicalRange(spa: number, bytes: number): void {
    const end = spa + bytes;
    for (let s = 0; s < SETS * KINDS; s++) {
      const f = this.frame[s]!;
      if (this.tagVpn[s] !== 0 && f + 4096 > spa && f < end) this.tagVpn[s] = 0;
    }
  }
}
