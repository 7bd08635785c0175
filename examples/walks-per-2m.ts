// In your own project, import from the package instead: `import { Machine } from 'snpemu';` (this file
// imports '../src/index.ts' so that CI runs it from the repository without a build).
// Count page walks per 2 MiB region (run: npx tsx examples/walks-per-2m.ts).
//
// A process touches one byte in every 4 KiB page of 6 MiB: the first 4 MiB are mapped with 4 KiB
// pages, the last 2 MiB by one transparent huge page. A walk hook buckets every page walk the MMU
// makes by the 2 MiB region of its linear address: a 4K-mapped region costs one walk per page, the
// huge page one walk for all of it (its translation then serves the other 511 pages from the TLB).

import { Machine } from '../src/index.ts';

const m = new Machine({ memory: '64M' });
m.createProcess({
  regions: [
    // mov rdi, 0x10000000; mov ecx, 1536; .l: mov byte [rdi], 1; add rdi, 4096; dec ecx; jnz .l;
    // mov eax, 60; xor edi, edi; syscall (exit 0)
    { name: 'code', at: 0x400000, size: '4K', prot: 'r-x',
      bytes: 'bf 00 00 00 10 b9 00 06 00 00 c6 07 01 48 81 c7 00 10 00 00 ff c9 75 f2 b8 3c 00 00 00 31 ff 0f 05' },
    { name: 'small', at: 0x10000000, size: '4M', prot: 'rw-' },
    { name: 'huge', at: 0x10400000, size: '2M', prot: 'rw-', page: '2M', kind: 'thp' },
  ],
  entry: 'code',
});

const walksPer2M = new Map<bigint, number>();
m.hooks.add('walk', (walk) => {
  const region = walk.linearAddress & ~0x1fffffn;
  walksPer2M.set(region, (walksPer2M.get(region) ?? 0) + 1);
});

const result = m.run();
console.log(`outcome: ${result.outcome.kind} (${result.outcome.message}), ${result.stats.instructions} instructions`);
console.log('2M region          walks  page size');
for (const [region, walks] of [...walksPer2M].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
  const size = m.translate(region).pageSize;
  console.log(`0x${region.toString(16).padStart(12, '0')}  ${String(walks).padStart(7)}  ${size === null ? '-' : size >= 2 << 20 ? '2M' : '4K'}`);
}
console.log(`total walks: ${result.stats.walks}, TLB hits: ${result.stats.tlbHits}`);
