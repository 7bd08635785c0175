// Command-line parsing for snpemu: no framework, one small table per command. Options may come
// before or between positionals (`--json` anywhere); `--name=value` and `--name value` both work;
// `--` ends the options. For `run`, everything after PROGRAM belongs to the program.

export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface OptionSpec {
  /** Takes a value (`--trace insn`) rather than being a switch (`--json`). */
  value: boolean;
  /** May be given more than once (values are collected). */
  repeat?: boolean;
}

export interface Parsed {
  options: Map<string, string[]>;
  positionals: string[];
}

export function parseArgs(
  argv: readonly string[], specs: Record<string, OptionSpec>, command: string, stopAtFirstPositional = false,
): Parsed {
  const options = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('-') && arg !== '-') {
      const eq = arg.indexOf('=');
      const name = (eq >= 0 ? arg.slice(0, eq) : arg).replace(/^-+/, '');
      const spec = arg.startsWith('--') || name === 'h' ? specs[name === 'h' ? 'help' : name] : undefined;
      if (spec === undefined) throw new UsageError(`unknown option ${eq >= 0 ? arg.slice(0, eq) : arg}`, command);
      const key = name === 'h' ? 'help' : name;
      let value = '';
      if (spec.value) {
        if (eq >= 0) value = arg.slice(eq + 1);
        else if (i + 1 < argv.length) value = argv[++i]!;
        else throw new UsageError(`option --${key} needs a value`, command);
      } else if (eq >= 0) {
        throw new UsageError(`option --${key} takes no value`, command);
      }
      const list = options.get(key) ?? [];
      if (list.length > 0 && !spec.repeat) throw new UsageError(`option --${key} given twice`, command);
      list.push(value);
      options.set(key, list);
      continue;
    }
    positionals.push(arg);
    if (stopAtFirstPositional) {
      positionals.push(...argv.slice(i + 1));
      break;
    }
  }
  return { options, positionals };
}

export function flag(p: Parsed, name: string): boolean {
  return p.options.has(name);
}

export function optionValue(p: Parsed, name: string): string | undefined {
  const v = p.options.get(name);
  return v === undefined ? undefined : v[v.length - 1];
}
