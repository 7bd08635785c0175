// What each generated instruction does to the six status flags: which it defines, which the manuals
// leave undefined, and which it reads. The generator tracks this per instruction so a comparison
// masks exactly the flags that are undefined at the point where a case stops, and so that no flag
// consumer (Jcc, SETcc, CMOVcc, ADC/SBB, RCL/RCR, LAHF, LOOPcc) ever reads an undefined flag.
//
// Sources: Intel SDM Vol.1 Appendix A (EFLAGS cross-reference) and each instruction's "Flags
// Affected" in Vol.2; AMD APM Vol.3 Appendix E (rFLAGS affected). Where the two manuals differ, the
// flag counts as undefined if either leaves it undefined (noted per row).

export const CF = 0x001;
export const PF = 0x004;
export const AF = 0x010;
export const ZF = 0x040;
export const SF = 0x080;
export const DF = 0x400;
export const OF = 0x800;
export const STATUS = CF | PF | AF | ZF | SF | OF;

/** Effect of one instruction on flag definedness. Flags in neither set keep their state. */
export interface FlagEffect {
  /** Flags the instruction sets to a defined value (whatever their state before). */
  defines: number;
  /** Flags the manuals leave undefined after it (for every input the generator may give). */
  undefines: number;
  /** Flags it reads: the generator only emits it when these are all defined. */
  reads: number;
}

const effect = (defines: number, undefines = 0, reads = 0): FlagEffect => ({ defines, undefines, reads });

export const NO_FLAGS = effect(0);
/** ADD SUB CMP NEG XADD CMPXCHG CMPS SCAS: all six (SDM Vol.1 Table A-2). */
export const ARITH = effect(STATUS);
/** ADC SBB: all six, reading CF. */
export const ARITH_WITH_CARRY = effect(STATUS, 0, CF);
/** AND OR XOR TEST: OF=CF=0, SF ZF PF by result, AF undefined. */
export const LOGIC = effect(CF | PF | ZF | SF | OF, AF);
/** INC DEC: CF unchanged. */
export const INC_DEC = effect(PF | AF | ZF | SF | OF);
/** MUL IMUL (all forms): CF OF defined; SF ZF AF PF undefined. */
export const MULTIPLY = effect(CF | OF, SF | ZF | AF | PF);
/** DIV IDIV: all six undefined. */
export const DIVIDE = effect(0, STATUS);
/** BT BTS BTR BTC: CF defined; OF SF AF PF undefined; ZF unaffected (Intel) or undefined (AMD APM Vol.3). */
export const BIT_TEST = effect(CF, OF | SF | AF | PF | ZF);
/** BSF BSR: ZF defined, the rest undefined. */
export const BIT_SCAN = effect(ZF, CF | OF | SF | AF | PF);
/** TZCNT LZCNT: CF ZF defined; OF SF PF AF undefined. */
export const COUNT_ZEROS = effect(CF | ZF, OF | SF | PF | AF);
/** POPCNT: OF SF AF CF PF cleared, ZF by result. */
export const POPCNT = effect(STATUS);
/** CMPXCHG8B/16B: ZF only. */
export const CMPXCHG_WIDE = effect(ZF);
/** SAHF: loads SF ZF AF PF CF from AH. */
export const SAHF = effect(SF | ZF | AF | PF | CF);
/** LAHF: reads SF ZF AF PF CF into AH. */
export const LAHF = effect(0, 0, SF | ZF | AF | PF | CF);
export const SET_CF = effect(CF);
/** CMC: CF = NOT CF, so it stays defined exactly when it was. */
export const CMC = effect(0);
export const SET_DF = effect(DF);

/**
 * SHL SHR SAR with a known masked count (SDM Vol.2B "SAL/SAR/SHL/SHR": "If the count is 0, the
 * flags are not affected"; OF only for 1-bit shifts; AF undefined for a non-zero count; "For SHL
 * and SHR where the count is greater than or equal to the size of the destination, CF is
 * undefined" - applied to SAR too, as the APM does not promise it).
 */
export function shiftEffect(maskedCount: number, sizeBits: number): FlagEffect {
  if (maskedCount === 0) return NO_FLAGS;
  let defines = CF | PF | ZF | SF;
  let undefines = AF;
  if (maskedCount === 1) defines |= OF;
  else undefines |= OF;
  if (maskedCount >= sizeBits) {
    defines &= ~CF;
    undefines |= CF;
  }
  return effect(defines, undefines);
}

/** ROL ROR (SDM "RCL/RCR/ROL/ROR": flags unaffected for a masked count of 0; OF only for 1). */
export function rotateEffect(maskedCount: number): FlagEffect {
  if (maskedCount === 0) return NO_FLAGS;
  return maskedCount === 1 ? effect(CF | OF) : effect(CF, OF);
}

/**
 * RCL RCR: they read CF. With a masked count of 0 nothing changes; for a non-zero masked count CF
 * gets the last bit rotated out (or keeps its value when count MOD 9/17 is 0), OF only for 1.
 */
export function rotateCarryEffect(maskedCount: number): FlagEffect {
  if (maskedCount === 0) return effect(0, 0, CF);
  return maskedCount === 1 ? effect(CF | OF, 0, CF) : effect(CF, OF, CF);
}

/** SHLD SHRD with a known masked count <= operand size (larger counts are never generated: undefined). */
export function doubleShiftEffect(maskedCount: number): FlagEffect {
  if (maskedCount === 0) return NO_FLAGS;
  return maskedCount === 1 ? effect(CF | PF | ZF | SF | OF, AF) : effect(CF | PF | ZF | SF, AF | OF);
}

/** The flags a condition code (the low nibble of Jcc/SETcc/CMOVcc) reads (SDM Vol.2 Appendix B.1). */
export function conditionReads(cc: number): number {
  switch (cc >> 1) {
    case 0: return OF; // O NO
    case 1: return CF; // B AE
    case 2: return ZF; // E NE
    case 3: return CF | ZF; // BE A
    case 4: return SF; // S NS
    case 5: return PF; // P NP
    case 6: return SF | OF; // L GE
    default: return ZF | SF | OF; // LE G
  }
}

/** Apply an effect to the set of currently undefined flags. */
export function applyEffect(undefinedNow: number, e: FlagEffect): number {
  return (undefinedNow & ~e.defines) | e.undefines;
}

export function flagNames(mask: number): string {
  const names: string[] = [];
  for (const [bit, name] of [[CF, 'CF'], [PF, 'PF'], [AF, 'AF'], [ZF, 'ZF'], [SF, 'SF'], [DF, 'DF'], [OF, 'OF']] as const) {
    if (mask & bit) names.push(name);
  }
  return names.join(' ') || '-';
}
