// Guest scenarios (issue 7, docs/guest.md: format 1 with a `guest` section) run by the guest
// module's own runner; `snpemu scenario` dispatches to it and prints its result in the same
// manner as a host scenario's.

import type { GuestScenarioResult } from '../guest/scenario-run.ts';

/** Does this parsed scenario document describe a guest (an SNP guest under the hypervisor model)? */
export function isGuestDocument(json: unknown): boolean {
  return json !== null && typeof json === 'object' && !Array.isArray(json) && 'guest' in json;
}

export function formatGuestReport(r: GuestScenarioResult): string {
  const lines: string[] = [];
  lines.push(`${r.expect.passed ? 'PASS' : 'FAIL'}  ${r.name}`);
  lines.push(`      ${r.file}`);
  lines.push(`  guest: ${r.outcome.kind} — ${r.outcome.message}`);
  const s = r.stats;
  lines.push(`  ${s.instructions} instructions, ${s.walks} walks (${s.memRefs} memory references), ${s.tlbHits} TLB hits, ${s.tlbMisses} misses, ${s.rmpChecks} RMP checks`);
  r.exits.forEach((e, i) => {
    lines.push(`  exit ${i + 1}: ${e.exitCode} EXITINFO1=${e.exitInfo1}${e.bits ? ` (${e.bits})` : ''} EXITINFO2=${e.exitInfo2} at ${e.at}`);
    if (e.why) lines.push(`           ${e.why}`);
  });
  r.faults.forEach((f, i) => {
    lines.push(`  fault ${i + 1}: vector ${f.vector} error ${f.errorCode} address ${f.address} at ${f.at}`);
    if (f.why) lines.push(`           ${f.why}`);
  });
  r.hv.forEach((d, i) => {
    lines.push(`  decision ${i + 1}: ${d.action} gpa ${d.gpa}`);
    if (d.why) lines.push(`           ${d.why}`);
  });
  for (const m of r.expect.mismatches) lines.push(`  MISMATCH ${m}`);
  return lines.join('\n');
}
