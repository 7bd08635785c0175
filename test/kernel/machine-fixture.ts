// A whole machine for the kernel's run tests: physical memory, the RMP table (placed by
// RmpTable.defaultPlacement and enabled), the MMU and the CPU, wired as architecture.md's Machine
// wires them (RMP changes flush the TLB and the decode cache). Built here rather than through
// src/machine.ts so the kernel tests depend only on the module contracts.

import { PhysicalMemory } from '../../src/mem/physical.ts';
import { Mmu } from '../../src/mmu/mmu.ts';
import { RmpTable } from '../../src/rmp/index.ts';
import { Cpu } from '../../src/cpu/cpu.ts';
import { Kernel, type KernelOptions, type ProcessRequest, type RunOptions, type RunResult } from '../../src/kernel/index.ts';
import type { PageStateSpec } from '../../src/rmp/index.ts';

export function makeMachine(memoryBytes = 64 * 1024 * 1024) {
  const phys = new PhysicalMemory(memoryBytes);
  const rmp = new RmpTable(phys);
  rmp.configure(RmpTable.defaultPlacement(memoryBytes));
  rmp.enable();
  const mmu = new Mmu(phys, rmp);
  const cpu = new Cpu(mmu, phys, null);
  rmp.onChange((spa, bytes) => {
    mmu.flushPhysicalRange(spa, bytes);
    cpu.invalidateCodeRange(spa, bytes);
  });
  return { phys, rmp, mmu, cpu };
}

export function hex(s: string): Uint8Array {
  return Uint8Array.from(s.trim().split(/\s+/).map((b) => parseInt(b, 16)));
}

export const RX = { read: true, write: false, exec: true };
export const RW = { read: true, write: true, exec: false };

/** Build a kernel + process, set RMP states by VA, run. */
export function runProcess(
  policy: 'v7' | 'mainline',
  proc: ProcessRequest,
  opts: {
    memory?: number;
    rmp?: [number, PageStateSpec][];
    rmpTables?: [number, 'pml4' | 'pdpt' | 'pd' | 'pt', PageStateSpec][];
    run?: RunOptions;
    kernel?: Partial<KernelOptions>;
    before?: (k: Kernel, m: ReturnType<typeof makeMachine>) => void;
  } = {},
): { result: RunResult; kernel: Kernel; machine: ReturnType<typeof makeMachine> } {
  const machine = makeMachine(opts.memory);
  const kernel = new Kernel(machine, { policy, ...opts.kernel });
  kernel.createProcess(proc);
  for (const [va, spec] of opts.rmp ?? []) {
    const pa = kernel.translate(va)!;
    machine.rmp.setState(pa - (pa % 4096), spec);
  }
  for (const [va, level, spec] of opts.rmpTables ?? []) machine.rmp.setState(kernel.tableOf(va, level)!, spec);
  opts.before?.(kernel, machine);
  const result = kernel.run(opts.run);
  return { result, kernel, machine };
}

/** The store/exit program of the conformance files: mov dword [rdi], imm32; exit(0). */
export const STORE_EXIT = (imm: string) => hex(`c7 07 ${imm} b8 3c 00 00 00 31 ff 0f 05`);
