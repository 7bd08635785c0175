// An independent reference model of one long-mode data access, for the access matrix
// (in the manner of kvm-unit-tests x86/access.c). It is written from the manuals' rules, with
// BigInt entries and no code shared with src/mmu:
//
// Intel SDM Vol.3A §4.5 (4-level paging, reserved bits in tables 4-15..4-20), §4.6 (access
// rights), §4.7 (page-fault error code), §4.8 (accessed and dirty flags); AMD APM Vol.2 §5.4,
// §5.6, §8.4.2, plus the AMD-only rule that bit 8 of a non-leaf PML4E/PDPTE is reserved.
// MAXPHYADDR = 48. A and D are written only when the access succeeds (design.md pattern 6).

export type ModelAccess = 'read' | 'write' | 'fetch';

export interface ModelCpu {
  cpl: number;
  wp: boolean;
  nxe: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
}

export interface ModelWalk {
  /** The entries the walk used, top first, with their addresses. */
  used: { address: bigint; value: bigint }[];
  /** 'not-present' or 'reserved' if the walk stopped early, else null. */
  stop: 'not-present' | 'reserved' | null;
  /** Physical address and page size when the walk reached a leaf. */
  physical: bigint | null;
}

const bit = (v: bigint, n: number) => ((v >> BigInt(n)) & 1n) === 1n;
const bitsSet = (v: bigint, hi: number, lo: number) => ((v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n)) !== 0n;

/** The walk part: which entries are read, and where it stops. Depends on NXE (bit 63) only. */
export function modelWalk(readEntry: (pa: bigint) => bigint, cr3: bigint, la: bigint, nxe: boolean): ModelWalk {
  const used: { address: bigint; value: bigint }[] = [];
  let table = cr3 & 0x0000fffffffff000n;
  for (let level = 4; level >= 1; level--) {
    const index = (la >> BigInt(12 + 9 * (level - 1))) & 0x1ffn;
    const address = table + index * 8n;
    const e = readEntry(address);
    used.push({ address, value: e });
    if (!bit(e, 0)) return { used, stop: 'not-present', physical: null };
    const pageSize = level === 3 || level === 2 ? bit(e, 7) : level === 1;
    // Reserved bits for this entry.
    let reserved = bitsSet(e, 51, 48) || (!nxe && bit(e, 63));
    if (level === 4) reserved ||= bit(e, 7) || bit(e, 8);
    if (level === 3 && !pageSize) reserved ||= bit(e, 8);
    if (level === 3 && pageSize) reserved ||= bitsSet(e, 29, 13);
    if (level === 2 && pageSize) reserved ||= bitsSet(e, 20, 13);
    if (reserved) return { used, stop: 'reserved', physical: null };
    if (pageSize) {
      const offsetBits = BigInt(12 + 9 * (level - 1));
      const frame = (e & 0x0000ffffffffffffn) >> offsetBits << offsetBits;
      return { used, stop: null, physical: frame | (la & ((1n << offsetBits) - 1n)) };
    }
    table = e & 0x0000fffffffff000n;
  }
  throw new Error('unreachable');
}

export interface ModelResult {
  fault: boolean;
  errorCode: number;
  physical: bigint | null;
  /** The entries after the access (A/D as the manual sets them), same order as walk.used. */
  after: bigint[];
}

/** The rights part and the error code, for one access by one CPU state. */
export function modelAccess(walk: ModelWalk, access: ModelAccess, cpu: ModelCpu): ModelResult {
  const user = cpu.cpl === 3;
  // Error code bits other than P and RSVD (SDM §4.7).
  let code = 0;
  if (access === 'write') code |= 2;
  if (user) code |= 4;
  if (access === 'fetch' && (cpu.nxe || cpu.smep)) code |= 16;
  const unchanged = walk.used.map((u) => u.value);
  if (walk.stop === 'not-present') return { fault: true, errorCode: code, physical: null, after: unchanged };
  if (walk.stop === 'reserved') return { fault: true, errorCode: code | 1 | 8, physical: null, after: unchanged };

  const values = walk.used.map((u) => u.value);
  const userPage = values.every((v) => bit(v, 2));
  const writable = values.every((v) => bit(v, 1));
  const executeDisabled = cpu.nxe && values.some((v) => bit(v, 63));

  let allowed: boolean;
  if (user) {
    if (access === 'read') allowed = userPage;
    else if (access === 'write') allowed = userPage && writable;
    else allowed = userPage && !executeDisabled;
  } else if (access === 'fetch') {
    allowed = !executeDisabled && !(cpu.smep && userPage);
  } else {
    const smapBlocks = cpu.smap && userPage && !cpu.ac;
    if (access === 'read') allowed = !smapBlocks;
    else allowed = !smapBlocks && (writable || !cpu.wp);
  }
  if (!allowed) return { fault: true, errorCode: code | 1, physical: null, after: unchanged };

  const after = values.map((v, i) => {
    let n = v | 0x20n; // accessed
    if (i === values.length - 1 && access === 'write') n |= 0x40n; // dirty, leaf only
    return n;
  });
  return { fault: false, errorCode: 0, physical: walk.physical, after };
}
