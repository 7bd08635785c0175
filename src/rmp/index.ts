// Public surface of the RMP module (architecture.md: `src/rmp`).

export { RmpTable, DEFAULT_RMP_OPTIONS, RMP_RAISE_UD } from './table.ts';
export type { RmpOptions, RmpPlacement, RmpStats, InUseKind, InUseMark, RmpChangeListener, RmpEntryReader } from './table.ts';
export { TableAccess } from './host-check.ts';
export type { HostRmpCheck, RmpCheckFailure, TableAccessKind } from './host-check.ts';
export {
  decodeWords, decodeWordsInto, copyEntry, encodeWords, decodeQwords, encodeQwords, decodeRmpState, encodeRmpState, describeFields,
  emptyEntry, hex64, RmpPageSize, VmplPerm, VMPL_PERM_ALL, MAX_ASID, RMP_BOOKKEEPING_BYTES, RMP_ENTRY_BYTES,
  PAGES_PER_2M,
} from './entry.ts';
export type { RmpEntry, RmpState } from './entry.ts';
export { PAGE_STATES, RmpStateError, entryForState, stateNameOf, isGuestState } from './states.ts';
export type { PageStateName, PageStateSpec } from './states.ts';
export { Msr, Syscfg, RmpStatus, RMP_STATUS_NAMES } from './codes.ts';
export { HOST_CONTEXT } from './instructions.ts';
export type { InstructionContext, RmpReadResult } from './instructions.ts';
export { describePfn } from './host-eval.ts';
export {
  lookupRmpEntryV7, lookupRmpEntry, dumpRmpEntry, Errno, PG_LEVEL_4K, PG_LEVEL_2M, SEV_SNP_PREFIX,
} from './linux.ts';
export type { LookupV7, LookupMainline } from './linux.ts';
