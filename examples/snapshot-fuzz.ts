// In your own project, import from the package instead: `import { Machine } from 'snpemu';` (this file
// imports '../src/index.ts' so that CI runs it from the repository without a build).
// Snapshot fuzzing of a tiny parser (run: npx tsx examples/snapshot-fuzz.ts [iterations]).
//
// The parser reads a length byte and sums that many bytes after it. It has two planted bugs: a
// length above 0x7f reads past the end of its page (#PF), and a sum of exactly 0x1ff runs into UD2
// (#UD). The machine is built once and snapshotted; each iteration restores the snapshot (a
// copy-on-write restore: only the pages the last run wrote are copied again), writes one input,
// runs, and files the outcome. Restores make iterations independent: the same input always gives
// the same result.

import { Machine } from '../src/index.ts';

const CODE = 0x400000;
const INPUT = 0x600f80; // 128 bytes before the end of the mapped data page

const m = new Machine({ memory: '16M' });
// movzx ecx, byte [rdi]; xor eax, eax; lea rsi, [rdi+1]
// .loop: test ecx, ecx; jz .done; movzx edx, byte [rsi]; add eax, edx; inc rsi; dec ecx; jmp .loop
// .done: cmp eax, 0x1ff; jne .ok; ud2; .ok: mov [rdi-8], eax; hlt
m.writePhysical(0x200000, '0f b6 0f 31 c0 48 8d 77 01 85 c9 74 0c 0f b6 16 01 d0 48 ff c6 ff c9 eb f0 3d ff 01 00 00 75 02 0f 0b 89 47 f8 f4');
m.map({ va: CODE, pa: 0x200000, flags: ['P'] });
m.map({ va: 0x600000, pa: 0x300000, flags: ['P', 'RW', 'NX'] });
m.regs.rip = BigInt(CODE);
m.regs.rdi = BigInt(INPUT);
const start = m.snapshot();

// xorshift32: a reproducible input generator.
let seed = 0x2545f491;
const random = (): number => {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed;
};

const iterations = Number(process.argv[2] ?? 20000);
const outcomes = new Map<string, number>();
const firstCrash = new Map<string, Uint8Array>();
const t0 = performance.now();
for (let i = 0; i < iterations; i++) {
  m.restore(start);
  // Mostly short inputs of small bytes (so sums near 0x1ff are likely), sometimes too long ones.
  const len = random() % 8 === 0 ? 0x80 + (random() % 0x20) : random() % 6;
  const input = new Uint8Array(1 + Math.min(len, 0x7f));
  input[0] = len;
  for (let j = 1; j < input.length; j++) input[j] = 0x80 + (random() % 0x80);
  m.writePhysical(0x300f80, input);
  const r = m.run({ maxInstructions: 10_000 });
  const key = r.outcome.kind === 'exception' ? `#${r.outcome.fault.name} at 0x${r.rip.toString(16)}` : r.outcome.kind;
  outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  if (r.outcome.kind === 'exception' && !firstCrash.has(key)) firstCrash.set(key, input);
}
const seconds = (performance.now() - t0) / 1000;

console.log(`${iterations} runs in ${seconds.toFixed(2)} s (${Math.round(iterations / seconds)} restore+run per second)`);
for (const [key, n] of [...outcomes].sort()) console.log(`  ${key.padEnd(22)} ${n}`);
for (const [key, input] of firstCrash) {
  console.log(`crash ${key}: first input ${[...input.slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}${input.length > 8 ? ' …' : ''}`);
  // Replay it from the snapshot: the same crash, every time.
  m.restore(start);
  m.writePhysical(0x300f80, input);
  const again = m.run({ maxInstructions: 10_000 });
  console.log(`  replayed: ${again.outcome.kind === 'exception' ? `#${again.outcome.fault.name} at 0x${again.rip.toString(16)}` : again.outcome.kind}`);
}
