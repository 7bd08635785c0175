// The snippet runner's public surface (spec/snippet.md).
export { runSnippet, runSnippetBatch, runSnippetLine } from './batch.ts';
export { SnippetMachine, DEFAULT_STEP_LIMIT, type SnippetOptions } from './runner.ts';
export {
  parseCaseLine,
  caseFromRecord,
  isCaseError,
  GPR_NAMES,
  SNIPPET_CODE_BASE,
  SNIPPET_DATA_BASE,
  SNIPPET_DEFAULT_RSP,
  SNIPPET_FLAGS_MASK,
  type SnippetCase,
  type SnippetCaseError,
} from './case.ts';
export {
  formatResult,
  isSnippetError,
  hex64,
  type SnippetResult,
  type SnippetState,
  type SnippetException,
} from './result.ts';
