// The demo's stories (scenarios/NN-*-{v7,mainline}.json): a short label for each, and a short why for
// each kernel policy. A short why is written for the run the story tells; it is used only when the
// run went that way (outcome and decisions checked), with its numbers (pfns) taken from the run.
// Any other run (an edited file, a new one) gets a why built from its own result.

import { noFaultWhy } from '../scenario/report.ts';
import type { ScenarioResult } from '../scenario/result.ts';

export interface Story {
  label: string;
  /** The short why of this run, or undefined when the run did not go as the story tells it. */
  shortWhy(r: ScenarioResult): string | undefined;
  /** What the default table cannot say, for --verbose (one or two sentences). */
  point: string;
}

const actions = (r: ScenarioResult): string[] => r.kernel.map((k) => k.action);
const only = (r: ScenarioResult, action: string): boolean => r.kernel.length > 0 && actions(r).every((a) => a === action);
const exactly = (r: ScenarioResult, ...list: string[]): boolean => actions(r).join(',') === list.join(',');
const firstMatch = (text: string | undefined, re: RegExp): string | undefined => (text === undefined ? undefined : re.exec(text)?.[1]);

/** "spurious" rows under mainline: the huge or 4K entry looks fine, so the write re-executes. */
function spuriousWhy(r: ScenarioResult, entry: string): string | undefined {
  if (r.policy !== 'mainline' || r.outcome.kind !== 'livelock' || !only(r, 'spurious')) return undefined;
  return `no RMP code: ${entry} present and writable → "spurious", re-executes`;
}

export const STORIES: Record<string, Story> = {
  '01-thp-shared-page': {
    label: 'THP (2M): the host writes a shared page; a guest page sits in the same 2M region',
    shortWhy: (r) => {
      if (r.policy === 'mainline') return spuriousWhy(r, 'PMD');
      const guest = firstMatch(r.faults[0]?.why, /pfn (0x[0-9a-f]+) in 2M region/);
      if (r.outcome.kind !== 'exit' || !exactly(r, 'split') || guest === undefined) return undefined;
      return `2M region holds guest pfn ${guest} → split PMD, retry OK`;
    },
    point: 'The hardware checks a write through a 2M mapping against all 512 RMP entries of its 2M region (spec/rmp.md §3.1); v7 splits the PMD into 512 PTEs, and the retried write is checked as 4K.',
  },
  '02-thp-guest-page': {
    label: 'THP (2M): the host writes the guest page itself',
    shortWhy: (r) => {
      if (r.policy === 'mainline') return spuriousWhy(r, 'PMD');
      const pfn = firstMatch(r.kernel[0]?.why, /the RMP entry of pfn (0x[0-9a-f]+) is assigned/);
      if (r.outcome.signal !== 'SIGBUS' || !exactly(r, 'sigbus') || pfn === undefined) return undefined;
      return `target pfn ${pfn} is assigned to the guest → SIGBUS`;
    },
    point: 'A split cannot help when the written page is itself the guest\'s: v7 kills the process with SIGBUS (BUS_ADRERR); mainline loops.',
  },
  '03-hugetlb-1g': {
    label: '1G hugetlb: the host writes a shared page; a guest page sits in its 2M sub-region',
    shortWhy: (r) => {
      if (r.policy === 'mainline') return spuriousWhy(r, 'PUD');
      if (r.outcome.kind !== 'livelock' || !only(r, 'split')) return undefined;
      return 'SPLIT requested, ignored by the hugetlb/PUD path';
    },
    point: 'A 1G mapping is checked as the 2M sub-region that holds the address (spec/rmp.md §3.1). v7 asks for a split, but only the PMD path (__split_huge_pmd) acts on FAULT_FLAG_PAGE_SPLIT: hugetlb_fault has no split path, so nothing changes and the write faults again.',
  },
  '04-race-munmap': {
    label: 'race: buf is munmapped between the RMP #PF and the handler',
    shortWhy: (r) => {
      const raced = (r.events ?? []).some((e) => e.action.startsWith('munmap ') && 'kernel' in e.when);
      if (!raced || r.outcome.signal !== 'SIGSEGV') return undefined;
      if (r.policy === 'v7' && exactly(r, 'unmap', 'sigsegv')) {
        return 'buf, a 4K guest-valid page, munmapped in the race window → UNMAP, retry, SIGSEGV';
      }
      if (r.policy === 'mainline' && exactly(r, 'sigsegv')) return 'buf munmapped in the race window; no VMA → SIGSEGV';
      return undefined;
    },
    point: 'The write to buf, a 4K guest-valid page, takes an RMP #PF; the munmap happens before the handler runs. v7 walks the page tables, finds no PTE and returns UNMAP (re-execute); the re-executed write takes a not-present #PF and no VMA covers buf.',
  },
  '05-hv-fixed-hardware': {
    label: 'HV-Fixed page (Assigned=0, Immutable=1) on the hardware, spec/rmp.md §3.1 and §6.3',
    shortWhy: (r) => {
      if (r.outcome.kind !== 'exit' || r.faults.length !== 0) return undefined;
      return r.policy === 'v7'
        ? 'no fault: HV-Fixed has Assigned=0, and the host write check reads only Assigned'
        : 'no fault either: no RMP #PF, so the kernel policy never comes into play';
    },
    point: 'An HV-Fixed page has Assigned=0, and the host write check reads only Assigned (spec/rmp.md §3.1, §6.3), so the write passes: no RMP #PF, no handler.',
  },
  '05-hv-fixed-quirk': {
    label: 'HV-Fixed page with the hostChecksImmutable quirk',
    shortWhy: (r) => {
      if (r.outcome.kind !== 'livelock') return undefined;
      if (r.policy === 'v7' && only(r, 'retry')) return 'fault exists only via the quirk (the v7 commit\'s condition 3); RETRY forever';
      if (r.policy === 'mainline' && only(r, 'spurious')) return 'fault exists only via the quirk; PTE fine → "spurious", re-executes';
      return undefined;
    },
    point: 'The quirk makes host writes to an Immutable=1 entry fault, the check the v7 commit message lists as its condition 3; the hardware does not make it (spec/rmp.md §6.3). v7 finds the entry unassigned and the mapping already 4K, so it returns RETRY, and the same fault repeats.',
  },
};

/** A short why for a run no story describes: its first fault's failing check, then its decisions. */
export function genericWhy(r: ScenarioResult): string {
  if (r.faults.length === 0) return noFaultWhy(r);
  const f = r.faults[0]!;
  const check = firstMatch(f.why, /failed \(([^)]*)\)/);
  const fault = f.rmp ? `RMP #PF${check ? ` ${check}` : ''}` : `#PF 0x${f.errorCode.toString(16)}`;
  const parts: string[] = [];
  const names = actions(r);
  for (let i = 0; i < names.length;) {
    let j = i;
    while (j < names.length && names[j] === names[i]) j++;
    parts.push(j - i > 1 ? `${names[i]} ×${j - i}` : names[i]!);
    i = j;
  }
  return parts.length > 0 ? `${fault} → ${parts.join(', ')}` : fault;
}
