// Lazy flags (design.md, pattern 3): an arithmetic instruction records {operation, size, result,
// operands}; CF PF AF ZF SF OF are derived only when something reads them. The state lives in
// CpuCore's f* fields; this file holds the constants and the derivation rules.
//
// Flag rules: Intel SDM Vol.1 §3.4.3.1 and Appendix A (EFLAGS cross-reference), AMD APM Vol.3 §2.
// Undefined flags follow this machine's Intel CPU (docs/flags.md).

/** RFLAGS bits (Intel SDM Vol.1 §3.4.3). */
export const F = {
  CF: 0x1,
  FIXED1: 0x2, // bit 1 always reads 1
  PF: 0x4,
  AF: 0x10,
  ZF: 0x40,
  SF: 0x80,
  TF: 0x100,
  IF: 0x200,
  DF: 0x400,
  OF: 0x800,
  IOPL: 0x3000,
  NT: 0x4000,
  RF: 0x10000,
  VM: 0x20000,
  AC: 0x40000,
  VIF: 0x80000,
  VIP: 0x100000,
  ID: 0x200000,
} as const;

/** The six status flags. */
export const STATUS_FLAGS = 0x8d5;

/**
 * What the lazy record holds (CpuCore.fOp):
 * - Known: all six status flags are in fBits.
 * - Add/Adc/Sub/Sbb: derive everything from operands A, B and the result (carry-in for Adc/Sbb in fBits bit 0).
 * - Logic: CF = OF = AF = 0 (AF is undefined for AND/OR/XOR/TEST; this CPU clears it), ZF/SF/PF from the result.
 * - Result: CF, OF and AF are in fBits; ZF/SF/PF come from the result (INC/DEC, shifts, MUL...).
 */
export const FlagOp = {
  Known: 0,
  Add: 1,
  Adc: 2,
  Sub: 3,
  Sbb: 4,
  Logic: 5,
  Result: 6,
} as const;

/** PARITY[b] is PF for the low byte b: 1 when b has an even number of set bits. */
export const PARITY = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  let n = 0;
  for (let v = b; v !== 0; v >>>= 1) n += v & 1;
  PARITY[b] = (n & 1) === 0 ? 1 : 0;
}

/** Sign bit of the low 32-bit half for operand sizes 1, 2, 4 (index = size). Size 8 uses the high half. */
export const SIGN_BIT = [0, 0x80, 0x8000, 0, 0x80000000 | 0, 0, 0, 0, 0];
/** Mask of the low 32-bit half for operand sizes 1, 2, 4, 8. */
export const SIZE_MASK = [0, 0xff, 0xffff, 0, -1, 0, 0, 0, -1];

