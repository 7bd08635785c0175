// The scenario state vocabulary → entry fields (spec/scenario.md `rmp`, spec/rmp.md §2, §1.5).
import { describe, expect, it } from 'vitest';
import { entryForState, RmpStateError, stateNameOf, PAGE_STATES } from '../../src/rmp/states.ts';
import { describePfn } from '../../src/rmp/host-eval.ts';
import { makeRmp, TWO_MIB } from './setup.ts';

describe('page states (spec/rmp.md §2)', () => {
  it('maps each state to the firmware table row and back', () => {
    // §2 table: (Assigned, Validated, ASID, Immutable) per state.
    const rows = {
      hypervisor: [false, false, 0, false],
      'hv-fixed': [false, false, 0, true],
      firmware: [true, false, 0, true],
      reclaim: [true, false, 0, false],
      'pre-guest': [true, false, 7, true],
      'guest-invalid': [true, false, 7, false],
      'guest-valid': [true, true, 7, false],
    } as const;
    for (const state of PAGE_STATES) {
      const guest = state === 'pre-guest' || state === 'guest-invalid' || state === 'guest-valid';
      const e = entryForState(guest ? { state, asid: 7, gpa: 0x5000 } : { state });
      const [assigned, validated, asid, immutable] = rows[state];
      expect([e.assigned, e.validated, e.asid, e.immutable], state).toEqual([assigned, validated, asid, immutable]);
      expect(stateNameOf(e)).toBe(state);
      if (guest) {
        expect(e.gpa).toBe(0x5000);
        // RMPUPDATE leaves VMPL0 = all (0x1f), the others none (§1.4).
        expect(e.vmpl).toEqual([0x1f, 0, 0, 0]);
      }
    }
    // Firmware carries the lock bit (RMP_ENTRY_VAL_FIRMWARE = 0x8000000000000005).
    expect(entryForState({ state: 'firmware' }).lock).toBe(true);
  });

  it('names firmware states outside the vocabulary: context, metadata, pre-swap', () => {
    const fw = entryForState({ state: 'firmware' });
    expect(stateNameOf({ ...fw, vmsa: true })).toBe('context');
    expect(stateNameOf({ ...fw, gpa: 0x1000 })).toBe('metadata');
    expect(stateNameOf({ ...entryForState({ state: 'pre-guest', asid: 1 }), validated: true })).toBe('pre-swap');
  });

  it('rejects impossible combinations with a message naming the problem', () => {
    const bad: [object, RegExp][] = [
      [{ state: 'hypervisor', asid: 3 }, /ASID 0/],
      [{ state: 'firmware', gpa: 0x1000 }, /no guest physical address/],
      [{ state: 'hv-fixed', vmsa: true }, /VMSA/],
      [{ state: 'guest-valid' }, /needs an asid/],
      [{ state: 'guest-valid', asid: 0 }, /1\.\.1023/],
      [{ state: 'guest-valid', asid: 1024 }, /1\.\.1023/],
      [{ state: 'guest-valid', asid: 1, gpa: 0x1800 }, /4K-aligned/],
      [{ state: 'guest-valid', asid: 1, gpa: 0x1000, size: '2M' }, /2M-aligned/],
      [{ state: 'guest-valid', asid: 1, size: '1G' }, /"4K" or "2M"/],
      [{ state: 'shared' }, /unknown RMP page state "shared"/],
    ];
    for (const [spec, msg] of bad) {
      expect(() => entryForState(spec as never), JSON.stringify(spec)).toThrow(RmpStateError);
      expect(() => entryForState(spec as never)).toThrow(msg);
    }
  });
});

describe('setState in the table', () => {
  it('a 2M guest page sets the aligned entry (Page_Size=1) and 511 middle entries (Assigned only), §1.5', () => {
    const t = makeRmp();
    t.setState(TWO_MIB, { state: 'guest-valid', asid: 1, gpa: 0x400000, size: '2M' });
    const head = t.entry(0x200);
    expect(head.assigned && head.pageSize === 1 && head.validated).toBe(true);
    expect(head.gpa).toBe(0x400000);
    // The hardware subpage count: all 511 other entries are assigned.
    expect(head.subpageCount).toBe(511);
    for (const pfn of [0x201, 0x2ff, 0x3ff]) {
      const m = t.entry(pfn);
      expect(m.assigned).toBe(true);
      expect([m.pageSize, m.asid, m.gpa, m.validated, m.vmsa, m.vmpl[0]]).toEqual([0, 0, 0, false, false, 0]);
    }
    expect(t.entry(0x400).assigned).toBe(false);
    expect(describePfn(t, 0x205)).toMatch(/middle entry \(Assigned=1\) of the 2M guest-valid page at pfn 0x200 \(Assigned=1, Page_Size=2M/);
  });

  it('a 2M firmware or hv-fixed state sets each of the 512 entries to the 4K state', () => {
    const t = makeRmp();
    t.setState(TWO_MIB, { state: 'firmware', size: '2M' });
    expect(stateNameOf(t.entry(0x200))).toBe('firmware');
    expect(stateNameOf(t.entry(0x3ff))).toBe('firmware');
    expect(t.entry(0x3ff).pageSize).toBe(0);
    // Like AMD firmware's example lo=0x8000000000000ffd: the aligned entry counts 511 assigned others.
    expect(t.rawEntry(0x200).lo).toBe(0x8000000000000ffdn);
  });

  it('keeps the subpage count as 4K states come and go', () => {
    const t = makeRmp();
    t.setState(0x203000, { state: 'guest-invalid', asid: 2, gpa: 0x3000 });
    t.setState(0x204000, { state: 'reclaim' });
    t.setState(0x200000, { state: 'guest-invalid', asid: 2, gpa: 0 }); // the aligned entry is not counted
    expect(t.entry(0x200).subpageCount).toBe(2);
    t.setState(0x203000, { state: 'hypervisor' });
    expect(t.entry(0x200).subpageCount).toBe(1);
    expect(t.recountSubpages(0x3ff)).toBe(1);
  });

  it('refuses a 4K state inside an assigned 2M page, an unaligned 2M page and an uncovered page', () => {
    const t = makeRmp();
    t.setState(TWO_MIB, { state: 'guest-valid', asid: 1, gpa: 0, size: '2M' });
    expect(() => t.setState(0x201000, { state: 'hypervisor' })).toThrow(/inside the 2M RMP page at 0x200000/);
    expect(() => t.setState(0x201000, { state: 'guest-valid', asid: 1, size: '2M' })).toThrow(/2M-aligned/);
    expect(() => t.setState(0xfc00000, { state: 'firmware' })).toThrow(/above the RMP's coverage/);
  });
});
