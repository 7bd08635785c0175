// The batch snippet runner (spec/snippet.md): run short machine-code snippets from an exact initial
// state on one reusable machine, and report each final state.
//
// The machine (identical for every case):
//   linear 0x100000 CODE  user r-x          physical CODE_PA (0x10000)
//   linear 0x200000 DATA  user rw-, NX      physical DATA_PA (0x11000)
//   nothing else mapped; CPL 3, 64-bit mode, 4-level paging through the real Mmu, EFER.NXE=1.
// The page tables sit in low physical frames that no linear address maps, so a snippet can neither
// see nor change them. EFER.SCE is 0, so SYSCALL raises #UD: a snippet has no kernel to call
// (AMD APM Vol.3 "SYSCALL": #UD if EFER.SCE = 0).
//
// Speed: one machine serves every case. Between cases only the two leaf frames are rewritten (the
// physical-memory write path drops stale decoded instructions of the code frame) and the registers
// are reset; the page tables, and with them the TLB's translations, stay valid.

import type { Cpu } from '../cpu/cpu.ts';
import { CpuFault, Vector } from '../cpu/fault.ts';
import { Machine } from '../machine.ts';
import { PAGE_SHIFT } from '../mem/physical.ts';
import {
  SNIPPET_CODE_BASE,
  SNIPPET_DATA_BASE,
  SNIPPET_PAGE_BYTES,
  type SnippetCase,
  type SnippetCaseError,
} from './case.ts';
import { reportedFlags, type SnippetException, type SnippetResult } from './result.ts';

/** Default instruction budget per case (spec/snippet.md). */
export const DEFAULT_STEP_LIMIT = 4096;

/** RFLAGS.IF, bit 9 (AMD APM Vol.2 §3.1.6). */
const RFLAGS_IF = 0x200n;

// Physical layout. 1 MiB of RAM is plenty: four table frames and two leaf frames.
const MEMORY_BYTES = 1 << 20;
const PML4_PA = 0x1000;
const PDPT_PA = 0x2000;
const PD_PA = 0x3000;
const PT_CODE_PA = 0x4000; // maps linear 0x000000-0x1fffff (holds the CODE PTE)
const PT_DATA_PA = 0x5000; // maps linear 0x200000-0x3fffff (holds the DATA PTE)
const CODE_PA = 0x10000;
const DATA_PA = 0x11000;

// Paging-structure entry bits (AMD APM Vol.2 §5.3.3, Figure 5-20/5-21).
const PTE_P = 1n;
const PTE_RW = 2n;
const PTE_US = 4n;
const PTE_NX = 1n << 63n;
const TABLE_LINK = PTE_P | PTE_RW | PTE_US; // upper levels allow everything; the leaf decides

// Control registers for long mode with paging (AMD APM Vol.2 §14.6).
const CR0_PE = 1n;
const CR0_WP = 1n << 16n;
const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;
const EFER_NXE = 1n << 11n;

export interface SnippetOptions {
  /** Instructions per case before the case ends with an error line (default 4096). */
  stepLimit?: number;
}

/** One reusable snippet machine. Not re-entrant: run one case at a time. */
export class SnippetMachine {
  /** SNP off (SYSCFG.SNP_EN = 0): the RMP stage passes every access, as on a host without SNP. */
  readonly machine: Machine;
  private readonly stepLimit: number;

  constructor(options: SnippetOptions = {}) {
    this.stepLimit = options.stepLimit ?? DEFAULT_STEP_LIMIT;
    if (!Number.isSafeInteger(this.stepLimit) || this.stepLimit <= 0) {
      throw new RangeError(`step limit must be a positive integer, got ${options.stepLimit}`);
    }
    // The Cpu hooks physical memory's code-write notice, so rewriting the code frame between
    // cases drops the decoded blocks of the previous snippet.
    this.machine = new Machine({ memoryBytes: MEMORY_BYTES, snp: false });
    this.buildPageTables();
    const cpu = this.machine.cpu;
    cpu.cr0 = CR0_PE | CR0_WP | CR0_PG;
    cpu.cr4 = CR4_PAE;
    cpu.efer = EFER_LME | EFER_LMA | EFER_NXE;
    cpu.cr3 = BigInt(PML4_PA);
    cpu.cpl = 3;
  }

  private buildPageTables(): void {
    const phys = this.machine.phys;
    const entry = (tablePa: number, index: number, value: bigint) => phys.writeU64(tablePa + index * 8, value);
    // 0x100000 and 0x200000 share PML4[0], PDPT[0]; PD[0] and PD[1] lead to one page table each.
    entry(PML4_PA, 0, BigInt(PDPT_PA) | TABLE_LINK);
    entry(PDPT_PA, 0, BigInt(PD_PA) | TABLE_LINK);
    entry(PD_PA, 0, BigInt(PT_CODE_PA) | TABLE_LINK);
    entry(PD_PA, 1, BigInt(PT_DATA_PA) | TABLE_LINK);
    entry(PT_CODE_PA, (SNIPPET_CODE_BASE >>> PAGE_SHIFT) & 511, BigInt(CODE_PA) | PTE_P | PTE_US);
    entry(PT_DATA_PA, (SNIPPET_DATA_BASE >>> PAGE_SHIFT) & 511, BigInt(DATA_PA) | PTE_P | PTE_RW | PTE_US | PTE_NX);
  }

  /** Run one case from its initial state to its end, a fault or the step limit. */
  run(c: SnippetCase): SnippetResult {
    const { phys, cpu } = this.machine;
    phys.zeroFrame(CODE_PA >>> PAGE_SHIFT);
    phys.writeBytes(CODE_PA, c.code);
    phys.zeroFrame(DATA_PA >>> PAGE_SHIFT);
    phys.writeBytes(DATA_PA, c.mem);

    for (let i = 0; i < 16; i++) cpu.setReg(i, c.regs[i]!);
    // CPL3 code on Linux always runs with IF=1 (user mode cannot clear it: POPF at CPL > IOPL leaves
    // IF alone, Intel SDM Vol.2B "POPF"), so `pushf` sees 0x200 as in a native run. The reported
    // flags stay masked to 0xCD5|2 (spec/snippet.md).
    cpu.rflags = reportedFlags(c.rflags) | RFLAGS_IF;
    cpu.rip = BigInt(SNIPPET_CODE_BASE);
    const end = BigInt(SNIPPET_CODE_BASE + c.code.length);
    cpu.stopAt = end;

    let exception: SnippetException | null = null;
    if (c.code.length > 0) {
      let stop: ReturnType<Cpu['run']>;
      try {
        stop = cpu.run(this.stepLimit);
      } catch (e) {
        // Not an architectural exception (those arrive as a 'fault' stop): an emulator defect.
        // Report it on the case's own line rather than end the batch with a stack trace.
        const message = e instanceof Error ? e.message : String(e);
        return { id: c.id, error: `internal error at rip 0x${cpu.rip.toString(16)}: ${message}` };
      }
      switch (stop.kind) {
        case 'stop-address':
          break;
        case 'fault':
          exception = exceptionOf(stop.fault);
          break;
        case 'limit':
          if (cpu.rip === end) break; // the last allowed instruction reached the end
          return {
            id: c.id,
            error: `step limit reached: ${this.stepLimit} instructions ran without reaching the end of the code (rip 0x${cpu.rip.toString(16)})`,
          };
        default:
          return { id: c.id, error: `the snippet stopped unexpectedly (${stop.kind}) at rip 0x${cpu.rip.toString(16)}` };
      }
    }
    const regs = new Array<bigint>(16);
    for (let i = 0; i < 16; i++) regs[i] = cpu.getReg(i);
    return {
      id: c.id,
      regs,
      rip: cpu.rip,
      rflags: reportedFlags(cpu.rflags),
      mem: phys.readBytes(DATA_PA, SNIPPET_PAGE_BYTES),
      exception,
    };
  }
}

function exceptionOf(fault: CpuFault): SnippetException {
  return {
    vector: fault.vector,
    name: fault.name,
    error_code: fault.errorCode >>> 0,
    addr: fault.vector === Vector.PF ? fault.address & ((1n << 64n) - 1n) : 0n,
  };
}

export type { SnippetCase, SnippetCaseError };
