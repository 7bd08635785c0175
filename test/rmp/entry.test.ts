// The typed entry view against the raw layout of spec/rmp.md §1.4 and its decoded examples.
import { describe, expect, it } from 'vitest';
import {
  decodeQwords, decodeRmpState, encodeQwords, encodeRmpState, emptyEntry, describeFields, type RmpEntry,
} from '../../src/rmp/entry.ts';
import { stateNameOf } from '../../src/rmp/states.ts';

describe('raw RMP entry layout (spec/rmp.md §1.4)', () => {
  it('decodes the VMSA page of the CVE-2026-31591 log: lo=0x6010fffffffff001 hi=0x1f', () => {
    // §1.4: Assigned=1, 4 KB, Immutable=0, GPA=0xfffffffff000, ASID=2, VMSA=1, Validated=1, VMPL0=0x1f.
    // By hand: bits 50:12 = 0x0_10ff_ffff_ffff_f & (2^39-1) = 0xfffffffff → GPA 0xfffffffff000;
    // bits 60:51 = (0x6010ffff >>> 19) & 0x3ff = 0xc02 & 0x3ff = 2; bit 61 and 62 set, 63 clear.
    const e = decodeQwords(0x6010fffffffff001n, 0x1fn);
    expect(e).toEqual<RmpEntry>({
      assigned: true, pageSize: 0, immutable: false, subpageCount: 0, gpa: 0xfffffffff000, asid: 2,
      vmsa: true, validated: true, lock: false, vmpl: [0x1f, 0, 0, 0], qword1High: 0,
    });
    expect(stateNameOf(e)).toBe('guest-valid');
  });

  it('decodes the Firmware example lo=0x8000000000000ffd hi=0xf: subpage count 511, lock set', () => {
    // 0xffd = 0b1111_1111_1101: bit0 assigned, bit1 pagesize 0, bit2 immutable, bits 11:3 = 0x1ff = 511.
    const e = decodeQwords(0x8000000000000ffdn, 0xfn);
    expect(e.assigned).toBe(true);
    expect(e.pageSize).toBe(0);
    expect(e.immutable).toBe(true);
    expect(e.subpageCount).toBe(511);
    expect(e.asid).toBe(0);
    expect(e.gpa).toBe(0);
    expect(e.lock).toBe(true);
    expect(e.vmpl).toEqual([0xf, 0, 0, 0]);
    expect(stateNameOf(e)).toBe('firmware');
  });

  it('0x8000000000000005 is AMD firmware RMP_ENTRY_VAL_FIRMWARE; 0x4 is RMP_ENTRY_VAL_HV_FIXED', () => {
    expect(stateNameOf(decodeQwords(0x8000000000000005n, 0n))).toBe('firmware');
    const hvFixed = decodeQwords(0x4n, 0n);
    expect(hvFixed.assigned).toBe(false);
    expect(hvFixed.immutable).toBe(true);
    expect(stateNameOf(hvFixed)).toBe('hv-fixed');
  });

  it('round-trips every field at its extremes', () => {
    const e: RmpEntry = {
      assigned: true, pageSize: 1, immutable: true, subpageCount: 511, gpa: 2 ** 51 - 4096, asid: 1023,
      vmsa: true, validated: true, lock: true, vmpl: [0x1f, 0x0b, 0x03, 0x01], qword1High: 0xfffffffe,
    };
    const { lo, hi } = encodeQwords(e);
    // All 64 bits of qword 0 are used: 1+1+1+9+39+10+1+1+1 = 64.
    expect(lo).toBe(0xffffffffffffffffn);
    // qword 1: VMPL0 in bits 7:0 ... VMPL3 in bits 31:24, then bits 63:32.
    expect(hi).toBe(0xfffffffe01030b1fn);
    expect(decodeQwords(lo, hi)).toEqual(e);
  });

  it('places each field at its bit position', () => {
    const one = (f: Partial<RmpEntry>) => encodeQwords({ ...emptyEntry(), ...f }).lo;
    expect(one({ assigned: true })).toBe(1n);
    expect(one({ pageSize: 1 })).toBe(2n);
    expect(one({ immutable: true })).toBe(4n);
    expect(one({ subpageCount: 1 })).toBe(8n);
    expect(one({ gpa: 0x1000 })).toBe(1n << 12n);
    expect(one({ asid: 1 })).toBe(1n << 51n);
    expect(one({ vmsa: true })).toBe(1n << 61n);
    expect(one({ validated: true })).toBe(1n << 62n);
    expect(one({ lock: true })).toBe(1n << 63n);
  });

  it('refuses fields that do not fit', () => {
    expect(() => encodeQwords({ ...emptyEntry(), asid: 1024 })).toThrow(/asid/);
    expect(() => encodeQwords({ ...emptyEntry(), gpa: 0x1001 })).toThrow(/gpa/);
    expect(() => encodeQwords({ ...emptyEntry(), gpa: 2 ** 51 })).toThrow(/gpa/);
    expect(() => encodeQwords({ ...emptyEntry(), vmpl: [256, 0, 0, 0] })).toThrow(/VMPL0/);
  });

  it('describes the fields for explanations', () => {
    expect(describeFields(decodeQwords(0x6010fffffffff001n, 0x1fn))).toBe(
      'Assigned=1, Page_Size=4K, Immutable=0, ASID=2, GPA=0xfffffffff000, Validated=1, VMSA=1, VMPL0..3 perms=0x1f/0x0/0x0/0x0',
    );
  });
});

describe('architectural RMPUPDATE/RMPREAD state (spec/rmp.md §1.4, Linux struct rmp_state)', () => {
  it('decodes gpa at bytes 0..7, assigned byte 8, pagesize byte 9, immutable byte 10, asid bytes 12..15', () => {
    const b = new Uint8Array([0x00, 0x30, 0x01, 0, 0, 0, 0, 0, 1, 1, 1, 0, 5, 0, 0, 0]);
    const s = decodeRmpState(b);
    expect(s.gpa).toBe(0x13000);
    expect(s.assigned).toBe(true);
    expect(s.pageSize).toBe(1);
    expect(s.immutable).toBe(true);
    expect(s.asid).toBe(5);
    expect(s.reservedBits).toBe(false);
  });

  it('flags reserved bits (byte 8/9/10 bits 7:1, byte 11)', () => {
    for (const [i, v] of [[8, 2], [9, 2], [10, 0x80], [11, 1]] as const) {
      const b = new Uint8Array(16);
      b[i] = v;
      expect(decodeRmpState(b).reservedBits).toBe(true);
    }
  });

  it('encodes RMPREAD output with the 2MB region status in byte 9 bit 1', () => {
    const b = encodeRmpState({ gpa: 0x200000, assigned: true, pageSize: 1, immutable: false, asid: 3, region2M: true });
    expect([...b]).toEqual([0, 0, 0x20, 0, 0, 0, 0, 0, 1, 3, 0, 0, 3, 0, 0, 0]);
  });

  it('refuses a state of the wrong length', () => {
    expect(() => decodeRmpState(new Uint8Array(15))).toThrow(/16 bytes/);
  });
});
