// RMPUPDATE, PSMASH, RMPREAD: every return code and effect (spec/rmp.md §5.2, §5.3, §5.6, §4).
import { describe, expect, it } from 'vitest';
import { encodeRmpState, decodeRmpState, emptyEntry } from '../../src/rmp/entry.ts';
import { RmpStatus, RMP_RAISE_UD } from '../../src/rmp/codes.ts';
import { stateNameOf } from '../../src/rmp/states.ts';
import { PhysicalMemory } from '../../src/mem/physical.ts';
import { RmpTable } from '../../src/rmp/table.ts';
import { Access } from '../../src/mmu/linear-memory.ts';
import { TableAccess } from '../../src/rmp/host-check.ts';
import { makeRmp, MIB, PAGE, TWO_MIB } from './setup.ts';

/** Linux rmp_make_private(pfn, gpa, level, asid, immutable) state bytes. */
function priv(gpa: number, asid: number, size2M = false, immutable = false): Uint8Array {
  return encodeRmpState({ gpa, assigned: true, pageSize: size2M ? 1 : 0, immutable, asid });
}
/** Linux rmp_make_shared(pfn, level): all zero but the page size. */
function shared(size2M = false): Uint8Array {
  return encodeRmpState({ gpa: 0, assigned: false, pageSize: size2M ? 1 : 0, immutable: false, asid: 0 });
}

function listen(t: RmpTable): [number, number][] {
  const seen: [number, number][] = [];
  t.onChange((spa, bytes) => seen.push([spa, bytes]));
  return seen;
}

describe('RMPUPDATE success effects (§5.2)', () => {
  it('hypervisor → guest-invalid: fields set, Validated=0, VMPL0=all; listeners hear the 4K page', () => {
    const t = makeRmp();
    const seen = listen(t);
    expect(t.rmpupdate(0x7000, priv(0x5000, 5))).toBe(RmpStatus.SUCCESS);
    const e = t.entry(7);
    expect(stateNameOf(e)).toBe('guest-invalid');
    expect([e.gpa, e.asid, e.pageSize, e.validated, e.vmsa]).toEqual([0x5000, 5, 0, false, false]);
    expect(e.vmpl).toEqual([0x1f, 0, 0, 0]);
    expect(seen).toEqual([[0x7000, PAGE]]);
    expect(t.stats.rmpupdates).toBe(1);
  });

  it('re-update with the same Assigned/ASID/GPA/size keeps Validated, VMSA and VMPL masks', () => {
    const t = makeRmp();
    t.setState(0x7000, { state: 'guest-valid', asid: 5, gpa: 0x5000, vmsa: true });
    t.setEntry(7, { vmpl: [0x1f, 0x03, 0, 0] });
    expect(t.rmpupdate(0x7000, priv(0x5000, 5))).toBe(RmpStatus.SUCCESS);
    const e = t.entry(7);
    expect([e.validated, e.vmsa]).toEqual([true, true]);
    expect(e.vmpl).toEqual([0x1f, 0x03, 0, 0]);
  });

  for (const [what, state] of [
    ['the GPA', priv(0x6000, 5)],
    ['the ASID', priv(0x5000, 6)],
  ] as const) {
    it(`changing ${what} clears Validated and VMSA and resets the VMPL masks`, () => {
      const t = makeRmp();
      t.setState(0x7000, { state: 'guest-valid', asid: 5, gpa: 0x5000, vmsa: true });
      t.setEntry(7, { vmpl: [0x1f, 0x03, 0, 0] });
      expect(t.rmpupdate(0x7000, state)).toBe(RmpStatus.SUCCESS);
      const e = t.entry(7);
      expect([e.validated, e.vmsa]).toEqual([false, false]);
      expect(e.vmpl).toEqual([0x1f, 0, 0, 0]);
    });
  }

  it('Assigned=0 clears the entry completely (back to the all-zero hypervisor entry)', () => {
    const t = makeRmp();
    t.setState(0x7000, { state: 'guest-valid', asid: 5, gpa: 0x5000 });
    expect(t.rmpupdate(0x7000, shared())).toBe(RmpStatus.SUCCESS);
    expect(t.rawEntry(7)).toEqual({ lo: 0n, hi: 0n });
  });

  it('a Reclaim page can be made hypervisor-owned again (§2)', () => {
    const t = makeRmp();
    t.setState(0x7000, { state: 'reclaim' });
    expect(t.rmpupdate(0x7000, shared())).toBe(RmpStatus.SUCCESS);
    expect(stateNameOf(t.entry(7))).toBe('hypervisor');
  });

  it('Immutable=1 with Assigned=1 gives Pre-Guest (rmp_make_private(..., immutable))', () => {
    const t = makeRmp();
    expect(t.rmpupdate(0x7000, priv(0x5000, 5, false, true))).toBe(RmpStatus.SUCCESS);
    expect(stateNameOf(t.entry(7))).toBe('pre-guest');
  });

  it('a 2M update sets Page_Size=1 on the aligned entry and Assigned=1 (only) on the 511 middle entries', () => {
    const t = makeRmp();
    const seen = listen(t);
    expect(t.rmpupdate(0x400000, priv(0x200000, 3, true))).toBe(RmpStatus.SUCCESS);
    const head = t.entry(0x400);
    expect([head.assigned, head.pageSize, head.asid, head.gpa, head.subpageCount]).toEqual([true, 1, 3, 0x200000, 511]);
    for (const pfn of [0x401, 0x4ff, 0x5ff]) expect(t.entry(pfn)).toEqual({ ...emptyEntry(), assigned: true });
    expect(seen).toEqual([[0x400000, TWO_MIB]]);
  });

  it('a 2M release (rmp_make_shared(pfn, PG_LEVEL_2M)) clears all 512 entries', () => {
    const t = makeRmp();
    t.rmpupdate(0x400000, priv(0x200000, 3, true));
    expect(t.rmpupdate(0x400000, shared(true))).toBe(RmpStatus.SUCCESS);
    for (const pfn of [0x400, 0x401, 0x5ff]) expect(t.rawEntry(pfn)).toEqual({ lo: 0n, hi: 0n });
  });

  it('the new entries are what the host check sees (TLB users flush on the listener)', () => {
    const t = makeRmp();
    expect(t.checkHost(0x7000, Access.Write, PAGE, TableAccess.None)).toBeNull();
    t.rmpupdate(0x7000, priv(0x5000, 5));
    expect(t.checkHost(0x7000, Access.Write, PAGE, TableAccess.None)).not.toBeNull();
  });
});

describe('RMPUPDATE failures (§5.2): each returns its code and changes nothing', () => {
  function expectUnchanged(t: RmpTable, pfn: number, run: () => number, code: number): void {
    const before = t.rawEntry(pfn);
    const seen = listen(t);
    expect(run()).toBe(code);
    expect(t.rawEntry(pfn)).toEqual(before);
    expect(seen).toEqual([]);
  }

  it('FAIL_INPUT (1): spa not 4K-aligned, not covered, 2M size on an unaligned spa', () => {
    const t = makeRmp();
    expectUnchanged(t, 7, () => t.rmpupdate(0x7010, priv(0x5000, 5)), RmpStatus.FAIL_INPUT);
    expect(t.rmpupdate(0xfc00000, priv(0x5000, 5))).toBe(RmpStatus.FAIL_INPUT);
    expectUnchanged(t, 0x401, () => t.rmpupdate(0x401000, priv(0x200000, 5, true)), RmpStatus.FAIL_INPUT);
  });

  it('FAIL_INPUT (1): malformed state: reserved bits, unaligned GPA, ASID 0 or > 1023 when assigned, 2M GPA unaligned', () => {
    const t = makeRmp();
    const reserved = priv(0x5000, 5);
    reserved[11] = 1;
    expect(t.rmpupdate(0x7000, reserved)).toBe(RmpStatus.FAIL_INPUT);
    expect(t.rmpupdate(0x7000, priv(0x5800, 5))).toBe(RmpStatus.FAIL_INPUT);
    expect(t.rmpupdate(0x7000, priv(0x5000, 0))).toBe(RmpStatus.FAIL_INPUT);
    expect(t.rmpupdate(0x7000, priv(0x5000, 1024))).toBe(RmpStatus.FAIL_INPUT);
    expect(t.rmpupdate(0x400000, priv(0x201000, 5, true))).toBe(RmpStatus.FAIL_INPUT);
    expect(t.rawEntry(7)).toEqual({ lo: 0n, hi: 0n });
  });

  it('FAIL_PERMISSION (2): the current entry is Immutable (Firmware, HV-Fixed, Pre-Guest) — §7 case 30', () => {
    const t = makeRmp();
    t.setState(0x12000, { state: 'firmware' });
    t.setState(0x13000, { state: 'hv-fixed' });
    t.setState(0x14000, { state: 'pre-guest', asid: 2, gpa: 0x1000 });
    expectUnchanged(t, 0x12, () => t.rmpupdate(0x12000, shared()), RmpStatus.FAIL_PERMISSION);
    expectUnchanged(t, 0x13, () => t.rmpupdate(0x13000, priv(0x1000, 2)), RmpStatus.FAIL_PERMISSION);
    expectUnchanged(t, 0x14, () => t.rmpupdate(0x14000, shared()), RmpStatus.FAIL_PERMISSION);
    // rmp-30 conformance: after the failed update the CPL0 write to the Firmware page still faults.
    expect(t.checkHost(0x12000, Access.Write, PAGE, TableAccess.None)?.check).toBe('Hypervisor-Owned');
  });

  it('FAIL_PERMISSION (2): a 2M update over a region holding an Immutable entry', () => {
    const t = makeRmp();
    t.setState(0x405000, { state: 'hv-fixed' });
    expectUnchanged(t, 0x400, () => t.rmpupdate(0x400000, priv(0x200000, 5, true)), RmpStatus.FAIL_PERMISSION);
  });

  it('FAIL_PERMISSION (2): Assigned=0 with Immutable=1 or ASID != 0 (VeriSMo _rmpupdate)', () => {
    const t = makeRmp();
    expect(t.rmpupdate(0x7000, encodeRmpState({ gpa: 0, assigned: false, pageSize: 0, immutable: true, asid: 0 }))).toBe(RmpStatus.FAIL_PERMISSION);
    expect(t.rmpupdate(0x7000, encodeRmpState({ gpa: 0, assigned: false, pageSize: 0, immutable: false, asid: 3 }))).toBe(RmpStatus.FAIL_PERMISSION);
  });

  it('FAIL_PERMISSION (2): executed with a current ASID != 0', () => {
    const t = makeRmp();
    expect(t.rmpupdate(0x7000, priv(0x5000, 5), { asid: 1 })).toBe(RmpStatus.FAIL_PERMISSION);
  });

  it('FAIL_INUSE (3): an in-use VMSA (§7 case 31), and any in-use page of a 2M update', () => {
    const t = makeRmp();
    t.setInUse(0x7, { kind: 'vmsa', snpGuest: false });
    expectUnchanged(t, 7, () => t.rmpupdate(0x7000, priv(0x5000, 5)), RmpStatus.FAIL_INUSE);
    t.setInUse(0x4ff, { kind: 'vmcb', snpGuest: false });
    expect(t.rmpupdate(0x400000, priv(0x200000, 5, true))).toBe(RmpStatus.FAIL_INUSE);
  });

  it('FAIL_INUSE (3): an injected busy entry, transient: the retry succeeds', () => {
    const t = makeRmp();
    t.injectBusy(7, { instructions: 1 });
    expectUnchanged(t, 7, () => t.rmpupdate(0x7000, priv(0x5000, 5)), RmpStatus.FAIL_INUSE);
    expect(t.rmpupdate(0x7000, priv(0x5000, 5))).toBe(RmpStatus.SUCCESS);
  });

  it('FAIL_OVERLAP (4): a 4K update inside an assigned 2M page, before PSMASH', () => {
    const t = makeRmp();
    t.rmpupdate(0x400000, priv(0x200000, 3, true));
    expectUnchanged(t, 0x405, () => t.rmpupdate(0x405000, shared()), RmpStatus.FAIL_OVERLAP);
    // The aligned entry itself as a 4K update overlaps too.
    expectUnchanged(t, 0x400, () => t.rmpupdate(0x400000, shared()), RmpStatus.FAIL_OVERLAP);
  });

  it('FAIL_OVERLAP (4): a 2M update over a region with a 4K assignment', () => {
    const t = makeRmp();
    t.rmpupdate(0x405000, priv(0x5000, 3));
    expectUnchanged(t, 0x400, () => t.rmpupdate(0x400000, priv(0x200000, 3, true)), RmpStatus.FAIL_OVERLAP);
    expect(t.rmpupdate(0x400000, shared(true))).toBe(RmpStatus.FAIL_OVERLAP);
  });

  it('a 2M update over a region whose only 4K assignment is the aligned entry succeeds', () => {
    const t = makeRmp();
    t.rmpupdate(0x400000, priv(0x200000, 3));
    expect(t.rmpupdate(0x400000, priv(0x200000, 3, true))).toBe(RmpStatus.SUCCESS);
  });

  it('with SNP off the CPU must raise #UD (RMP_RAISE_UD), nothing changes', () => {
    const phys = new PhysicalMemory(64 * MIB);
    const t = new RmpTable(phys);
    t.configure(RmpTable.defaultPlacement(phys.size));
    expect(t.rmpupdate(0x7000, priv(0x5000, 5))).toBe(RMP_RAISE_UD);
    expect(t.psmash(0x400000)).toBe(RMP_RAISE_UD);
    expect(t.rmpread(0x7000).status).toBe(RMP_RAISE_UD);
  });
});

describe('PSMASH (§5.3)', () => {
  it('splits a 2M page into 512 4K entries: GPA + i*4K, Validated kept, other fields copied', () => {
    const t = makeRmp();
    t.setState(0x400000, { state: 'guest-valid', asid: 9, gpa: 0x600000, size: '2M' });
    t.setEntry(0x400, { vmpl: [0x1f, 0x01, 0, 0] });
    const seen = listen(t);
    expect(t.psmash(0x400000)).toBe(RmpStatus.SUCCESS);
    for (const i of [0, 1, 0x123, 511]) {
      const e = t.entry(0x400 + i);
      expect([e.assigned, e.pageSize, e.asid, e.gpa, e.validated, e.immutable], `entry ${i}`).toEqual([
        true, 0, 9, 0x600000 + i * PAGE, true, false,
      ]);
      expect(e.vmpl).toEqual([0x1f, 0x01, 0, 0]);
    }
    expect(t.entry(0x400).subpageCount).toBe(511);
    expect(seen).toEqual([[0x400000, TWO_MIB]]);
    expect(t.stats.psmashes).toBe(1);
    // Now a 4K conversion inside the region no longer overlaps (KVM: PSMASH before a 4K conversion).
    expect(t.rmpupdate(0x405000, shared())).toBe(RmpStatus.SUCCESS);
  });

  it('FAIL_INPUT (1): spa not 2M-aligned or not covered', () => {
    const t = makeRmp();
    expect(t.psmash(0x401000)).toBe(RmpStatus.FAIL_INPUT);
    expect(t.psmash(0xfc00000)).toBe(RmpStatus.FAIL_INPUT);
  });

  it('not an assigned 2M page: 7 by default, 4 with psmashNot2mCode (§9 item 1)', () => {
    const t = makeRmp();
    expect(t.psmash(0x400000)).toBe(RmpStatus.PSMASH_FAIL_NOT_2M);
    t.setState(0x400000, { state: 'guest-valid', asid: 1, gpa: 0 });
    expect(t.psmash(0x400000)).toBe(7);
    const old = makeRmp({ psmashNot2mCode: 4 });
    expect(old.psmash(0x400000)).toBe(4);
  });

  it('FAIL_INUSE (3) is transient: KVM\'s retry loop succeeds after the injected busy ends', () => {
    const t = makeRmp();
    t.setState(0x400000, { state: 'guest-valid', asid: 1, gpa: 0, size: '2M' });
    t.injectBusy(0x400, { instructions: 2 });
    let tries = 0;
    let rc: number;
    do { rc = t.psmash(0x400000); tries++; } while (rc === RmpStatus.FAIL_INUSE && tries < 10);
    expect([rc, tries]).toEqual([RmpStatus.SUCCESS, 3]);
  });

  it('FAIL_INUSE (3): an in-use page inside the region', () => {
    const t = makeRmp();
    t.setState(0x400000, { state: 'guest-valid', asid: 1, gpa: 0, size: '2M' });
    t.setInUse(0x410, { kind: 'vmsa', snpGuest: true });
    expect(t.psmash(0x400000)).toBe(RmpStatus.FAIL_INUSE);
    expect(t.entry(0x400).pageSize).toBe(1);
  });

  it('FAIL_PERMISSION (2): current ASID != 0', () => {
    const t = makeRmp();
    t.setState(0x400000, { state: 'guest-valid', asid: 1, gpa: 0, size: '2M' });
    expect(t.psmash(0x400000, { asid: 1 })).toBe(RmpStatus.FAIL_PERMISSION);
  });
});

describe('RMPREAD (§5.6)', () => {
  it('returns the architectural view of the entry', () => {
    const t = makeRmp();
    t.setState(0x7000, { state: 'pre-guest', asid: 12, gpa: 0x9000 });
    const r = t.rmpread(0x7000);
    expect(r.status).toBe(RmpStatus.SUCCESS);
    const s = decodeRmpState(r.bytes);
    expect([s.gpa, s.assigned, s.pageSize, s.immutable, s.asid]).toEqual([0x9000, true, 0, true, 12]);
    // Region 0 holds one other assigned entry (pfn 7), so the aligned entry's subpage count is 1.
    expect(s.region2M).toBe(true);
    expect(t.stats.rmpreads).toBe(1);
  });

  it('2MB region status: set inside a 2M page, clear in an empty region [I: subpage count != 0]', () => {
    const t = makeRmp();
    t.setState(0x400000, { state: 'guest-invalid', asid: 1, gpa: 0, size: '2M' });
    const mid = decodeRmpState(t.rmpread(0x401000).bytes);
    expect([mid.assigned, mid.pageSize, mid.region2M]).toEqual([true, 0, true]);
    expect(decodeRmpState(t.rmpread(0x400000).bytes).pageSize).toBe(1);
    expect(decodeRmpState(t.rmpread(0x600000).bytes).region2M).toBe(false);
  });

  it('FAIL_INPUT (1) for an uncovered or unaligned spa; FAIL_PERMISSION (2) with ASID != 0', () => {
    const t = makeRmp();
    expect(t.rmpread(0xfc00000).status).toBe(RmpStatus.FAIL_INPUT);
    expect(t.rmpread(0x7008).status).toBe(RmpStatus.FAIL_INPUT);
    expect(t.rmpread(0x7000, { asid: 3 }).status).toBe(RmpStatus.FAIL_PERMISSION);
  });
});
