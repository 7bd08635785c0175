// A small SNP guest for the guest-mode tests: 64 MiB host, ASID 1, one 2 MiB private region at
// GPA 0 backed at SPA 0x400000, guest page tables in its last 16 pages, and a 4K identity map of
// the first 1 MiB (va = gpa) with the C-bit set, unless the test says otherwise.

import { GuestMachine, type GuestMachineConfig, type GuestRegionConfig } from '../../src/guest/guest-machine.ts';
import type { GuestMapping } from '../../src/guest/guest-tables.ts';
import { PTE_BITS } from '../../src/mmu/paging-bits.ts';
import { C_BIT_MASK, SIZE_2M, SIZE_4K } from '../../src/guest/constants.ts';

export const PRIVATE_PA = 0x400000;
export const TABLES_GPA = SIZE_2M - 16 * SIZE_4K;

export function region(over: Partial<GuestRegionConfig> = {}): GuestRegionConfig {
  return {
    gpa: 0, size: SIZE_2M, pa: PRIVATE_PA, hostPageSize: SIZE_4K, private: true,
    rmpState: 'guest-valid', rmpSize: SIZE_4K, ...over,
  };
}

/** 4K identity maps of [0, bytes) with the given leaf flags. */
export function identity(bytes: number, flags: bigint = PTE_BITS.RW | C_BIT_MASK): GuestMapping[] {
  const maps: GuestMapping[] = [];
  for (let va = 0; va < bytes; va += SIZE_4K) maps.push({ va, gpa: va, size: SIZE_4K, flags });
  return maps;
}

export function guest(over: Partial<GuestMachineConfig> = {}): GuestMachine {
  return new GuestMachine({
    memoryBytes: 64 * 1024 * 1024,
    snpEnabled: true,
    asid: 1,
    snpActive: true,
    vmpl: 0,
    hv: {},
    regions: [region()],
    paging: { maps: identity(0x100000), tablesGpa: TABLES_GPA },
    populate: true,
    ...over,
  });
}

/** Run `f` and return what it threw (failing the test when it did not throw). */
export function thrown(f: () => unknown): any {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a fault, but the access completed');
}
