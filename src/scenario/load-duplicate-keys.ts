// Duplicate keys in a JSON object. JSON.parse keeps the last of `"kernel":"v7","kernel":"mainline"`
// without a word (ECMA-262 JSON.parse; RFC 8259 §4 only says names SHOULD be unique), so a scenario
// could run under a policy its author did not mean. This scanner walks text that JSON.parse has
// already accepted and reports the first repeated key with its JSON path. It only tracks structure:
// values are skipped, key strings are decoded with JSON.parse so that escapes compare correctly.

import { InputError, at } from './errors.ts';

/** Deeper nesting than this is refused rather than risk the call stack (no scenario comes close). */
const MAX_DEPTH = 512;

export function checkDuplicateKeys(text: string, file: string): void {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const readString = (): string => {
    const start = i;
    i++; // opening quote
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new InputError(file, path, `nested more than ${MAX_DEPTH} levels deep`);
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const keys = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        const key = readString();
        const keyPath = at(path, key);
        if (keys.has(key)) {
          throw new InputError(file, keyPath, `duplicate key "${key}"; JSON would silently keep only the last one, so give each key once`);
        }
        keys.add(key);
        ws();
        i++; // ':'
        value(keyPath, depth + 1);
        ws();
        if (text[i++] === '}') return; // else ','
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(at(path, n), depth + 1);
        ws();
        if (text[i++] === ']') return; // else ','
      }
    }
    if (c === '"') {
      readString();
      return;
    }
    while (i < text.length && !',]} \t\n\r'.includes(text[i]!)) i++; // number, true, false, null
  };
  value('', 0);
}
