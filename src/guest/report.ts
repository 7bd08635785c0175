// The readable report of a guest scenario, in the style of src/scenario/result.ts formatReport, and
// the test the CLI uses to route a file to the guest runner (a format-1 document with a `guest` key).
// `snpemu scenario` prints this report for guest files, as it prints formatReport for host ones.

import { VECTOR_NAMES } from '../cpu/fault.ts';
import { SvmExit } from './constants.ts';
import type { GuestScenarioResult } from './scenario-run.ts';

/** GuestExitRecord.exitCode is hex text (scenario-run.ts); SVM_EXIT_NPF is 0x400 (AMD APM Vol.2 §15.25.6). */
const NPF_EXIT_CODE = `0x${SvmExit.NPF.toString(16)}`;

/** True for a parsed scenario document that describes a guest (docs/guest.md). */
export function isGuestScenarioJson(json: unknown): boolean {
  return json !== null && typeof json === 'object' && !Array.isArray(json) && 'guest' in (json as object);
}

export function formatGuestReport(r: GuestScenarioResult): string {
  const lines: string[] = [];
  lines.push(`${r.expect.passed ? 'PASS' : 'FAIL'}  ${r.name}`);
  lines.push(`      ${r.file}`);
  lines.push(`  guest: ${r.outcome.kind} — ${r.outcome.message}`);
  const s = r.stats;
  lines.push(`  ${s.instructions} instructions, ${s.walks} 2D walks (${s.memRefs} entry reads), ${s.tlbHits} TLB hits, ${s.tlbMisses} misses, ${s.rmpChecks} RMP checks`);
  r.exits.forEach((e, i) => {
    const name = e.exitCode === NPF_EXIT_CODE ? 'NPF' : e.exitCode;
    lines.push(`  exit ${i + 1}: #VMEXIT(${name}) EXITINFO1=${e.exitInfo1}${e.bits ? ` (${e.bits})` : ''} EXITINFO2=${e.exitInfo2} at ${e.at}`);
    if (e.why) lines.push(`           ${e.why}`);
  });
  r.faults.forEach((f, i) => {
    lines.push(`  guest fault ${i + 1}: #${VECTOR_NAMES[f.vector] ?? f.vector} error ${f.errorCode} CR2=${f.address} at ${f.at}`);
    if (f.why) lines.push(`           ${f.why}`);
  });
  r.hv.forEach((h, i) => lines.push(`  handler ${i + 1}: ${h.action} at GPA ${h.gpa} — ${h.why}`));
  r.steps.forEach((st) => {
    if (st.result === null) return;
    const parts = Object.entries(st.result).map(([k, v]) => `${k}=${String(v)}`);
    lines.push(`  step ${st.index}: ${parts.join(' ')}`);
  });
  if (r.regs !== undefined) lines.push(`  regs: ${Object.entries(r.regs).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  for (const m of r.expect.mismatches) lines.push(`  MISMATCH ${m}`);
  return lines.join('\n');
}
