// Input errors: a scenario (or any other user input) that cannot run. They name the file, the JSON
// path of the offending value (`process.regions[1].size`) and what was expected, and the CLI turns
// them into one line and exit status 2 (spec/scenario.md, "Numbers and addresses"). Nothing runs.

export class InputError extends Error {
  constructor(
    /** The file (or "<inline>") the input came from. */
    readonly file: string,
    /** JSON path of the offending value, '' for the whole document. */
    readonly jsonPath: string,
    /** What was expected, or what went wrong, in words. */
    readonly problem: string,
  ) {
    super(`${file}${jsonPath === '' ? '' : `: ${jsonPath}`}: ${problem}`);
    this.name = 'InputError';
  }
}

/** A JSON path helper: `at(path, 'size')` → `path.size`, `at(path, 1)` → `path[1]`. */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}
