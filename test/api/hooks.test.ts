// Every hook kind: what it sees, on cached code too, and that it can be switched on and off while
// the machine runs. Expected values come from the listings in fixtures.ts.

import { describe, expect, it } from 'vitest';
import { Machine, type MemoryEvent } from '../../src/index.ts';
import {
  bareMachine, helloProcess, BARE_SYSCALL, CODE_PA, CODE_VA, DATA_PA, DATA_VA, LOOP, LOOP_ADD, LOOP_DEC, LOOP_HLT,
} from './fixtures.ts';

const SCENARIO_01 = new URL('../../scenarios/01-thp-shared-page-v7.json', import.meta.url).pathname;

describe('instruction hooks', () => {
  it('fire before each instruction in their range, with the pre-instruction state', () => {
    const m = bareMachine(LOOP);
    const seen: [bigint, bigint, bigint][] = [];
    m.hooks.add('instruction', (e, mm) => void seen.push([e.rip, mm.regs.rax, mm.readPhysical64(DATA_PA)]), { begin: LOOP_DEC, end: LOOP_DEC });
    const r = m.run();
    expect(r.outcome.kind).toBe('halt');
    // Before each `dec eax`: eax still holds 5,4,3,2,1 and the add of that iteration has landed.
    expect(seen).toEqual([5n, 4n, 3n, 2n, 1n].map((rax, i) => [BigInt(LOOP_DEC), rax, BigInt(i + 1)]));
  });

  it('fire on code that was decoded and cached before the hook existed (unicorn #2200)', () => {
    const m = bareMachine(LOOP);
    expect(m.run().stats.instructions).toBe(17);
    const built = m.core.cpu.cacheStats.blocksBuilt;
    expect(built).toBeGreaterThan(0);
    let calls = 0;
    m.hooks.add('instruction', () => void calls++, { begin: LOOP_ADD, end: LOOP_ADD });
    // Second pass over the same bytes: every block comes from the cache.
    m.regs.rip = BigInt(CODE_VA);
    m.writePhysical(DATA_PA, new Uint8Array(8));
    const r = m.run();
    expect(r.stats.instructions).toBe(17);
    expect(m.core.cpu.cacheStats.blocksBuilt).toBe(built);
    expect(calls).toBe(5);
    expect(m.readPhysical64(DATA_PA)).toBe(5n);
  });

  it('fire the same on both passes of a loop run twice (the second pass all cache hits)', () => {
    const m = bareMachine(LOOP);
    const rips: bigint[] = [];
    m.hooks.add('instruction', (e) => void rips.push(e.rip));
    m.run();
    const first = [...rips];
    rips.length = 0;
    const built = m.core.cpu.cacheStats.blocksBuilt;
    m.regs.rip = BigInt(CODE_VA);
    m.run();
    expect(m.core.cpu.cacheStats.blocksBuilt).toBe(built);
    expect(rips).toEqual(first);
    // 17 instructions: mov, then (add, dec, jnz) × 5, then hlt.
    expect(first).toEqual([
      0x400000, ...Array(5).fill([LOOP_ADD, LOOP_DEC, 0x40000b]).flat(), LOOP_HLT,
    ].map(BigInt));
  });

  it('can be switched off and on at run time, from inside a callback too', () => {
    const m = bareMachine(LOOP);
    const h = m.hooks.add('instruction', (_e) => {
      if (h.calls === 2) h.enabled = false;
    }, { begin: LOOP_ADD, end: LOOP_ADD });
    m.run();
    expect(h.calls).toBe(2); // 5 adds ran; the hook switched itself off after the second
    h.enabled = true;
    m.regs.rip = BigInt(CODE_VA);
    m.run();
    expect(h.calls).toBe(7); // on again for the second pass: all 5 adds (calls 3..7; the switch-off test is for 2 only)
  });

  it('removed hooks stop firing and leave the CPU in its fast loop', () => {
    const m = bareMachine(LOOP);
    const h = m.hooks.add('instruction', () => {});
    h.remove();
    m.run();
    expect(h.calls).toBe(0);
    expect(m.hooks.size).toBe(0);
  });
});

describe('hooks added or switched from inside an instruction hook', () => {
  /**
   * COUNT: mov ecx, 1000 ; l: add rax, 1 ; dec ecx ; jnz l ; hlt
   *   400000: b9 e8 03 00 00   mov ecx, 1000
   *   400005: 48 83 c0 01      add rax, 1
   *   400009: ff c9            dec ecx
   *   40000b: 75 f8            jnz 0x400005   (0x40000d - 8)
   *   40000d: f4               hlt
   * 1 + 3 × 1000 + 1 = 3002 instructions; the add runs 1000 times, with RAX = 0..999 before it.
   */
  const COUNT = 'b9 e8 03 00 00 48 83 c0 01 ff c9 75 f8 f4';

  for (const variant of ['add', 'add-then-disable', 'add-disabled'] as const) {
    it(`leave each existing hook one call per instruction (${variant})`, () => {
      const m = bareMachine(COUNT);
      m.regs.rax = 0n;
      const seen = new Map<bigint, number>();
      let second: ReturnType<typeof m.hooks.add> | null = null;
      const first = m.hooks.add('instruction', (_e, mm) => {
        const rax = mm.regs.rax;
        seen.set(rax, (seen.get(rax) ?? 0) + 1);
        if (rax !== 500n || second !== null) return;
        second = mm.hooks.add('instruction', (_e2, m2) => {
          if (variant === 'add-then-disable' && m2.regs.rax === 700n) second!.enabled = false;
        }, { begin: 0x400005, end: 0x400005 });
        if (variant === 'add-disabled') second.enabled = false;
      }, { begin: 0x400005, end: 0x400005 });
      const r = m.run();
      expect(r.outcome.kind).toBe('halt');
      expect(r.stats.instructions).toBe(3002);
      expect(first.calls).toBe(1000);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      // The new hook fires from the next instruction on: RAX = 501..999 (499 calls); disabled
      // inside its own call at RAX = 700 it saw 501..700 (200); added disabled, never.
      expect(second!.calls).toBe(variant === 'add' ? 499 : variant === 'add-then-disable' ? 200 : 0);
    });
  }
});

describe('every kind on cached code', () => {
  it('a second pass over already-decoded code fires every kind, and builds no block', () => {
    const m = bareMachine(LOOP);
    expect(m.run().outcome.kind).toBe('halt'); // first pass, no hooks: the blocks are decoded and cached
    const built = m.core.cpu.cacheStats.blocksBuilt;
    const kinds = ['instruction', 'block', 'read', 'write', 'fetch', 'walk', 'rmp-check', 'exception'] as const;
    const handles = kinds.map((k) => m.hooks.add(k, () => undefined));
    // Second pass over the same code. The TLB is flushed (so walks happen again), the decoded blocks
    // are not; the data page now belongs to a guest, so the first add takes an RMP #PF.
    m.regs.rip = BigInt(CODE_VA);
    m.core.mmu.flushTlb();
    m.setRmp(DATA_PA, { state: 'guest-valid', asid: 1, gpa: 0x1000 });
    const r = m.run();
    expect(r.outcome.kind).toBe('exception');
    expect(m.core.cpu.cacheStats.blocksBuilt).toBe(built);
    // Up to the fault at the first add: instruction events for mov and add (2), the block at 0x400000
    // (1), no read or write (the add's write check fails before it reads), fetch events for mov and add
    // (2), walks of the code and the data page (2), RMP checks: each walk reads 4 entries, writes no
    // A/D bit (the first pass set A everywhere and D in the data PTE), then the final check: 2 × 5 = 10;
    // one exception.
    expect(Object.fromEntries(kinds.map((k, i) => [k, handles[i]!.calls]))).toEqual({
      instruction: 2, block: 1, read: 0, write: 0, fetch: 2, walk: 2, 'rmp-check': 10, exception: 1,
    });
  });

  it('a bare syscall hook fires on the second pass too', () => {
    const m = bareMachine(BARE_SYSCALL);
    let calls = 0;
    m.hooks.add('syscall', (_e, mm) => {
      calls++;
      mm.regs.rax = 7n;
    });
    m.run();
    const built = m.core.cpu.cacheStats.blocksBuilt;
    m.regs.rip = BigInt(CODE_VA);
    m.run();
    expect(m.core.cpu.cacheStats.blocksBuilt).toBe(built);
    expect([calls, m.regs.rbx]).toEqual([2, 7n]);
  });
});

describe('block hooks', () => {
  it('fire at each block entry, cached blocks included', () => {
    const m = bareMachine(LOOP);
    const entries: bigint[] = [];
    m.hooks.add('block', (e) => void entries.push(e.rip));
    m.run();
    // Block A = mov..jnz entered once, block B = add..jnz entered for the 4 taken jnz, then hlt's block.
    expect(entries).toEqual([0x400000, LOOP_ADD, LOOP_ADD, LOOP_ADD, LOOP_ADD, LOOP_HLT].map(BigInt));
  });
});

describe('memory hooks', () => {
  it('read and write hooks see linear and physical addresses, size and value', () => {
    const m = bareMachine(LOOP);
    const reads: [bigint, number, number, bigint][] = [];
    const writes: bigint[] = [];
    m.hooks.add('read', (e) => void reads.push([e.address, e.physical, e.size, e.value]));
    m.hooks.add('write', (e) => void writes.push(e.value));
    m.run();
    // `add qword [rdi], 1` reads 0,1,2,3,4 and writes 1,2,3,4,5 at 0x600000 (pa 0x300000).
    expect(reads).toEqual([0n, 1n, 2n, 3n, 4n].map((v) => [BigInt(DATA_VA), DATA_PA, 8, v]));
    expect(writes).toEqual([1n, 2n, 3n, 4n, 5n]);
  });

  it('see the exact RIP of the accessing instruction, also through machine.regs (not its block start)', () => {
    const m = bareMachine(LOOP);
    const rips: [bigint, bigint][] = [];
    m.hooks.add('read', (e, mm) => void rips.push([e.rip, mm.regs.rip]));
    m.hooks.add('write', (e, mm) => void rips.push([e.rip, mm.registers().rip]));
    m.run();
    // The first add runs inside the block that starts at 0x400000 (mov eax, 5 first): still 0x400005.
    expect(rips).toEqual(Array(10).fill([BigInt(LOOP_ADD), BigInt(LOOP_ADD)]));
  });

  it('an instruction hook that moves RIP reads back the new RIP through machine.regs', () => {
    const m = bareMachine(LOOP);
    const read: bigint[] = [];
    // At the first `dec eax` (0x400009), jump to hlt (0x40000d) and read RIP back.
    m.hooks.add('instruction', (_e, mm) => {
      mm.regs.rip = BigInt(LOOP_HLT);
      read.push(mm.regs.rip, mm.registers().rip);
    }, { begin: LOOP_DEC, end: LOOP_DEC });
    const r = m.run();
    expect(read).toEqual([BigInt(LOOP_HLT), BigInt(LOOP_HLT)]);
    // mov, add, then hlt: dec and jnz never ran, so the qword was incremented once.
    expect([r.outcome.kind, r.stats.instructions, m.readPhysical64(DATA_PA)]).toEqual(['halt', 3, 1n]);
  });

  it('filter by a linear or a physical range', () => {
    const m = bareMachine(LOOP);
    const inPhys = m.hooks.add('write', () => {}, { space: 'physical', begin: DATA_PA + 4, end: DATA_PA + 4 });
    const outPhys = m.hooks.add('write', () => {}, { space: 'physical', begin: DATA_PA + 8, end: DATA_PA + 0xfff });
    const inLinear = m.hooks.add('read', () => {}, { begin: DATA_VA - 7, end: DATA_VA });
    const outLinear = m.hooks.add('read', () => {}, { begin: 0, end: DATA_VA - 1 });
    m.run();
    // Each 8-byte access covers [0x600000, 0x600007]: it overlaps byte 4 and byte 0, not byte 8 or below 0x600000.
    expect([inPhys.calls, outPhys.calls, inLinear.calls, outLinear.calls]).toEqual([5, 0, 5, 0]);
  });

  it('fetch hooks fire for every instruction, cached or not, with its length', () => {
    const m = bareMachine(LOOP);
    const fetches: [bigint, number, number][] = [];
    m.hooks.add('fetch', (e) => void fetches.push([e.address, e.physical, e.size]));
    m.run();
    expect(fetches.length).toBe(17);
    expect(fetches.slice(0, 5)).toEqual([
      [0x400000n, CODE_PA, 5], [0x400005n, CODE_PA + 5, 4], [0x400009n, CODE_PA + 9, 2], [0x40000bn, CODE_PA + 0xb, 2],
      [0x400005n, CODE_PA + 5, 4],
    ]);
    expect(fetches[16]).toEqual([BigInt(LOOP_HLT), CODE_PA + 0xd, 1]);
  });

  it('removing the read/write hooks leaves the plain machine: no observer, the MMU as memory port, the same TLB counts', () => {
    const hookFree = bareMachine(LOOP);
    const plainStats = hookFree.run().stats;
    const m = bareMachine(LOOP);
    const read = m.hooks.add('read', () => {});
    const write = m.hooks.add('write', () => {});
    expect(m.core.mmu.observer).not.toBeNull();
    read.enabled = false;
    write.remove();
    expect(m.core.mmu.observer).toBeNull();
    expect(m.core.cpu.mmu).toBe(m.core.mmu);
    expect(m.core.cpu.preciseRip).toBe(false);
    const r = m.run();
    expect([read.calls, write.calls]).toEqual([0, 0]);
    // LOOP with no hook: 17 instructions, 5 adds; exactly the same walks, hits and misses as a hook-free run.
    expect(r.stats).toEqual(plainStats);
  });

  it('chain an MMU observer already in place, and put it back when removed', () => {
    const m = bareMachine(LOOP);
    const own: number[] = [];
    const existing = { access: (kind: number, la: number) => void own.push(kind, la) };
    m.core.mmu.observer = existing;
    const h = m.hooks.add('write', () => {});
    m.run();
    // The existing observer still hears all 10 accesses of the 5 adds (kind 0 = read, 1 = write, at
    // 0x600000); the write hook hears the 5 writes.
    expect(own).toEqual(Array(5).fill([0, DATA_VA, 1, DATA_VA]).flat());
    expect(h.calls).toBe(5);
    h.remove();
    expect(m.core.mmu.observer).toBe(existing);
  });

  it('enabled read/write hooks cost no extra translation: TLB counters equal a hook-free run in the same CPU loop', () => {
    // A memory hook needs the exact RIP, so the CPU runs its checked loop (cpu.preciseRip), which
    // ends a block at each followed branch and so re-enters (and re-translates the fetch of) more
    // blocks than the fast loop: compare with a hook-free run in that same loop.
    const plain = bareMachine(LOOP);
    plain.core.cpu.preciseRip = true;
    const plainStats = plain.run().stats;
    const m = bareMachine(LOOP);
    m.hooks.add('read', () => {});
    m.hooks.add('write', () => {});
    const r = m.run();
    // The 5 adds make 5 read and 5 write lookups either way: the MMU reports each access from the
    // translation it made for it. (The former tap translated again: 10 more tlbHits here.)
    expect(r.stats).toEqual(plainStats);
    expect(r.stats.instructions).toBe(17);
  });

  it('report the exact physical address, size and value of each access: page-crossing and read-modify-write', () => {
    /*
     * 400000: 48 89 87 fc 0f 00 00      mov [rdi+0xffc], rax      (8-byte write, crosses 0x601000)
     * 400007: 48 8b 9f fc 0f 00 00      mov rbx, [rdi+0xffc]      (8-byte read, crosses)
     * 40000e: 66 83 87 ff 0f 00 00 01   add word [rdi+0xfff], 1   (2-byte RMW, crosses)
     * 400016: 86 4f 10                  xchg cl, [rdi+0x10]       (1-byte RMW)
     * 400019: f4                        hlt
     * (nasm -f bin, org 0x400000; ndisasm shows the same listing.)
     * 0x600000 → pa 0x300000 and 0x601000 → pa 0x500000 (not contiguous), so a crossing access
     * reports the PA of its first byte: 0x600ffc → 0x300ffc, 0x600fff → 0x300fff.
     * rax = 0x1122334455667788 lands little-endian as 88 77 66 55 | 44 33 22 11 over 0x600ffc..0x601003.
     * The word at 0x600fff is then 0x55 (low, last byte of page 1) | 0x44 (high, first byte of page 2)
     * = 0x4455; plus 1 = 0x4456. The byte at 0x600010 is 0xab; xchg reads it, then writes cl = 0xcd.
     */
    const m = bareMachine('48 89 87 fc 0f 00 00 48 8b 9f fc 0f 00 00 66 83 87 ff 0f 00 00 01 86 4f 10 f4');
    m.map({ va: DATA_VA + 0x1000, pa: 0x500000, flags: ['P', 'RW', 'NX'] });
    m.writePhysical(DATA_PA + 0x10, 'ab');
    m.regs.rax = 0x1122334455667788n;
    m.regs.rcx = 0xcdn;
    const seen: [string, bigint, number, number, bigint, bigint][] = [];
    const log = (e: MemoryEvent): void => void seen.push([e.access, e.address, e.physical, e.size, e.value, e.rip]);
    m.hooks.add('read', log);
    m.hooks.add('write', log);
    const r = m.run();
    expect(r.outcome.kind).toBe('halt');
    expect(seen).toEqual([
      ['write', 0x600ffcn, 0x300ffc, 8, 0x1122334455667788n, 0x400000n],
      ['read', 0x600ffcn, 0x300ffc, 8, 0x1122334455667788n, 0x400007n],
      ['read', 0x600fffn, 0x300fff, 2, 0x4455n, 0x40000en],
      ['write', 0x600fffn, 0x300fff, 2, 0x4456n, 0x40000en],
      ['read', 0x600010n, 0x300010, 1, 0xabn, 0x400016n],
      ['write', 0x600010n, 0x300010, 1, 0xcdn, 0x400016n],
    ]);
    // Values are bigint at the boundary, also for sizes below 8; and the bytes really landed there.
    for (const e of seen) expect(typeof e[4]).toBe('bigint');
    expect([m.readPhysical(0x300fff, 1)[0], m.readPhysical(0x500000, 1)[0], m.regs.rbx, m.regs.rcx]).toEqual([0x56, 0x44, 0x1122334455667788n, 0xabn]);
  });

  it('report a value with bit 31 (and bit 63) set as an unsigned bigint', () => {
    /*
     * 400000: 48 89 07   mov [rdi], rax
     * 400003: 8b 1f      mov ebx, [rdi]
     * 400005: f4         hlt
     * rax = -1 (all ones): the write is 0xffffffffffffffff, the 4-byte read 0xffffffff (not -1n).
     */
    const m = bareMachine('48 89 07 8b 1f f4');
    m.regs.rax = -1n;
    const values: bigint[] = [];
    m.hooks.add('write', (e) => void values.push(e.value));
    m.hooks.add('read', (e) => void values.push(e.value));
    m.run();
    expect(values).toEqual([0xffffffffffffffffn, 0xffffffffn]);
  });
});

describe('walk and rmp-check hooks', () => {
  it('walk hooks see each walk the MMU makes, not TLB hits', () => {
    const m = bareMachine(LOOP);
    const walks: [bigint, string, number | null][] = [];
    const walkRips: bigint[] = [];
    m.hooks.add('walk', (t) => {
      walks.push([t.linearAddress, t.accessName, t.physicalAddress]);
      walkRips.push(t.rip);
    });
    const r = m.run();
    // One walk for the code page (fetch) and one for the data page; every later access hits the TLB.
    expect(walks.map((w) => w[0])).toEqual([BigInt(CODE_VA), BigInt(DATA_VA)]);
    expect(walks[0]).toEqual([BigInt(CODE_VA), 'fetch', CODE_PA]);
    expect(walkRips).toEqual([BigInt(CODE_VA), BigInt(LOOP_ADD)]); // the fetch of block 0x400000, then the add's data
    expect(walks[1]![2]).toBe(DATA_PA);
    expect(r.stats.walks).toBe(2);
  });

  it('rmp-check hooks see every check; failedOnly sees the failing one', () => {
    const m = bareMachine(LOOP);
    const tables = new Map<string, number>();
    const all = m.hooks.add('rmp-check', (e) => void tables.set(`${e.table}/${e.access}`, (tables.get(`${e.table}/${e.access}`) ?? 0) + 1));
    const failed: string[] = [];
    const failedKinds: [string, string][] = [];
    const failedRips: bigint[] = [];
    m.hooks.add('rmp-check', (e) => {
      failed.push(`${e.failure!.check} pfn 0x${e.failure!.pfn.toString(16)}`);
      failedRips.push(e.rip);
      failedKinds.push([e.table, e.access]);
    }, { failedOnly: true });
    m.setRmp(DATA_PA, { state: 'guest-valid', asid: 1, gpa: 0x1000 });
    const r = m.run();
    // Fetch walk: 4 entry reads + 4 A-bit writes + the final check = 9. Data walk (write): 4 entry
    // reads; PML4E and PDPTE already have A; the PDE gets A and the PTE gets A and D: 2 writes; then
    // the final 4K write check, which fails (the page is guest-owned): 7. Total 16.
    expect(all.calls).toBe(16);
    expect(r.stats.rmpChecks).toBe(16);
    expect(failedRips).toEqual([BigInt(LOOP_ADD)]);
    // Named, not numbered: entry reads are reads, A/D writes are writes; the final checks are the
    // fetch and the data write (the counts of the comment above: 4+4 reads, 4+2 A/D writes, 2 finals).
    expect(Object.fromEntries(tables)).toEqual({ 'entry-read/read': 8, 'ad-write/write': 6, 'none/fetch': 1, 'none/write': 1 });
    expect(failedKinds).toEqual([['none', 'write']]);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toContain(`pfn 0x${(DATA_PA / 4096).toString(16)}`);
    expect(r.outcome.kind).toBe('exception');
  });
});

describe('exception hooks', () => {
  it('see the exact RIP and error code of an RMP #PF before it is delivered', () => {
    const m = bareMachine(LOOP);
    m.setRmp(DATA_PA, { state: 'guest-valid', asid: 1, gpa: 0x1000 });
    const seen: unknown[] = [];
    m.hooks.add('exception', (e, mm) => void seen.push([e.name, e.errorCode, e.address, e.rip, e.rmp, mm.regs.cr2]));
    const r = m.run();
    // Supervisor write to a guest-owned page: RMP (bit 31) | W | P = 0x80000003; RIP at the add.
    expect(seen).toEqual([['PF', 0x80000003, BigInt(DATA_VA), BigInt(LOOP_ADD), true, BigInt(DATA_VA)]]);
    expect(r.outcome.kind).toBe('exception');
    expect(r.rip).toBe(BigInt(LOOP_ADD));
    expect(r.faults).toEqual([expect.objectContaining({ vector: 14, errorCode: 0x80000003, rip: BigInt(LOOP_ADD), rmp: true })]);
    expect(m.readPhysical64(DATA_PA)).toBe(0n); // nothing of the faulting instruction happened
  });
});

describe('syscall hooks', () => {
  it('on a bare machine, emulate SYSCALL', () => {
    const m = bareMachine(BARE_SYSCALL);
    const h = m.hooks.add('syscall', (e, mm) => {
      // rip is the SYSCALL instruction (0x400005, fixtures.ts listing); it has executed, so
      // regs.rip = nextRip = 0x400007 and RCX holds it (AMD APM Vol.3 SYSCALL). 39 is getpid in Linux.
      expect(e).toMatchObject({ nr: 39, name: 'getpid', handled: false, rip: 0x400005n, nextRip: 0x400007n });
      expect(mm.regs.rip).toBe(0x400007n);
      expect(mm.regs.rcx).toBe(0x400007n);
      mm.regs.rax = 1234n;
    });
    const r = m.run();
    expect(r.outcome.kind).toBe('halt');
    expect(h.calls).toBe(1);
    expect(m.regs.rbx).toBe(1234n);
    // SYSCALL left the return RIP in RCX (AMD APM Vol.3 SYSCALL).
    expect(m.regs.rcx).toBe(0x400007n);
  });

  it('on a bare machine with no syscall hook, SYSCALL ends the run', () => {
    const m = bareMachine(BARE_SYSCALL);
    const r = m.run();
    expect(r.outcome.kind).toBe('syscall');
    expect(r.rip).toBe(0x400007n);
  });

  it('under a kernel, see each handled syscall with its result', () => {
    const m = helloProcess();
    const calls: unknown[] = [];
    m.hooks.add('syscall', (e) => void calls.push([e.nr, e.name, e.args.slice(0, 3), e.result, e.handled, e.rip, e.nextRip]));
    const r = m.run();
    expect(r.outcome).toMatchObject({ kind: 'exit', exitCode: 0 });
    expect(r.stdout).toBe('hi\n');
    // write(1, 0x400021, 3) returned 3 (SYSCALL at 0x400016); exit(0) (SYSCALL at 0x40001f) does not
    // return: it is reported once the process has ended, with no result (HELLO listing, fixtures.ts).
    expect(calls).toEqual([
      [1, 'write', [1n, 0x400021n, 3n], 3n, true, 0x400016n, 0x400018n],
      [60, 'exit', [0n, 0x400021n, 3n], undefined, true, 0x40001fn, 0x400021n],
    ]);
  });
});

describe('kernel-decision hooks', () => {
  it('see the v7 handler split a THP that holds a guest page', () => {
    const m = Machine.fromScenario(SCENARIO_01);
    const decisions: [string, number][] = [];
    m.hooks.add('kernel-decision', (e) => void decisions.push([e.action, e.fault.errorCode]));
    const r = m.run();
    // spec/scenario.md example: RMP|U|W|P = 0x80000007, decision "split", then exit 0.
    expect(decisions).toEqual([['split', 0x80000007]]);
    expect(r.kernel.map((k) => k.action)).toEqual(['split']);
    expect(r.outcome).toMatchObject({ kind: 'exit', exitCode: 0 });
  });
});

describe('hooks that stop the run', () => {
  it('instruction, block and fetch hooks stop before the instruction runs', () => {
    for (const kind of ['instruction', 'block', 'fetch'] as const) {
      const m = bareMachine(LOOP);
      m.hooks.add(kind, (e) => (e.rip === BigInt(LOOP_DEC) || (kind === 'block' && e.rip === BigInt(LOOP_ADD)) ? 'stop' : undefined));
      const r = m.run();
      expect(r.outcome).toMatchObject({ kind: 'stopped', by: kind });
      if (kind === 'block') {
        // The first block runs mov, add, dec, jnz; the stop comes at the entry of the second (RIP 0x400005).
        expect([r.rip, r.stats.instructions, m.readPhysical64(DATA_PA)]).toEqual([BigInt(LOOP_ADD), 4, 1n]);
      } else {
        // mov and add ran; dec did not.
        expect([r.rip, r.stats.instructions, m.regs.rax]).toEqual([BigInt(LOOP_DEC), 2, 5n]);
      }
      // The run can go on from there.
      m.hooks.clear();
      expect(m.run().outcome.kind).toBe('halt');
      expect(m.readPhysical64(DATA_PA)).toBe(5n);
    }
  });

  it('read, write, walk and rmp-check hooks stop after the current instruction', () => {
    for (const kind of ['read', 'write', 'walk', 'rmp-check'] as const) {
      const m = bareMachine(LOOP);
      m.hooks.add(kind, (e: { linearAddress?: bigint; address?: bigint; spa?: number }) =>
        (e.address === BigInt(DATA_VA) || e.linearAddress === BigInt(DATA_VA) || e.spa === DATA_PA ? 'stop' : undefined));
      const r = m.run();
      expect(r.outcome).toMatchObject({ kind: 'stopped', by: kind });
      // The add that touched the data page completed; the run ended before dec.
      expect([r.rip, r.stats.instructions, m.readPhysical64(DATA_PA)]).toEqual([BigInt(LOOP_DEC), 2, 1n]);
      m.hooks.clear();
      expect(m.run().outcome.kind).toBe('halt');
    }
  });

  it('an exception hook stops at the faulting instruction', () => {
    const m = bareMachine(LOOP);
    m.setRmp(DATA_PA, { state: 'guest-valid', asid: 1, gpa: 0x1000 });
    m.hooks.add('exception', () => 'stop');
    const r = m.run();
    expect(r.outcome).toMatchObject({ kind: 'stopped', by: 'exception', fault: { name: 'PF', rip: BigInt(LOOP_ADD) } });
    expect(r.rip).toBe(BigInt(LOOP_ADD));
  });

  it('under a kernel, a syscall hook stops after the syscall and the process can go on', () => {
    const m = helloProcess();
    m.hooks.add('syscall', (e) => (e.name === 'write' ? 'stop' : undefined));
    const r = m.run();
    expect(r.outcome).toMatchObject({ kind: 'stopped', by: 'syscall' });
    expect(r.rip).toBe(0x400018n); // after the first SYSCALL
    expect(r.stdout).toBe('hi\n');
    expect(m.run().outcome).toMatchObject({ kind: 'exit', exitCode: 0 });
  });

  it('under a kernel, a write hook stops after the writing instruction', () => {
    const m = Machine.fromScenario(SCENARIO_01);
    const h = m.hooks.add('write', () => 'stop');
    const r = m.run();
    // mov dword [rdi], 0xa5a5a5a5 (6 bytes at 0x400000) faults, the kernel splits, the retry writes.
    expect(r.outcome).toMatchObject({ kind: 'stopped', by: 'write' });
    expect(h.calls).toBe(1);
    expect(r.rip).toBe(0x400006n);
    expect([...m.readVirtual(0x40080010, 4)]).toEqual([0xa5, 0xa5, 0xa5, 0xa5]);
    m.hooks.clear();
    expect(m.run().outcome).toMatchObject({ kind: 'exit', exitCode: 0 });
  });

  it('under a kernel, a kernel-decision hook stops before the retried instruction', () => {
    const m = Machine.fromScenario(SCENARIO_01);
    m.hooks.add('kernel-decision', () => 'stop');
    const r = m.run();
    expect(r.outcome).toMatchObject({ kind: 'stopped', by: 'kernel-decision' });
    expect(r.rip).toBe(0x400000n); // the faulting mov, not yet retried
    expect(r.kernel.map((k) => k.action)).toEqual(['split']);
    const rest = m.run();
    expect(rest.outcome).toMatchObject({ kind: 'exit', exitCode: 0 });
    expect(rest.faults).toEqual([]); // the retry after the split succeeded
  });

  it('under a kernel, instruction hooks stop and `until` stops at an address', () => {
    const m = helloProcess();
    m.hooks.add('instruction', () => 'stop', { begin: 0x40001d, end: 0x40001d });
    const r = m.run();
    expect(r.outcome).toMatchObject({ kind: 'stopped', by: 'instruction' });
    expect(r.rip).toBe(0x40001dn);
    m.hooks.clear();
    const m2 = helloProcess();
    const u = m2.run({ until: 0x400016 });
    expect(u.outcome.kind).toBe('until');
    expect(u.rip).toBe(0x400016n);
    expect(m2.run().outcome).toMatchObject({ kind: 'exit', exitCode: 0 });
  });
});

describe('what hooks may not do', () => {
  it('snapshot, restore or run from inside a hook is refused with a clear error', () => {
    for (const act of ['snapshot', 'restore', 'run'] as const) {
      const m = bareMachine(LOOP);
      const snap = m.snapshot();
      m.hooks.add('instruction', (_e, mm) => {
        if (act === 'snapshot') mm.snapshot();
        else if (act === 'restore') mm.restore(snap);
        else mm.run();
      });
      expect(() => m.run()).toThrow(new RegExp(`${act}: the machine is (already )?running`));
      // The machine is usable afterwards.
      m.hooks.clear();
      expect(m.run().outcome.kind).toBe('halt');
    }
  });

  it("runScenario cannot honour 'stop' and says so", () => {
    const m = Machine.fromScenario(SCENARIO_01);
    m.hooks.add('kernel-decision', () => 'stop');
    expect(() => m.runScenario()).toThrow(/a kernel-decision hook answered 'stop'/);
  });

  it('unknown kinds and bad options are refused', () => {
    const m = bareMachine(LOOP);
    expect(() => m.hooks.add('memory' as never, (() => {}) as never)).toThrow(/unknown hook kind "memory"/);
    expect(() => m.hooks.add('read', () => {}, { begin: 10, end: 5 })).toThrow(/above end/);
    expect(() => m.hooks.add('read', () => {}, { space: 'virtual' as never })).toThrow(/option space: expected one of "linear", "physical", got "virtual"/);
  });
});
