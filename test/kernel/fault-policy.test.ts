// Every branch of the two fault policies (spec/rmp.md §6.2 v7, §6.4 mainline), driven by faults the
// real MMU raises (error codes come from the MMU's RMP stage, not from the test), with RMP states
// set through the real RMP table. Section 7 case numbers are cited where a test is one of them.

import { describe, expect, it } from 'vitest';
import { Access, expectFault, GiB, makeFixture, MiB, RW } from './fixture.ts';
import type { HandlerResult } from '../../src/kernel/fault-handler.ts';
import type { AccessKind } from '../../src/mmu/linear-memory.ts';
import { DirectMapFault } from '../../src/kernel/kernel-memory.ts';
import { KERNEL_RIP } from '../../src/kernel/constants.ts';

const guest = (gpa: number) => ({ state: 'guest-valid' as const, asid: 1, gpa, size: '4K' as const });

function handleAt(f: ReturnType<typeof makeFixture>, policy: 'v7' | 'mainline', va: number, kind: AccessKind = Access.Write, cpl: 0 | 3 = 3): { err: number; r: HandlerResult } {
  const fault = expectFault(f.access(va, kind, cpl));
  const r = f.handler(policy).handle({ errorCode: fault.errorCode, address: fault.address, rip: 0x400000n }, cpl === 3);
  return { err: fault.errorCode >>> 0, r };
}

describe('v7 handle_user_rmp_page_fault', () => {
  it('§7 case 2: 4K PTE over a guest-valid page: #PF 0x80000007, SIGBUS BUS_ADRERR at the address', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    f.state(0x600000, guest(0x5000));
    const { err, r } = handleAt(f, 'v7', 0x600010);
    expect(err).toBe(0x80000007);
    expect(r.kind).toBe('signal');
    if (r.kind !== 'signal') return;
    expect([r.signo, r.siCode, r.siAddr]).toEqual([7, 'BUS_ADRERR', 0x600010n]);
    expect(r.decision.action).toBe('sigbus');
    expect(r.decision.why).toMatch(/assigned/);
  });

  it('§7 case 5: THP whose 2M region holds one guest page: SPLIT, then the write passes at 4K', () => {
    const f = makeFixture();
    f.map({ name: 'thp', start: 0x40000000, size: 2 * MiB, kind: 'thp', pageBytes: 2 * MiB });
    f.state(0x40007000, guest(0x7000));
    const { err, r } = handleAt(f, 'v7', 0x40080010);
    expect(err).toBe(0x80000007);
    expect([r.kind, r.decision.action]).toEqual(['resume', 'split']);
    expect(r.decision.why).toMatch(/2M PDE.*above the RMP level 4K.*__split_huge_pmd/s);
    expect(typeof f.access(0x40080010, Access.Write)).toBe('number');
  });

  it('beyond §7: after the split, a write to the guest page itself is SIGBUS', () => {
    const f = makeFixture();
    f.map({ name: 'thp', start: 0x40000000, size: 2 * MiB, kind: 'thp', pageBytes: 2 * MiB });
    f.state(0x40007000, guest(0x7000));
    handleAt(f, 'v7', 0x40080010);
    const { err, r } = handleAt(f, 'v7', 0x40007008);
    expect(err).toBe(0x80000007);
    expect(r.decision.action).toBe('sigbus');
  });

  it('§7 case 6: THP write to the guest page itself: SIGBUS before any split', () => {
    const f = makeFixture();
    f.map({ name: 'thp', start: 0x40000000, size: 2 * MiB, kind: 'thp', pageBytes: 2 * MiB });
    f.state(0x40007000, guest(0x7000));
    const { r } = handleAt(f, 'v7', 0x40007010);
    expect(r.decision.action).toBe('sigbus');
    expect(f.mm.tables.walk(0x40007010).length).toBe(3); // still one PDE: nothing was split
  });

  it('§7 case 7: THP over a 2M guest page: the middle entry is assigned, SIGBUS', () => {
    const f = makeFixture();
    f.map({ name: 'thp', start: 0x40000000, size: 2 * MiB, kind: 'thp', pageBytes: 2 * MiB });
    f.state(0x40000000, { state: 'guest-valid', asid: 1, gpa: 0x200000, size: '2M' });
    const { r } = handleAt(f, 'v7', 0x40005000);
    expect(r.decision.action).toBe('sigbus');
  });

  it('§7 case 11: 2M hugetlb over a mixed region: SPLIT decided, hugetlb_fault ignores it, nothing splits', () => {
    const f = makeFixture();
    f.map({ name: 'h', start: 0x40000000, size: 2 * MiB, kind: 'hugetlb', pageBytes: 2 * MiB });
    f.state(0x40003000, guest(0x3000));
    const { r } = handleAt(f, 'v7', 0x40001000);
    expect([r.kind, r.decision.action]).toEqual(['resume', 'split']);
    expect(r.decision.why).toMatch(/hugetlb_fault\(\) has no split path/);
    expect(f.mm.tables.walk(0x40001000).length).toBe(3);
    expect(expectFault(f.access(0x40001000, Access.Write)).errorCode >>> 0).toBe(0x80000007); // faults again
  });

  it('§7 case 9: 1G hugetlb, guest page in the same 2M sub-region: SPLIT decided, never done', () => {
    const f = makeFixture(3 * GiB);
    f.map({ name: 'g', start: 0x40000000, size: GiB, kind: 'hugetlb', pageBytes: GiB });
    f.state(0x40201000, guest(0x201000));
    const { err, r } = handleAt(f, 'v7', 0x40200010);
    expect(err).toBe(0x80000007);
    expect(r.decision.action).toBe('split');
    expect(r.decision.why).toMatch(/1G PDPTE/);
    expect(f.mm.tables.walk(0x40200010).length).toBe(2);
    // A page in another 2M sub-region of the same 1G page is not affected (1G is checked as 2M).
    expect(typeof f.access(0x40400000, Access.Write)).toBe('number');
  });

  it('§7 case 13: the PTE is zapped before the handler runs: UNMAP (PTE not present)', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    f.state(0x600000, guest(0x6000));
    const fault = expectFault(f.access(0x600000, Access.Write));
    f.mm.zap(0x600000, 0x601000); // the race: between the #PF and the handler
    const r = f.handler('v7').handle({ errorCode: fault.errorCode, address: fault.address, rip: 0n }, true);
    expect([r.kind, r.decision.action]).toEqual(['resume', 'unmap']);
    expect(r.decision.why).toMatch(/PTE for 0x600000 is not present/);
  });

  it('UNMAP when an upper-level entry is none (lookup_address_in_pgd returns NULL)', () => {
    const f = makeFixture();
    f.map({ name: 'thp', start: 0x40000000, size: 2 * MiB, kind: 'thp', pageBytes: 2 * MiB });
    f.state(0x40003000, guest(0x3000));
    const fault = expectFault(f.access(0x40001000, Access.Write));
    f.mm.zap(0x40000000, 0x40200000); // clears the PDE itself: the PMD is none
    const r = f.handler('v7').handle({ errorCode: fault.errorCode, address: fault.address, rip: 0n }, true);
    expect(r.decision.action).toBe('unmap');
    expect(r.decision.why).toMatch(/found no entry/);
  });

  it('§7 case 14: the page is made shared before the handler runs: RETRY at 4K', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    f.state(0x600000, guest(0x6000));
    const fault = expectFault(f.access(0x600000, Access.Write));
    f.state(0x600000, { state: 'hypervisor' });
    const r = f.handler('v7').handle({ errorCode: fault.errorCode, address: fault.address, rip: 0n }, true);
    expect([r.kind, r.decision.action]).toEqual(['resume', 'retry']);
    expect(typeof f.access(0x600000, Access.Write)).toBe('number');
  });

  it('a lookup error counts as "assigned": the PTE now points beyond the RMP coverage → SIGBUS', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    f.state(0x600000, guest(0x6000));
    const fault = expectFault(f.access(0x600000, Access.Write));
    f.mm.remap(0x600000, 0x601000, 64 * MiB + 0x10000); // a pfn beyond RAM and the table
    const r = f.handler('v7').handle({ errorCode: fault.errorCode, address: fault.address, rip: 0n }, true);
    expect(r.decision.action).toBe('sigbus');
    expect(r.decision.why).toMatch(/failed with -\d+.*treats like "assigned"/);
  });

  it('§7 case 22/24: Firmware and Reclaim pages are assigned: SIGBUS', () => {
    for (const state of ['firmware', 'reclaim'] as const) {
      const f = makeFixture();
      f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
      f.state(0x600000, { state });
      expect(typeof f.access(0x600000, Access.Read)).toBe('number'); // reads are not RMP-checked
      expect(handleAt(f, 'v7', 0x600000).r.decision.action).toBe('sigbus');
    }
  });

  it('kernel-mode uaccess into an assigned page: do_sigbus applies the fixup, -EFAULT (error code 0x80000003)', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    f.state(0x600000, guest(0x6000));
    const { err, r } = handleAt(f, 'v7', 0x600000, Access.Write, 0);
    expect(err).toBe(0x80000003);
    expect([r.kind, r.decision.action]).toEqual(['efault', 'efault']);
  });

  it('kernel-mode uaccess through a THP with a guest neighbour: SPLIT, then the copy passes', () => {
    const f = makeFixture();
    f.map({ name: 'thp', start: 0x40000000, size: 2 * MiB, kind: 'thp', pageBytes: 2 * MiB });
    f.state(0x40007000, guest(0x7000));
    const { r } = handleAt(f, 'v7', 0x40100000, Access.Write, 0);
    expect(r.decision.action).toBe('split');
    expect(typeof f.access(0x40100000, Access.Write, 0)).toBe('number');
  });

  it('beyond §7: a read-type RMP fault from a guest-owned PT page: v7 finds the data pfn unassigned → RETRY (loops)', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    const pt = f.mm.tables.tableOf(0x600000, 1)!;
    f.rmp.setState(pt, guest(0x9000));
    const { err, r } = handleAt(f, 'v7', 0x600000, Access.Read);
    expect(err).toBe(0x80000005); // RMP | U | P, no W: the walk's read of the PTE failed (rmpWalkReads)
    expect(r.decision.action).toBe('retry');
  });
});

describe('mainline do_user_addr_fault (no RMP code on the user path)', () => {
  it('§7 case 2: write-type RMP fault on a present writable PTE: spurious, re-execute', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    f.state(0x600000, guest(0x5000));
    const { r } = handleAt(f, 'mainline', 0x600000);
    expect([r.kind, r.decision.action]).toEqual(['resume', 'spurious']);
    expect(r.decision.why).toMatch(/PTE.*present and allows the write/);
  });

  it('§7 case 5: THP with a guest neighbour: huge_pmd_set_accessed, spurious, no split', () => {
    const f = makeFixture();
    f.map({ name: 'thp', start: 0x40000000, size: 2 * MiB, kind: 'thp', pageBytes: 2 * MiB });
    f.state(0x40007000, guest(0x7000));
    const { r } = handleAt(f, 'mainline', 0x40080010);
    expect(r.decision.action).toBe('spurious');
    expect(r.decision.why).toMatch(/huge_pmd_set_accessed/);
    expect(f.mm.tables.walk(0x40080010).length).toBe(3);
  });

  it('beyond §7: read-type RMP fault via a guest-owned page-table page: SIGSEGV SEGV_ACCERR', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    f.rmp.setState(f.mm.tables.tableOf(0x600000, 1)!, guest(0x9000));
    const { err, r } = handleAt(f, 'mainline', 0x600000, Access.Read);
    expect(err).toBe(0x80000005);
    expect(r.kind === 'signal' && [r.signo, r.siCode]).toEqual([11, 'SEGV_ACCERR']);
    expect(r.decision.why).toMatch(/read, present/);
  });

  it('§7 case 13: the PTE is zapped before the handler: the generic path demand-faults', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    f.state(0x600000, guest(0x6000));
    const fault = expectFault(f.access(0x600000, Access.Write));
    f.state(0x600000, { state: 'hypervisor' });
    f.mm.zap(0x600000, 0x601000);
    const r = f.handler('mainline').handle({ errorCode: fault.errorCode, address: fault.address, rip: 0n }, true);
    expect(r.decision.action).toBe('demand');
    expect(typeof f.access(0x600000, Access.Write)).toBe('number');
  });

  it('kernel-mode uaccess into an assigned page: spurious (the kernel copy would loop)', () => {
    const f = makeFixture();
    f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
    f.state(0x600000, guest(0x6000));
    const { err, r } = handleAt(f, 'mainline', 0x600000, Access.Write, 0);
    expect(err).toBe(0x80000003);
    expect([r.kind, r.decision.action]).toEqual(['resume', 'spurious']);
  });
});

describe('shared by both policies', () => {
  for (const policy of ['v7', 'mainline'] as const) {
    it(`${policy}: kernel write through the direct map to a guest page: oops with the RMP dump (§7 case 19)`, () => {
      const f = makeFixture();
      f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
      const pt = f.mm.tables.tableOf(0x600000, 1)!;
      f.rmp.setState(pt, guest(0x9000));
      let df: DirectMapFault | null = null;
      try {
        f.mm.zap(0x600000, 0x601000); // zap writes the PTE: a kernel write into the guest-owned table page
      } catch (e) {
        if (e instanceof DirectMapFault) df = e;
        else throw e;
      }
      expect(df).not.toBeNull();
      expect(df!.address).toBe(0xffff888000000000n + BigInt(pt));
      expect(df!.rip).toBe(KERNEL_RIP.set_pte);
      const r = f.handler(policy).handle({ errorCode: 0x80000003, address: df!.address, rip: df!.rip }, false);
      expect([r.kind, r.decision.action]).toEqual(['oops', 'oops']);
      if (r.kind !== 'oops') return;
      expect(r.message).toMatch(/error_code\(0x80000003\) - RMP violation/);
      expect(r.message).toMatch(new RegExp(`PFN 0x${(pt / 4096).toString(16)}, RMP entry: \\[`));
    });

    it(`${policy}: no VMA → SIGSEGV SEGV_MAPERR; in kernel mode → -EFAULT`, () => {
      const f = makeFixture();
      f.map({ name: 'buf', start: 0x600000, size: 0x1000 });
      const user = handleAt(f, policy, 0x700000, Access.Read).r;
      expect(user.kind === 'signal' && user.siCode).toBe('SEGV_MAPERR');
      const kernel = handleAt(f, policy, 0x700000, Access.Write, 0).r;
      expect([kernel.kind, kernel.decision.action]).toEqual(['efault', 'efault']);
    });

    it(`${policy}: write to a read-only VMA → SIGSEGV SEGV_ACCERR; an RMP-free demand fault → demand`, () => {
      const f = makeFixture();
      f.map({ name: 'ro', start: 0x600000, size: 0x1000, prot: { read: true, write: false, exec: false } });
      expect(handleAt(f, policy, 0x600000).r.decision.action).toBe('sigsegv');
      f.mm.map({ name: 'lazy', start: 0x800000, size: 0x1000, prot: RW, kind: 'anon', pageBytes: 4096, populate: false });
      expect(handleAt(f, policy, 0x800000).r.decision.action).toBe('demand');
    });
  }
});
