// A small machine for the RMP tests: 64 MiB of RAM and the default RMP placement
// (base 0x3f00000, end 0x3ffffff: 0xfc00 entries, covering 0xfc00000 bytes), SNP enabled.
import { PhysicalMemory } from '../../src/mem/physical.ts';
import { RmpTable, type RmpOptions } from '../../src/rmp/table.ts';

export const MIB = 0x100000;
export const PAGE = 0x1000;
export const TWO_MIB = 0x200000;
export const ONE_GIB = 0x40000000;

export function makeRmp(options: Partial<RmpOptions> = {}, memoryBytes = 64 * MIB): RmpTable {
  const phys = new PhysicalMemory(memoryBytes);
  const rmp = new RmpTable(phys, options);
  rmp.configure(RmpTable.defaultPlacement(memoryBytes));
  rmp.enable();
  return rmp;
}
