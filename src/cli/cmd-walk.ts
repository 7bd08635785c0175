// `snpemu walk FILE ADDRESS`: the page walk and the RMP check of one address inside a scenario's
// machine, from the MMU's side-effect-free walkTrace (no A/D writes, no TLB fill).

import { flag, optionValue, parseArgs, UsageError } from './args.ts';
import { out } from './common.ts';
import { walkJsonReplacer, walkReport } from './format-walk.ts';
import { Access, type AccessKind } from '../mmu/linear-memory.ts';
import { readJsonFile, scenarioFromJson } from '../scenario/load.ts';
import { isGuestScenarioJson } from '../guest/report.ts';
import { parseAddressValue } from '../scenario/numbers.ts';
import { prepareScenario } from '../scenario/run.ts';

const ACCESS: Record<string, AccessKind> = { read: Access.Read, write: Access.Write, fetch: Access.Fetch };

export async function commandWalk(argv: string[]): Promise<number> {
  const p = parseArgs(argv, {
    access: { value: true }, cpl: { value: true }, 'after-run': { value: false }, json: { value: false },
  }, 'walk');
  if (p.positionals.length !== 2) throw new UsageError(`walk needs FILE and ADDRESS, got ${p.positionals.length} argument(s)`, 'walk');
  const [file, addressText] = p.positionals as [string, string];
  const accessName = optionValue(p, 'access') ?? 'write';
  const access = ACCESS[accessName];
  if (access === undefined) throw new UsageError(`--access must be read, write or fetch, got "${accessName}"`, 'walk');
  const json = readJsonFile(file);
  if (isGuestScenarioJson(json)) {
    throw new UsageError(`${file} is a guest scenario; walk shows host walks; see the guest's two-dimensional walks with "snpemu scenario --trace mmu ${file}"`, 'walk');
  }
  const scenario = scenarioFromJson(json, file);
  const value = parseAddressValue(addressText);
  if (value === undefined) throw new UsageError(`ADDRESS must be a number or a region symbol like buf+0x1000, got "${addressText}"`, 'walk');
  if (typeof value !== 'bigint') {
    const names = scenario.process?.regions.map((r) => r.name) ?? [];
    if (!names.includes(value.symbol)) {
      throw new UsageError(`"${value.symbol}" names no region of ${file}${names.length ? `; regions are ${names.join(', ')}` : ''}`, 'walk');
    }
  }
  const prepared = prepareScenario(scenario);
  const cplText = optionValue(p, 'cpl');
  const cpl = cplText === undefined ? prepared.cpl : Number(cplText);
  if (!/^[0-3]$/.test(cplText ?? '0')) throw new UsageError(`--cpl must be 0..3, got "${cplText}"`, 'walk');
  if (flag(p, 'after-run')) prepared.run();
  const address = BigInt.asUintN(64, prepared.resolve(value));
  const top = address >> 47n;
  if (top !== 0n && top !== 0x1ffffn) throw new UsageError(`0x${address.toString(16)} is not a canonical address (a real access would take #GP, not a walk)`, 'walk');
  const trace = prepared.machine.mmu.walkTrace(Number(address & 0xffffffffffffn), access, { cpl });
  if (flag(p, 'json')) {
    out(JSON.stringify(trace, walkJsonReplacer));
  } else {
    out(`${scenario.name}${flag(p, 'after-run') ? ' (after the run)' : ' (before the first instruction)'}`);
    out(walkReport(trace));
  }
  return 0;
}
