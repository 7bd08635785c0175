// spec/rmp.md §7 cases that involve the kernel, run end to end (CPU → MMU → RMP → kernel), mirroring
// /work/shared/conformance/rmp-*.json: same programs, regions, RMP states, events and expectations.
// Then combinations the table does not list.

import { describe, expect, it } from 'vitest';
import { hex, runProcess, RW, RX, STORE_EXIT } from './machine-fixture.ts';
import { KERNEL_RIP } from '../../src/kernel/constants.ts';
import type { RunResult } from '../../src/kernel/index.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const guest = (gpa: number) => ({ state: 'guest-valid' as const, asid: 1, gpa, size: '4K' as const });
const code = (bytes: Uint8Array) => ({ name: 'code', at: 0x400000, size: 0x1000, prot: RX, bytes });
const buf4k = { name: 'buf', at: 0x600000, size: 0x1000, prot: RW };
const thp = { name: 'buf', at: 0x40000000, size: 2 * MiB, prot: RW, pageBytes: 2 * MiB, kind: 'thp' as const };

const faultsOf = (r: RunResult) => r.faults.map((f) => [f.errorCode, f.address]);
const actions = (r: RunResult) => r.kernel.map((d) => d.action);

describe('§7 kernel cases (the conformance scenarios)', () => {
  it('case 1 (rmp-01): v7 write to a hypervisor page: no fault, the store lands', () => {
    const { result, kernel, machine } = runProcess('v7', { regions: [code(STORE_EXIT('44 33 22 11')), buf4k], entry: 0x400000, regs: { rdi: 0x600000n } });
    expect(result.outcome).toMatchObject({ kind: 'exit', exitCode: 0 });
    expect(result.faults).toEqual([]);
    expect(machine.phys.readU32(kernel.translate(0x600000)!)).toBe(0x11223344);
  });

  it('case 2 (rmp-02 v7): write to a guest-valid 4K page: #PF 0x80000007, SIGBUS BUS_ADRERR, store not landed', () => {
    const { result, kernel, machine } = runProcess('v7', { regions: [code(STORE_EXIT('44 33 22 11')), buf4k], entry: 0x400000, regs: { rdi: 0x600000n } }, { rmp: [[0x600000, { ...guest(0x5000), asid: 5 }]] });
    expect(result.outcome).toMatchObject({ kind: 'signal', signal: 'SIGBUS', siCode: 'BUS_ADRERR', siAddr: 0x600000n });
    expect(faultsOf(result)).toEqual([[0x80000007, 0x600000n]]);
    expect(result.faults[0]!.rip).toBe(0x400000n);
    expect(actions(result)).toEqual(['sigbus']);
    expect(machine.phys.readU32(kernel.translate(0x600000)!)).toBe(0);
  });

  it('case 2 (rmp-02 mainline): the same write livelocks: 8 identical faults, each "spurious"', () => {
    const { result } = runProcess('mainline', { regions: [code(STORE_EXIT('44 33 22 11')), buf4k], entry: 0x400000, regs: { rdi: 0x600000n } }, { rmp: [[0x600000, { ...guest(0x5000), asid: 5 }]] });
    expect(result.outcome.kind).toBe('livelock');
    expect(result.outcome.message).toMatch(/0x80000007.*8 times in a row/);
    expect(faultsOf(result)).toEqual(Array(8).fill([0x80000007, 0x600000n]));
    expect(actions(result)).toEqual(Array(7).fill('spurious'));
  });

  it('case 3 (rmp-03): a read of a guest-valid page does not fault', () => {
    const { result } = runProcess('v7', { regions: [code(hex('8b 07 b8 3c 00 00 00 31 ff 0f 05')), { ...buf4k, bytes: hex('de ad be ef') }], entry: 0x400000, regs: { rdi: 0x600000n } }, { rmp: [[0x600000, guest(0x3000)]] });
    expect(result.outcome).toMatchObject({ kind: 'exit', exitCode: 0 });
    expect(result.faults).toEqual([]);
  });

  it('case 4 (rmp-04): a fetch from a guest-valid page is not checked: exit 7', () => {
    const gcode = { name: 'gcode', at: 0x500000, size: 0x1000, prot: RX, bytes: hex('bf 07 00 00 00 b8 3c 00 00 00 0f 05') };
    const { result } = runProcess('v7', { regions: [code(hex('ff e6')), gcode], entry: 0x400000, regs: { rsi: 0x500000n } }, { rmp: [[0x500000, guest(0x1000)]] });
    expect(result.outcome).toMatchObject({ kind: 'exit', exitCode: 7 });
  });

  it('case 5 (rmp-05 v7): THP whose 2M region holds one guest page: split, then the store lands', () => {
    const { result, kernel, machine } = runProcess('v7', { regions: [code(STORE_EXIT('a5 a5 a5 a5')), thp], entry: 0x400000, regs: { rdi: 0x40080010n } }, { rmp: [[0x40007000, guest(0x7000)]] });
    expect(result.outcome).toMatchObject({ kind: 'exit', exitCode: 0 });
    expect(faultsOf(result)).toEqual([[0x80000007, 0x40080010n]]);
    expect(actions(result)).toEqual(['split']);
    expect(machine.phys.readU32(kernel.translate(0x40080010)!)).toBe(0xa5a5a5a5);
  });

  it('case 5 (rmp-05 mainline): the same store livelocks on the huge PMD', () => {
    const { result } = runProcess('mainline', { regions: [code(STORE_EXIT('a5 a5 a5 a5')), thp], entry: 0x400000, regs: { rdi: 0x40080010n } }, { rmp: [[0x40007000, guest(0x7000)]] });
    expect(result.outcome.kind).toBe('livelock');
    expect(actions(result).slice(0, 2)).toEqual(['spurious', 'spurious']);
  });

  it('case 6 (rmp-06): THP write to the guest page itself: SIGBUS at the address', () => {
    const { result } = runProcess('v7', { regions: [code(STORE_EXIT('a5 a5 a5 a5')), thp], entry: 0x400000, regs: { rdi: 0x40007010n } }, { rmp: [[0x40007000, guest(0x7000)]] });
    expect(result.outcome).toMatchObject({ signal: 'SIGBUS', siCode: 'BUS_ADRERR', siAddr: 0x40007010n });
    expect(actions(result)).toEqual(['sigbus']);
  });

  it('case 7 (rmp-07): THP over a 2M guest page: SIGBUS', () => {
    const { result } = runProcess('v7', { regions: [code(STORE_EXIT('a5 a5 a5 a5')), thp], entry: 0x400000, regs: { rdi: 0x40005000n } }, { rmp: [[0x40000000, { state: 'guest-valid', asid: 1, gpa: 0x200000, size: '2M' }]] });
    expect(result.outcome).toMatchObject({ signal: 'SIGBUS', siAddr: 0x40005000n });
  });

  it('case 9 (rmp-09): 1G hugetlb, guest page in the same 2M sub-region: v7 decides split forever: livelock', () => {
    const region = { name: 'buf', at: 0x40000000, size: GiB, prot: RW, pageBytes: GiB, kind: 'hugetlb' as const };
    const { result } = runProcess('v7', { regions: [code(STORE_EXIT('a5 a5 a5 a5')), region], entry: 0x400000, regs: { rdi: 0x40200010n } }, { memory: 3 * GiB, rmp: [[0x40201000, guest(0x201000)]] });
    expect(result.outcome.kind).toBe('livelock');
    expect(faultsOf(result).slice(0, 2)).toEqual([[0x80000007, 0x40200010n], [0x80000007, 0x40200010n]]);
    expect(actions(result).slice(0, 2)).toEqual(['split', 'split']);
  });

  it('case 11 (rmp-11): 2M hugetlb over a mixed region: split decided, never done: livelock', () => {
    const region = { name: 'buf', at: 0x40000000, size: 2 * MiB, prot: RW, pageBytes: 2 * MiB, kind: 'hugetlb' as const };
    const { result } = runProcess('v7', { regions: [code(STORE_EXIT('a5 a5 a5 a5')), region], entry: 0x400000, regs: { rdi: 0x40001000n } }, { rmp: [[0x40003000, guest(0x3000)]] });
    expect(result.outcome.kind).toBe('livelock');
    expect(actions(result)[0]).toBe('split');
  });

  it('case 13 (rmp-13 v7 munmap): munmap before the handler: UNMAP, then SIGSEGV SEGV_MAPERR (faults 0x80000007, 0x6)', () => {
    let k: import('../../src/kernel/index.ts').Kernel | null = null;
    const { result } = runProcess('v7', { regions: [code(STORE_EXIT('44 33 22 11')), buf4k], entry: 0x400000, regs: { rdi: 0x600000n } }, {
      rmp: [[0x600000, guest(0x6000)]],
      before: (kernel) => { k = kernel; },
      run: { hooks: { beforeHandler: (_f, n) => { if (n === 1) k!.munmapRegion('buf'); } } },
    });
    expect(result.outcome).toMatchObject({ signal: 'SIGSEGV', siCode: 'SEGV_MAPERR', siAddr: 0x600000n });
    expect(faultsOf(result)).toEqual([[0x80000007, 0x600000n], [0x6, 0x600000n]]);
    expect(actions(result)).toEqual(['unmap', 'sigsegv']);
  });

  for (const policy of ['v7', 'mainline'] as const) {
    it(`case 13 (rmp-13 ${policy} unmap): page made shared and zapped before the handler: ${policy === 'v7' ? 'unmap, demand' : 'demand'}`, () => {
      let m: ReturnType<typeof import('./machine-fixture.ts').makeMachine> | null = null;
      let k: import('../../src/kernel/index.ts').Kernel | null = null;
      const { result, kernel, machine } = runProcess(policy, { regions: [code(STORE_EXIT('44 33 22 11')), { ...buf4k, bytes: hex('ee ee ee ee ee ee ee ee') }], entry: 0x400000, regs: { rdi: 0x600000n } }, {
        rmp: [[0x600000, guest(0x6000)]],
        before: (kernel, machine) => { k = kernel; m = machine; },
        run: { hooks: { beforeHandler: (_f, n) => {
          if (n !== 1) return;
          const pa = k!.translate(0x600000)!;
          m!.rmp.setState(pa, { state: 'hypervisor' });
          k!.unmapRegion('buf');
        } } },
      });
      expect(result.outcome).toMatchObject({ kind: 'exit', exitCode: 0 });
      expect(actions(result)).toEqual(policy === 'v7' ? ['unmap', 'demand'] : ['demand']);
      expect(faultsOf(result)).toEqual(policy === 'v7' ? [[0x80000007, 0x600000n], [0x6, 0x600000n]] : [[0x80000007, 0x600000n]]);
      expect([...machine.phys.readBytes(kernel.translate(0x600000)!, 8)]).toEqual([0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0]);
    });

    it(`case 14 (rmp-14 ${policy}): page made shared before the handler: ${policy === 'v7' ? 'retry' : 'spurious'}, then success`, () => {
      let m: ReturnType<typeof import('./machine-fixture.ts').makeMachine> | null = null;
      let k: import('../../src/kernel/index.ts').Kernel | null = null;
      const { result, kernel, machine } = runProcess(policy, { regions: [code(STORE_EXIT('44 33 22 11')), buf4k], entry: 0x400000, regs: { rdi: 0x600000n } }, {
        rmp: [[0x600000, guest(0x6000)]],
        before: (kernel, machine) => { k = kernel; m = machine; },
        run: { hooks: { beforeHandler: () => m!.rmp.setState(k!.translate(0x600000)!, { state: 'hypervisor' }) } },
      });
      expect(result.outcome.kind).toBe('exit');
      expect(actions(result)).toEqual([policy === 'v7' ? 'retry' : 'spurious']);
      expect(machine.phys.readU32(kernel.translate(0x600000)!)).toBe(0x11223344);
    });
  }

  it('case 22 (rmp-22): read of a Firmware page passes, the write gets SIGBUS', () => {
    const { result } = runProcess('v7', { regions: [code(hex('8b 07 c7 07 01 00 00 00 b8 3c 00 00 00 31 ff 0f 05')), { ...buf4k, bytes: hex('f0 f1 f2 f3') }], entry: 0x400000, regs: { rdi: 0x600000n } }, { rmp: [[0x600000, { state: 'firmware' }]] });
    expect(result.outcome).toMatchObject({ signal: 'SIGBUS', siAddr: 0x600000n });
    expect(result.regs.rax).toBe(0xf3f2f1f0n);
    expect(result.faults[0]!.rip).toBe(0x400002n);
  });

  it('case 24 (rmp-24): write to a Reclaim page: SIGBUS', () => {
    const { result } = runProcess('v7', { regions: [code(STORE_EXIT('44 33 22 11')), buf4k], entry: 0x400000, regs: { rdi: 0x600000n } }, { rmp: [[0x600000, { state: 'reclaim' }]] });
    expect(result.outcome.signal).toBe('SIGBUS');
  });
});

// read(0, rdi, 4); exit(rax & 0xff): the exit status shows the syscall's result (-EFAULT = -14 → 242).
const READ_EXIT = hex('48 89 fe 31 ff ba 04 00 00 00 31 c0 0f 05 89 c7 b8 3c 00 00 00 0f 05');
// write(1, rdi, 4); exit(rax & 0xff)
const WRITE_EXIT = hex('48 89 fe bf 01 00 00 00 ba 04 00 00 00 b8 01 00 00 00 0f 05 89 c7 b8 3c 00 00 00 0f 05');

describe('kernel-mode accesses made for a syscall follow the policy', () => {
  it('v7: read() into a guest-valid page: copy_to_user faults (U=0, 0x80000003), fixup, read returns -EFAULT (exit 242)', () => {
    const { result } = runProcess('v7', { regions: [code(READ_EXIT), buf4k], entry: 0x400000, regs: { rdi: 0x600000n }, stdin: 'abcd' }, { rmp: [[0x600000, guest(0x6000)]] });
    expect(result.outcome).toMatchObject({ kind: 'exit', exitCode: 242 });
    expect(faultsOf(result)).toEqual([[0x80000003, 0x600000n]]);
    expect(result.faults[0]!.rip).toBe(KERNEL_RIP.copy_user);
    expect(result.faults[0]!.kernelMode).toBe(true);
    expect(actions(result)).toEqual(['efault']);
  });

  it('mainline: the same read() loops in copy_to_user: livelock (kernel-thread)', () => {
    const { result } = runProcess('mainline', { regions: [code(READ_EXIT), buf4k], entry: 0x400000, regs: { rdi: 0x600000n }, stdin: 'abcd' }, { rmp: [[0x600000, guest(0x6000)]] });
    expect(result.outcome.kind).toBe('livelock');
    expect(result.outcome.message).toMatch(/kernel-thread livelock/);
    expect(result.faults.every((f) => f.errorCode === 0x80000003 && f.rip === KERNEL_RIP.copy_user)).toBe(true);
  });

  it('v7: read() into a THP with a guest neighbour: split, then the copy lands (exit 4)', () => {
    const { result, kernel, machine } = runProcess('v7', { regions: [code(READ_EXIT), thp], entry: 0x400000, regs: { rdi: 0x40100000n }, stdin: 'abcd' }, { rmp: [[0x40007000, guest(0x7000)]] });
    expect(result.outcome).toMatchObject({ kind: 'exit', exitCode: 4 });
    expect(actions(result)).toEqual(['split']);
    expect(new TextDecoder().decode(machine.phys.readBytes(kernel.translate(0x40100000)!, 4))).toBe('abcd');
  });

  it('both: write() from a guest-valid page is a kernel read, not RMP-checked: the bytes reach stdout', () => {
    for (const policy of ['v7', 'mainline'] as const) {
      const { result } = runProcess(policy, { regions: [code(WRITE_EXIT), { ...buf4k, bytes: hex('6f 6b 21 0a') }], entry: 0x400000, regs: { rdi: 0x600000n } }, { rmp: [[0x600000, guest(0x6000)]] });
      expect(result.outcome).toMatchObject({ kind: 'exit', exitCode: 4 });
      expect(result.stdout).toBe('ok!\n');
      expect(result.faults).toEqual([]);
    }
  });

  it('both: read() to an unmapped buffer returns -EFAULT via bad_area (exit 242, decision efault)', () => {
    for (const policy of ['v7', 'mainline'] as const) {
      const { result } = runProcess(policy, { regions: [code(READ_EXIT)], entry: 0x400000, regs: { rdi: 0x700000n }, stdin: 'x' });
      expect(result.outcome.exitCode).toBe(242);
      expect(faultsOf(result)).toEqual([[0x2, 0x700000n]]); // not present, write, supervisor
      expect(actions(result)).toEqual(['efault']);
    }
  });
});

describe('combinations beyond the §7 table', () => {
  it('v7: split, then a second store to the guest page itself: SIGBUS on the 4K PTE', () => {
    // mov [rdi], imm32; mov [rsi], imm32; exit(0)
    const prog = hex('c7 07 a5 a5 a5 a5 c7 06 5a 5a 5a 5a b8 3c 00 00 00 31 ff 0f 05');
    const { result } = runProcess('v7', { regions: [code(prog), thp], entry: 0x400000, regs: { rdi: 0x40080010n, rsi: 0x40007000n } }, { rmp: [[0x40007000, guest(0x7000)]] });
    expect(actions(result)).toEqual(['split', 'sigbus']);
    expect(faultsOf(result)).toEqual([[0x80000007, 0x40080010n], [0x80000007, 0x40007000n]]);
    expect(result.outcome).toMatchObject({ signal: 'SIGBUS', siAddr: 0x40007000n });
  });

  it('mainline: a load through a guest-owned page-table page is a read-type RMP fault: SIGSEGV SEGV_ACCERR', () => {
    const { result } = runProcess('mainline', { regions: [code(hex('8b 07 b8 3c 00 00 00 31 ff 0f 05')), buf4k], entry: 0x400000, regs: { rdi: 0x600000n } }, { rmpTables: [[0x600000, 'pt', guest(0x9000)]] });
    expect(faultsOf(result)).toEqual([[0x80000005, 0x600000n]]);
    expect(result.outcome).toMatchObject({ signal: 'SIGSEGV', siCode: 'SEGV_ACCERR', siAddr: 0x600000n });
  });

  it('v7: the same load: the data pfn is unassigned at 4K, RETRY forever: livelock', () => {
    const { result } = runProcess('v7', { regions: [code(hex('8b 07 b8 3c 00 00 00 31 ff 0f 05')), buf4k], entry: 0x400000, regs: { rdi: 0x600000n } }, { rmpTables: [[0x600000, 'pt', guest(0x9000)]] });
    expect(result.outcome.kind).toBe('livelock');
    expect(actions(result)[0]).toBe('retry');
  });

  it('v7: THP store whose PD page is guest-owned: SPLIT, and __split_huge_pmd\'s PDE write oopses (0x80000003 on the direct map)', () => {
    const { result, kernel } = runProcess('v7', { regions: [code(STORE_EXIT('a5 a5 a5 a5')), thp], entry: 0x400000, regs: { rdi: 0x40080010n } }, { rmpTables: [[0x40000000, 'pd', guest(0x9000)]] });
    const pd = kernel.tableOf(0x40000000, 'pd')!;
    expect(result.outcome.kind).toBe('oops');
    expect(result.outcome.message).toMatch(/RMP violation/);
    expect(actions(result)).toEqual(['split', 'oops']);
    expect(result.faults[1]).toMatchObject({ errorCode: 0x80000003, address: 0xffff888000000000n + BigInt(pd), rip: KERNEL_RIP.set_pte, kernelMode: true });
  });

  it('v7: the PTE is remapped to a frame beyond the RMP before the handler: the lookup error counts as assigned: SIGBUS', () => {
    let k: import('../../src/kernel/index.ts').Kernel | null = null;
    const { result } = runProcess('v7', { regions: [code(STORE_EXIT('44 33 22 11')), buf4k], entry: 0x400000, regs: { rdi: 0x600000n } }, {
      rmp: [[0x600000, guest(0x6000)]],
      before: (kernel) => { k = kernel; },
      run: { hooks: { beforeHandler: () => k!.remapRegion('buf', 128 * MiB) } },
    });
    expect(actions(result)).toEqual(['sigbus']);
    expect(result.kernel[0]!.why).toMatch(/failed with -\d+/);
  });

  it('instruction marks fire after exactly N instructions: the page becomes guest-owned after 1 NOP', () => {
    let m: ReturnType<typeof import('./machine-fixture.ts').makeMachine> | null = null;
    let k: import('../../src/kernel/index.ts').Kernel | null = null;
    const prog = new Uint8Array([0x90, ...STORE_EXIT('44 33 22 11')]);
    const { result } = runProcess('v7', { regions: [code(prog), buf4k], entry: 0x400000, regs: { rdi: 0x600000n } }, {
      before: (kernel, machine) => { k = kernel; m = machine; },
      run: { hooks: { instructionMarks: [1], afterInstructions: (n) => { expect(n).toBe(1); m!.rmp.setState(k!.translate(0x600000)!, guest(0x6000)); } } },
    });
    expect(result.outcome.signal).toBe('SIGBUS');
    expect(result.faults[0]!.rip).toBe(0x400001n);
  });

  it('budgets: an endless loop ends with outcome limit; maxFaults below 8 stops a livelock as limit', () => {
    const loop = runProcess('v7', { regions: [code(hex('eb fe'))], entry: 0x400000 }, { run: { maxInstructions: 1000 } }).result;
    expect(loop.outcome.kind).toBe('limit');
    expect(loop.stats.instructions).toBe(1000);
    const capped = runProcess('mainline', { regions: [code(STORE_EXIT('44 33 22 11')), buf4k], entry: 0x400000, regs: { rdi: 0x600000n } }, { rmp: [[0x600000, guest(0x6000)]], run: { maxFaults: 3 } }).result;
    expect(capped.outcome.kind).toBe('limit');
    expect(capped.faults.length).toBe(3);
  });
});

describe('process setup', () => {
  it('a region pinned at 1 MiB gets exactly those frames (the PML4 is allocated after pins are reserved)', () => {
    const { result, kernel, machine } = runProcess('v7', { regions: [code(STORE_EXIT('44 33 22 11')), { ...buf4k, pa: 0x100000 }], entry: 0x400000, regs: { rdi: 0x600000n } });
    expect(result.outcome.kind).toBe('exit');
    expect(kernel.translate(0x600000)).toBe(0x100000);
    expect(kernel.mm.tables.root).not.toBe(0x100000);
    expect(machine.phys.readU32(0x100000)).toBe(0x11223344);
  });

  it('a pinned range beyond RAM is refused with a message naming the region', () => {
    expect(() => runProcess('v7', { regions: [code(STORE_EXIT('44 33 22 11')), { ...buf4k, pa: 0x8000000 }], entry: 0x400000 })).toThrow(/region "buf": pinned frames .* not all in RAM/);
  });
});
