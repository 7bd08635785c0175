// The host RMP check at the MMU's final stage (spec/rmp.md §3.1, §3.2, §3.3, §6.3, §8).
import { describe, expect, it } from 'vitest';
import { Access } from '../../src/mmu/linear-memory.ts';
import { TableAccess } from '../../src/rmp/host-check.ts';
import { PAGE_STATES, type PageStateSpec } from '../../src/rmp/states.ts';
import { evaluateHostCheck } from '../../src/rmp/host-eval.ts';
import { PhysicalMemory } from '../../src/mem/physical.ts';
import { RmpTable } from '../../src/rmp/table.ts';
import { makeRmp, MIB, ONE_GIB, PAGE, TWO_MIB } from './setup.ts';

const W = Access.Write;
const R = Access.Read;
const X = Access.Fetch;
const NONE = TableAccess.None;

function spec(state: (typeof PAGE_STATES)[number]): PageStateSpec {
  return state === 'pre-guest' || state === 'guest-invalid' || state === 'guest-valid'
    ? { state, asid: 4, gpa: 0x7000 }
    : { state };
}

describe('what is checked (§3.2)', () => {
  // §2 "Host write?" column: only Assigned=0 states (hypervisor, hv-fixed) may be written.
  const hostWritable: Record<string, boolean> = {
    hypervisor: true, 'hv-fixed': true, firmware: false, reclaim: false,
    'pre-guest': false, 'guest-invalid': false, 'guest-valid': false,
  };
  for (const state of PAGE_STATES) {
    it(`${state}: write ${hostWritable[state] ? 'passes' : 'faults'}, read and fetch pass (4K mapping)`, () => {
      const t = makeRmp();
      t.setState(0x7000, spec(state));
      const w = t.checkHost(0x7010, W, PAGE, NONE);
      if (hostWritable[state]) expect(w).toBeNull();
      else expect(w).toMatchObject({ pfn: 7, targetPfn: 7, check: 'Hypervisor-Owned' });
      // Host data reads and instruction fetches get no RMP check at all.
      expect(t.checkHost(0x7010, R, PAGE, NONE)).toBeNull();
      expect(t.checkHost(0x7010, X, PAGE, NONE)).toBeNull();
    });
  }

  it('counts only checked accesses, and failures', () => {
    const t = makeRmp();
    t.setState(0x7000, spec('guest-valid'));
    t.checkHost(0x7000, R, PAGE, NONE);
    t.checkHost(0x7000, X, PAGE, NONE);
    t.checkHost(0x8000, W, PAGE, NONE);
    t.checkHost(0x7000, W, PAGE, NONE);
    expect(t.stats.checks).toBe(2);
    expect(t.stats.faults).toBe(1);
  });

  it('with SNP off every access passes (§3: checks need SYSCFG.SNP_EN)', () => {
    const phys = new PhysicalMemory(64 * MIB);
    const t = new RmpTable(phys);
    t.configure(RmpTable.defaultPlacement(phys.size));
    // An assigned-looking entry in memory, but SNP is not enabled.
    phys.writeU32(t.entryAddress(7), 1);
    expect(t.checkHost(0x7000, W, PAGE, TableAccess.AdWrite)).toBeNull();
    expect(t.stats.checks).toBe(0);
  });

  it('a page above the coverage is hypervisor-owned: writes always pass (§1.2)', () => {
    // RMP at 0x3f00000..0x3f05fff covers (0x6000 - 0x4000)/16 = 0x200 pages = 2 MiB.
    const phys = new PhysicalMemory(64 * MIB);
    const t = new RmpTable(phys);
    t.configure({ base: 0x3f00000, end: 0x3f05fff });
    t.enable();
    expect(t.coveredPages).toBe(0x200);
    // Stale bytes where the entry of pfn 0x200 would be (just past RMP_END) do not matter.
    phys.writeU32(0x3f06000, 1);
    expect(t.checkHost(0x200000, W, PAGE, NONE)).toBeNull();
    expect(t.checkHost(0x200000, W, TWO_MIB, NONE)).toBeNull();
    expect(t.checkHost(0x200000, W, PAGE, TableAccess.AdWrite)).toBeNull();
  });
});

describe('mapping sizes (§3.1)', () => {
  it('4K mapping: only the target 4K entry counts', () => {
    const t = makeRmp();
    t.setState(0x205000, spec('guest-valid'));
    expect(t.checkHost(0x201000, W, PAGE, NONE)).toBeNull();
  });

  it('2M mapping: an assigned neighbour in the 2M region faults a write to an unassigned page', () => {
    const t = makeRmp();
    t.setState(0x205000, spec('guest-valid'));
    const f = t.checkHost(0x201000, W, TWO_MIB, NONE);
    expect(f).toMatchObject({ pfn: 0x205, targetPfn: 0x201, check: 'Hypervisor-Owned' });
    // As mainline's dump: the non-zero entries of the region. The 2M-aligned entry is non-zero
    // too: it holds the hardware subpage count 1 (lo = 1 << 3 = 0x8).
    expect(f!.regionEntries!.map((r) => r.pfn)).toEqual([0x200, 0x205]);
    expect(f!.regionEntries![0]!.lo).toBe(0x8n);
    expect(f!.why).toMatch(/target pfn 0x201 is hypervisor, but pfn 0x205 in 2M region pfn 0x200-0x3ff is guest-valid/);
    expect(f!.why).toMatch(/non-zero entries of the region: pfn 0x200 \[0x0000000000000008 - 0x0000000000000000\], pfn 0x205 \[0x/);
  });

  it('2M mapping: the 2M-aligned entry alone being assigned faults, and a neighbouring region does not', () => {
    const t = makeRmp();
    t.setState(0x200000, spec('guest-invalid'));
    expect(t.checkHost(0x3ff000, W, TWO_MIB, NONE)?.pfn).toBe(0x200);
    expect(t.checkHost(0x400000, W, TWO_MIB, NONE)).toBeNull();
    expect(t.checkHost(0x1ff000, W, TWO_MIB, NONE)).toBeNull();
  });

  it('2M mapping over a 2M guest page: faults through the middle entries', () => {
    const t = makeRmp();
    t.setState(0x200000, { state: 'guest-valid', asid: 1, gpa: 0x200000, size: '2M' });
    const f = t.checkHost(0x205000, W, TWO_MIB, NONE);
    expect(f).toMatchObject({ pfn: 0x205, check: 'Hypervisor-Owned' });
    expect(f!.why).toMatch(/target pfn 0x205 is itself a middle entry \(Assigned=1\) of the 2M guest-valid page at pfn 0x200/);
    // Through a 4K mapping the middle entry's own Assigned=1 is enough (§1.5).
    expect(t.checkHost(0x205000, W, PAGE, NONE)?.pfn).toBe(0x205);
  });

  it('2M mapping: hv-fixed neighbours (Assigned=0) do not fault', () => {
    const t = makeRmp();
    t.setState(0x200000, { state: 'hv-fixed', size: '2M' });
    expect(t.checkHost(0x201000, W, TWO_MIB, NONE)).toBeNull();
  });

  it('1G mapping: checked as the 2M sub-region holding the address, not the whole 1G', () => {
    const t = makeRmp({}, 3 * 1024 * MIB);
    // Guest page at 0x40201000 (pfn 0x40201): sub-region 0x40200000-0x403fffff.
    t.setState(0x40201000, spec('guest-valid'));
    expect(t.checkHost(0x40200010, W, ONE_GIB, NONE)).toMatchObject({ pfn: 0x40201, targetPfn: 0x40200 });
    expect(t.checkHost(0x40200010, W, ONE_GIB, NONE)!.why).toMatch(/1G mapping, checked as the 2M sub-region/);
    // Another 2M sub-region of the same 1G page: no fault.
    expect(t.checkHost(0x40400010, W, ONE_GIB, NONE)).toBeNull();
    expect(t.checkHost(0x40000000, W, ONE_GIB, NONE)).toBeNull();
  });
});

describe('page-table accesses of the walk (§3.2 notes, §9 item 3)', () => {
  it('A/D writes are checked, always as 4K', () => {
    const t = makeRmp();
    t.setState(0x205000, spec('guest-valid'));
    // A 2M data mapping size is irrelevant: table accesses are 4K checks of the table page itself.
    expect(t.checkHost(0x201000, W, TWO_MIB, TableAccess.AdWrite)).toBeNull();
    expect(t.checkHost(0x205008, W, TWO_MIB, TableAccess.AdWrite)).toMatchObject({ pfn: 0x205, check: 'Hypervisor-Owned' });
    expect(t.checkHost(0x205008, W, PAGE, TableAccess.AdWrite)!.why).toMatch(/A\/D-bit write by the walk.*checked as 4K/);
  });

  it('entry reads are checked when checkWalkReads is on (default, scenario machine.rmpWalkReads)', () => {
    const t = makeRmp();
    t.setState(0x205000, spec('guest-valid'));
    const f = t.checkHost(0x205008, R, PAGE, TableAccess.EntryRead);
    expect(f).toMatchObject({ pfn: 0x205, check: 'Hypervisor-Owned' });
    expect(f!.why).toMatch(/page-table read by the walk/);
  });

  it('entry reads pass when checkWalkReads is off; A/D writes are still checked', () => {
    const t = makeRmp({ checkWalkReads: false });
    t.setState(0x205000, spec('guest-valid'));
    expect(t.checkHost(0x205008, R, PAGE, TableAccess.EntryRead)).toBeNull();
    expect(t.checkHost(0x205008, W, PAGE, TableAccess.AdWrite)).not.toBeNull();
    t.setOptions({ checkWalkReads: true });
    expect(t.checkHost(0x205008, R, PAGE, TableAccess.EntryRead)).not.toBeNull();
  });
});

describe('quirk hostChecksImmutable (§6.3, scenario quirks)', () => {
  it('off (hardware): a host write to an HV-Fixed page passes', () => {
    const t = makeRmp();
    t.setState(0x11000, { state: 'hv-fixed' });
    expect(t.checkHost(0x11000, W, PAGE, NONE)).toBeNull();
  });

  it('on: the same write faults, naming the quirk; reads still pass', () => {
    const t = makeRmp({ hostChecksImmutable: true });
    t.setState(0x11000, { state: 'hv-fixed' });
    const f = t.checkHost(0x11000, W, PAGE, NONE);
    expect(f).toMatchObject({ pfn: 0x11, check: 'Mutable (quirk hostChecksImmutable)' });
    expect(f!.why).toMatch(/only because of the quirk/);
    expect(t.checkHost(0x11000, R, PAGE, NONE)).toBeNull();
    // Ordinary hypervisor pages (Immutable=0) still pass.
    expect(t.checkHost(0x12000, W, PAGE, NONE)).toBeNull();
  });

  it('on: only the target 4K entry is tested for Immutable, not its 2M neighbours [I]', () => {
    const t = makeRmp({ hostChecksImmutable: true });
    t.setState(0x205000, { state: 'hv-fixed' });
    expect(t.checkHost(0x201000, W, TWO_MIB, NONE)).toBeNull();
    expect(t.checkHost(0x205000, W, TWO_MIB, NONE)?.check).toBe('Mutable (quirk hostChecksImmutable)');
  });

  it('can be switched at run time and notifies listeners (cached passes become stale)', () => {
    const t = makeRmp();
    t.setState(0x11000, { state: 'hv-fixed' });
    const seen: [number, number][] = [];
    t.onChange((spa, bytes) => seen.push([spa, bytes]));
    t.setOptions({ hostChecksImmutable: true });
    expect(seen).toEqual([[0, 0xfc00000]]);
    expect(t.checkHost(0x11000, W, PAGE, NONE)).not.toBeNull();
  });
});

describe('in-use pages (§3.3)', () => {
  it('a host write to an in-use VMCB faults although it is unassigned; reads pass', () => {
    const t = makeRmp();
    expect(t.setInUse(0x30, { kind: 'vmcb', snpGuest: false })).toBe(true);
    const f = t.checkHost(0x30000, W, PAGE, NONE);
    expect(f).toMatchObject({ pfn: 0x30, check: 'In-Use' });
    expect(f!.why).toMatch(/in use as a running non-SNP guest's VMCB page.*although the page is hypervisor/);
    expect(t.checkHost(0x30000, R, PAGE, NONE)).toBeNull();
    t.setInUse(0x30, null);
    expect(t.checkHost(0x30000, W, PAGE, NONE)).toBeNull();
  });

  it('HvInUseWrAllowed lets the host write a non-SNP guest\'s AVIC backing page, not an SNP guest\'s', () => {
    const t = makeRmp({ hvInUseWrAllowed: true });
    t.setInUse(0x31, { kind: 'avic', snpGuest: false });
    t.setInUse(0x32, { kind: 'avic', snpGuest: true });
    t.setInUse(0x33, { kind: 'vmsa', snpGuest: false });
    expect(t.checkHost(0x31000, W, PAGE, NONE)).toBeNull();
    expect(t.checkHost(0x32000, W, PAGE, NONE)?.check).toBe('In-Use');
    expect(t.checkHost(0x33000, W, PAGE, NONE)?.check).toBe('In-Use');
  });

  it('erratum option: an in-use 2M-aligned page poisons its 2M region for huge mappings only', () => {
    const t = makeRmp({ inUseErratum: true });
    t.setInUse(0x200, { kind: 'vmsa', snpGuest: true });
    expect(t.checkHost(0x201000, W, TWO_MIB, NONE)?.check).toBe('In-Use (2M erratum)');
    expect(t.checkHost(0x201000, W, PAGE, NONE)).toBeNull();
    const plain = makeRmp();
    plain.setInUse(0x200, { kind: 'vmsa', snpGuest: true });
    expect(plain.checkHost(0x201000, W, TWO_MIB, NONE)).toBeNull();
  });

  it('an uncovered page cannot carry an in-use mark', () => {
    const t = makeRmp();
    expect(t.setInUse(0xfc00, { kind: 'vmcb', snpGuest: false })).toBe(false);
  });
});

describe('transient busy entries (§3.2 transient faults, §8 last bullet)', () => {
  it('the next N checked accesses fault, then the access passes (software retries)', () => {
    const t = makeRmp();
    t.injectBusy(0x40, { accesses: 2 });
    // A read is not checked, so it does not consume the injection.
    expect(t.checkHost(0x40000, R, PAGE, NONE)).toBeNull();
    expect(t.checkHost(0x40000, W, PAGE, NONE)?.check).toBe('Transient');
    expect(t.checkHost(0x40000, W, PAGE, NONE)?.check).toBe('Transient');
    expect(t.checkHost(0x40000, W, PAGE, NONE)).toBeNull();
  });
});

describe('fast path agrees with the full evaluation', () => {
  it('on random tables, for every mapping size and access kind', () => {
    // Deterministic xorshift32 so a failure reproduces.
    let seed = 0x1234567;
    const rnd = (n: number): number => {
      seed ^= seed << 13; seed >>>= 0;
      seed ^= seed >>> 17;
      seed ^= seed << 5; seed >>>= 0;
      return seed % n;
    };
    const t = makeRmp();
    // Populate regions 0..7 (pfn 0..0xfff) with random 4K states and an occasional 2M page.
    for (let region = 0; region < 8; region++) {
      if (rnd(4) === 0) {
        t.setState(region * TWO_MIB, { state: 'guest-valid', asid: 1 + rnd(5), gpa: region * TWO_MIB, size: '2M' });
        continue;
      }
      const n = rnd(4);
      for (let i = 0; i < n; i++) {
        const state = PAGE_STATES[rnd(PAGE_STATES.length)]!;
        t.setState(region * TWO_MIB + rnd(512) * PAGE, spec(state));
      }
    }
    const sizes = [PAGE, TWO_MIB, ONE_GIB];
    const tables = [TableAccess.None, TableAccess.EntryRead, TableAccess.AdWrite];
    for (let i = 0; i < 3000; i++) {
      const spa = rnd(0x1000) * PAGE + rnd(PAGE);
      const access = [R, W, X][rnd(3)]!;
      const size = sizes[rnd(3)]!;
      const table = tables[rnd(3)]!;
      const fast = t.checkHost(spa, access, size, table);
      const checked = table !== TableAccess.None || access === W;
      const full = checked ? evaluateHostCheck(t, spa, Math.floor(spa / PAGE), access, size, table) : null;
      expect(fast === null, `spa 0x${spa.toString(16)} access ${access} size ${size} table ${table}`).toBe(full === null);
    }
  });
});
