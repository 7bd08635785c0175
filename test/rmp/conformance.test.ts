// The RMP side of the conformance scenarios (/work/shared/conformance/rmp-*.json): every `rmp` list
// builds through the state vocabulary, and the hardware-only (kernel "none") cases give the RMP
// verdict their `expect` needs. The whole scenarios (walk, CPU, kernel) run in the scenario suite.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/mem/physical.ts';
import { RmpTable } from '../../src/rmp/table.ts';
import { entryForState, type PageStateSpec } from '../../src/rmp/states.ts';
import { Access } from '../../src/mmu/linear-memory.ts';
import { TableAccess } from '../../src/rmp/host-check.ts';
import { encodeRmpState } from '../../src/rmp/entry.ts';
import { RmpStatus } from '../../src/rmp/codes.ts';
import { MIB, PAGE, TWO_MIB } from './setup.ts';

// ../shared/conformance beside the repository (CI lays shared/ next to the clone).
const DIR = fileURLToPath(new URL('../../../shared/conformance', import.meta.url));
const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => /^rmp-.*\.json$/.test(f)).sort() : [];

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  const s = String(v);
  const m = /^(\d+)([KMG])$/.exec(s);
  if (m) return Number(m[1]) * { K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2] as 'K' | 'M' | 'G'];
  return Number(s);
}

interface RmpItem { pa?: string; page?: string; state: string; asid?: number; gpa?: string; size?: '4K' | '2M'; vmsa?: boolean }

function toSpec(r: RmpItem): PageStateSpec {
  const s: PageStateSpec = { state: r.state as PageStateSpec['state'] };
  if (r.asid !== undefined) s.asid = r.asid;
  if (r.gpa !== undefined) s.gpa = num(r.gpa);
  if (r.size !== undefined) s.size = r.size;
  if (r.vmsa !== undefined) s.vmsa = r.vmsa;
  return s;
}

describe.skipIf(files.length === 0)('conformance rmp-*.json', () => {
  it('every rmp list builds through the state vocabulary', () => {
    for (const f of files) {
      const sc = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as { rmp?: RmpItem[] };
      for (const r of sc.rmp ?? []) expect(() => entryForState(toSpec(r)), f).not.toThrow();
    }
  });

  // Mapping size of the faulting store in the kernel-"none" cases, read off their page tables:
  // rmp-20 maps 0x200000 with a 2M PDE (0x83 at 0x3008); the others use 4K PTEs.
  const hardware: Record<string, { store: number; mapBytes: number }> = {
    'rmp-19-cpl0-write-guest-valid-4k.json': { store: 0x12000, mapBytes: PAGE },
    'rmp-20-cpl0-write-2m-map-private-neighbour.json': { store: 0x201000, mapBytes: TWO_MIB },
    'rmp-23-quirk-host-checks-immutable-none.json': { store: 0x11000, mapBytes: PAGE },
    'rmp-30-rmpupdate-firmware-fail-permission.json': { store: 0x12000, mapBytes: PAGE },
  };
  for (const [f, { store, mapBytes }] of Object.entries(hardware)) {
    it.skipIf(!files.includes(f))(`${f}: the store's RMP check fails as expect.faults says`, () => {
      const sc = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as {
        machine: { rmp: { base: string; end: string }; quirks?: { hostChecksImmutable?: boolean } };
        rmp: RmpItem[];
        expect: { faults: { errorCode: string; address: string; rmp: boolean }[] };
      };
      const phys = new PhysicalMemory(64 * MIB);
      const t = new RmpTable(phys, { hostChecksImmutable: sc.machine.quirks?.hostChecksImmutable === true });
      t.configure({ base: num(sc.machine.rmp.base), end: num(sc.machine.rmp.end) });
      t.enable();
      for (const r of sc.rmp) t.setState(num(r.pa), toSpec(r));
      if (f.startsWith('rmp-30')) {
        // The program's RMPUPDATE of 0x12000 to Hypervisor (state bytes all zero) returns 2 (rax = 0x2).
        expect(t.rmpupdate(0x12000, encodeRmpState({ gpa: 0, assigned: false, pageSize: 0, immutable: false, asid: 0 })))
          .toBe(RmpStatus.FAIL_PERMISSION);
      }
      const fault = sc.expect.faults[0]!;
      expect(fault.rmp).toBe(true);
      expect(num(fault.address)).toBe(store);
      expect(t.checkHost(store, Access.Write, mapBytes, TableAccess.None)).not.toBeNull();
      // The page-table pages these scenarios use (0x1000-0x4fff) are hypervisor-owned: walk accesses pass.
      for (const pt of [0x1000, 0x2000, 0x3000, 0x4000]) {
        expect(t.checkHost(pt, Access.Write, PAGE, TableAccess.AdWrite)).toBeNull();
      }
    });
  }

  it('rmp-23 without the quirk: the same store passes (hardware does not check Immutable, §6.3)', () => {
    const t = new RmpTable(new PhysicalMemory(64 * MIB));
    t.configure({ base: 0x3f00000, end: 0x3ffffff });
    t.enable();
    t.setState(0x11000, { state: 'hv-fixed' });
    expect(t.checkHost(0x11000, Access.Write, PAGE, TableAccess.None)).toBeNull();
  });
});
