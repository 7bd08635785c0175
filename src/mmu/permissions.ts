// Access rights of a translation, as the bits a TLB entry carries (design.md pattern 5).
//
// A translation's rights depend on who asks: the four privilege modes below times the three access
// kinds make 12 bits, bit (mode * 3 + kind). A walk computes all 12 at once from the combined
// R/W, U/S and NX of the levels it used, so a TLB lookup is one AND with the bit of the current mode
// and kind.
//
// The rules (Intel SDM Vol.3A §4.6.1 "Determination of Access Rights"; AMD APM Vol.2 §5.6):
// - A page is a user page when U/S=1 at every level, a supervisor page otherwise. R/W is the AND
//   over all levels, NX (with EFER.NXE=1) the OR.
// - User mode (CPL 3): reads need a user page; writes need a user page with R/W=1; fetches need a
//   user page with NX=0.
// - Supervisor mode, data: a user page under CR4.SMAP=1 is forbidden unless RFLAGS.AC=1 and the
//   access is explicit (implicit supervisor accesses, e.g. descriptor-table reads, are checked
//   whatever AC says, Intel SDM Vol.3A §4.6.1). Writes need R/W=1 only when CR0.WP=1.
// - Supervisor mode, fetch: NX=1 forbids; a user page under CR4.SMEP=1 forbids.

import { Access } from './linear-memory.ts';

/** CPL 3, explicit access. */
export const MODE_USER = 0;
/** CPL 0-2 with RFLAGS.AC=0 (SMAP applies). */
export const MODE_SUPERVISOR = 1;
/** CPL 0-2 with RFLAGS.AC=1 (SMAP lifted for explicit data accesses). */
export const MODE_SUPERVISOR_AC = 2;
/** Implicit supervisor access at any CPL (SMAP applies whatever AC says). */
export const MODE_IMPLICIT = 3;
export const MODE_NAMES = ['user', 'supervisor', 'supervisor (RFLAGS.AC=1)', 'implicit supervisor'] as const;

/** The rights bit for one mode and access kind. */
export function rightBit(mode: number, kind: number): number {
  return 1 << (mode * 3 + kind);
}

/** All write bits (one per mode). */
export const ALL_WRITE_RIGHTS =
  rightBit(0, Access.Write) | rightBit(1, Access.Write) | rightBit(2, Access.Write) | rightBit(3, Access.Write);

/** Index into the rights table: R/W (bit 0), U/S (bit 1), NX (bit 2), each combined over the walk. */
export function rightsIndex(rw: number, us: number, nx: number): number {
  return rw | (us << 1) | (nx << 2);
}

/** Rights for each of the 8 combinations of combined R/W, U/S and NX, under the given control bits. */
export function computeRightsTable(wp: boolean, smep: boolean, smap: boolean): Int32Array {
  const table = new Int32Array(8);
  for (let c = 0; c < 8; c++) {
    const rw = (c & 1) !== 0;
    const userPage = (c & 2) !== 0;
    const nx = (c & 4) !== 0;
    let rights = 0;
    for (let mode = 0; mode < 4; mode++) {
      for (let kind = 0; kind < 3; kind++) {
        if (allowed(mode, kind, rw, userPage, nx, wp, smep, smap)) rights |= rightBit(mode, kind);
      }
    }
    table[c] = rights;
  }
  return table;
}

function allowed(
  mode: number, kind: number, rw: boolean, userPage: boolean, nx: boolean,
  wp: boolean, smep: boolean, smap: boolean,
): boolean {
  if (mode === MODE_USER) {
    if (!userPage) return false;
    if (kind === Access.Write) return rw;
    if (kind === Access.Fetch) return !nx;
    return true;
  }
  if (kind === Access.Fetch) return !nx && !(userPage && smep);
  if (userPage && smap && mode !== MODE_SUPERVISOR_AC) return false;
  if (kind === Access.Write && wp) return rw;
  return true;
}
