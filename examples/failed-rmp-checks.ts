// In your own project, import from the package instead: `import { Machine } from 'snpemu';` (this file
// imports '../src/index.ts' so that CI runs it from the repository without a build).
// Log every RMP check that fails (run: npx tsx examples/failed-rmp-checks.ts).
//
// The machine comes from a scenario (the same JSON `snpemu scenario` runs). A process owns a 2 MiB
// transparent huge page whose page buf+0x7000 belongs to a guest. It writes to a shared page of the
// huge page, then to the guest page itself. Every failing RMP check is printed with its reason, and
// every decision of the emulated v7 kernel's fault handler with it.

import { Machine } from '../src/index.ts';

const m = Machine.fromScenario({
  format: 1,
  name: 'two host writes into a THP that holds a guest page',
  kernel: 'v7',
  process: {
    regions: [
      // mov dword [rdi], 0xa5a5a5a5; mov dword [rsi], 0x5a5a5a5a; mov eax, 60; xor edi, edi; syscall
      { name: 'code', at: '0x400000', size: '4K', prot: 'r-x', hex: 'c7 07 a5 a5 a5 a5 c7 06 5a 5a 5a 5a b8 3c 00 00 00 31 ff 0f 05' },
      { name: 'buf', at: '0x40000000', size: '2M', prot: 'rw-', page: '2M', kind: 'thp' },
    ],
    entry: 'code',
    regs: { rdi: 'buf+0x80010', rsi: 'buf+0x7000' },
  },
  rmp: [{ page: 'buf+0x7000', state: 'guest-valid', asid: 1, gpa: '0x7000' }],
});

let checks = 0;
m.hooks.add('rmp-check', () => void checks++);
m.hooks.add('rmp-check', (check, machine) => {
  const f = check.failure!;
  const what = check.table === 'none' ? `${check.access} of SPA 0x${check.spa.toString(16)} mapped by a ${check.mapBytes >= 2 << 20 ? '2M' : '4K'} page` : `page-table access at SPA 0x${check.spa.toString(16)}`;
  console.log(`FAILED RMP check at RIP 0x${machine.regs.rip.toString(16)}: ${what}`);
  console.log(`  check "${f.check}" on pfn 0x${f.pfn.toString(16)}: ${f.why}`);
}, { failedOnly: true });
m.hooks.add('kernel-decision', (d) => console.log(`kernel decision: ${d.action} (#PF error code 0x${d.fault.errorCode.toString(16)})`));

const r = m.run();
console.log(`outcome: ${r.outcome.kind}${r.outcome.kind === 'signal' ? ` ${r.outcome.signal} (${r.outcome.siCode})` : ''}`);
console.log(`${checks} RMP checks made, ${r.faults.length} faults, decisions: ${r.kernel.map((k) => k.action).join(', ')}`);
