// The snippet machine as a user meets it (docs/testing.md, "The snippet machine, as a user meets it"):
// user-mode RFLAGS.IF, a case without code, and SYSCALL without a kernel.
import { describe, expect, it } from 'vitest';
import { runSnippetBatch } from '../../src/snippet/index.ts';

async function batch(lines: string[]): Promise<Record<string, any>[]> {
  const out: string[] = [];
  await runSnippetBatch(lines.join('\n'), (l) => out.push(l));
  return out.map((l) => JSON.parse(l));
}

describe('snippet machine state', () => {
  it('runs CPL3 code with IF=1, as Linux user mode does, while the reported rflags stay masked', async () => {
    // pushf (9c); pop rax (58). Initial flags CF|PF|AF|ZF|SF|OF = 0x8d5, bit 1 = 0x2, and IF (bit 9,
    // 0x200) as every CPL3 program on Linux has it: 0x8d7 | 0x200 = 0xad7, the value a native run
    // pushes (the QA report: snpemu pushed 0x8d7, native 0xad7). rflags stays 0xCD5|2-masked: 0x8d7.
    const [o] = await batch(['{"id":"pf","code":"9c58","rflags":"0x8d5"}']);
    expect(o!.exception).toBeNull();
    expect(o!.regs.rax).toBe('0x0000000000000ad7');
    expect(o!.rflags).toBe('0x00000000000008d7');
    // The pushed image in the stack page (DATA 0x200000, RSP 0x2000c0 - 8 = offset 0xb8) holds IF too.
    expect(o!.mem.slice(0xb8 * 2, 0xb8 * 2 + 4)).toBe('d70a');
  });

  it('gives an error line for a case without code, and runs an explicitly empty one', async () => {
    const out = await batch(['{"id":"nocode","regs":{"rax":"0x1"}}', '{"id":"empty","code":""}']);
    expect(out[0]).toEqual({ id: 'nocode', error: expect.stringMatching(/^missing code/) });
    expect(out[1]!.error).toBeUndefined();
    expect(out[1]!.rip).toBe('0x0000000000100000');
  });

  it('raises #UD for SYSCALL: there is no kernel, EFER.SCE = 0 (AMD APM Vol.3 "SYSCALL")', async () => {
    const [o] = await batch(['{"id":"sc","code":"0f05"}']);
    expect(o!.exception).toEqual({ vector: 6, name: 'UD', error_code: 0, addr: '0x0000000000000000' });
    expect(o!.rip).toBe('0x0000000000100000');
  });
});
