// The batch snippet runner's contract (spec/snippet.md): input parsing, error lines, the output
// format, the machine layout, and reuse of one machine across cases. Expected values are hand
// calculations shown in the comments.
import { describe, expect, it } from 'vitest';
import { runSnippet, runSnippetBatch, type SnippetState } from '../../src/snippet/index.ts';

async function batch(lines: string[]): Promise<Record<string, any>[]> {
  const out: string[] = [];
  await runSnippetBatch(lines.join('\n'), (l) => out.push(l));
  return out.map((l) => JSON.parse(l));
}

describe('snippet --batch', () => {
  it('prints the final state in the output format, with the default RSP and masked RFLAGS', async () => {
    const [o] = await batch(['{"id":"c1","code":"4801d8","regs":{"rax":"0x1","rbx":2},"rflags":"0xffff","note":"ignored"}']);
    // add rax, rbx: 1 + 2 = 3; 3 has two bits set (even parity) -> PF; no CF/ZF/SF/OF/AF.
    // DF came in set from rflags 0xffff (masked to 0xCD5) and ADD leaves it: 0x400 | 0x4 | 0x2.
    expect(Object.keys(o!)).toEqual(['id', 'regs', 'rip', 'rflags', 'mem', 'exception']);
    expect(o!.id).toBe('c1');
    expect(o!.regs.rax).toBe('0x0000000000000003');
    expect(o!.regs.rsp).toBe('0x00000000002000c0');
    expect(Object.keys(o!.regs)).toEqual(['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15']);
    expect(o!.rip).toBe('0x0000000000100003');
    expect(o!.rflags).toBe('0x0000000000000406');
    expect(o!.mem).toBe('00'.repeat(4096));
    expect(o!.exception).toBeNull();
  });

  it('turns bad input into error lines and carries on', async () => {
    const out = await batch([
      '{"id":"bad-hex","code":"4g"}',
      '{"id":"odd","code":"480"}',
      '{"id":7,"code":"90","regs":{"eax":"1"}}',
      'not json',
      '{"id":"big","regs":{"rax":1e300}}',
      '',
      '{"id":"ok","code":"90"}',
    ]);
    expect(out.map((o) => [o.id, o.error === undefined ? 'ok' : 'error'])).toEqual([
      ['bad-hex', 'error'], ['odd', 'error'], [7, 'error'], [null, 'error'], ['big', 'error'], ['ok', 'ok'],
    ]);
    expect(out[2]!.error).toMatch(/unknown register "eax"/);
    expect(out[3]!.error).toMatch(/malformed JSON/);
  });

  it('loads the data page from mem, zero-fills the rest, and accepts -1 as a JSON integer', () => {
    // mov rax, [0x200000]: the first 8 bytes of mem, little-endian.
    const r = runSnippet({ id: 'm', code: '488b042500002000', mem: '8877665544332211', regs: { rbx: -1 } }) as SnippetState;
    expect(r.regs[0]).toBe(0x1122334455667788n);
    expect(r.regs[3]).toBe(0xffffffffffffffffn);
    expect(r.mem.length).toBe(4096);
    expect(r.mem[8]).toBe(0);
  });

  it('reports a write to the code page as #PF(P|W|U) at the instruction, with CR2 and no effects', () => {
    // mov dword [0x100010], 42 at CPL 3 on a present, read-only user page: error code 0b111 = 7.
    const r = runSnippet({ id: 'w', code: 'c70425100010002a000000' }) as SnippetState;
    expect(r.exception).toEqual({ vector: 14, name: 'PF', error_code: 7, addr: 0x100010n });
    expect(r.rip).toBe(0x100000n);
  });

  it('reports a fetch from the NX data page as #PF(P|U|I/D) = 0x15 at the target', () => {
    const r = runSnippet({ id: 'x', code: 'ffe0', regs: { rax: '0x200010' } }) as SnippetState; // jmp rax
    expect(r.exception).toEqual({ vector: 14, name: 'PF', error_code: 0x15, addr: 0x200010n });
    expect(r.rip).toBe(0x200010n);
  });

  it('reports an access to an unmapped page as #PF(U) = 4 (nothing else is mapped)', () => {
    const r = runSnippet({ id: 'u', code: '488b042500003000' }) as SnippetState; // mov rax, [0x300000]
    expect(r.exception).toEqual({ vector: 14, name: 'PF', error_code: 4, addr: 0x300000n });
  });

  it('gives SYSCALL #UD: a snippet has no kernel (EFER.SCE = 0)', () => {
    const r = runSnippet({ id: 's', code: '0f05' }) as SnippetState;
    expect(r.exception?.name).toBe('UD');
    expect(r.rip).toBe(0x100000n);
  });

  it('ends a runaway snippet at the step limit with an error line', async () => {
    const [o] = await batch(['{"id":"loop","code":"ebfe"}']); // jmp $
    expect(o!.error).toMatch(/step limit reached: 4096 instructions/);
    const limited = runSnippet({ id: 'l', code: 'ebfe' }, { stepLimit: 10 });
    expect('error' in limited && limited.error).toMatch(/10 instructions/);
    // Exactly as many instructions as the limit allows still completes: 3 NOPs under a limit of 3.
    const exact = runSnippet({ id: 'e', code: '909090' }, { stepLimit: 3 }) as SnippetState;
    expect(exact.exception).toBeNull();
    expect(exact.rip).toBe(0x100003n);
  });

  it('reuses one machine without leaking state or stale decoded code between cases', async () => {
    const out = await batch([
      '{"id":"a","code":"48c7c001000000","regs":{"rcx":"0x5"},"mem":"ff"}', // mov rax, 1
      '{"id":"b","code":"48c7c002000000"}', // mov rax, 2: same address, new bytes
      '{"id":"c","code":""}', // nothing runs: the initial state
    ]);
    expect(out[0]!.regs.rax).toBe('0x0000000000000001');
    expect(out[1]!.regs.rax).toBe('0x0000000000000002');
    expect(out[1]!.regs.rcx).toBe('0x0000000000000000');
    expect(out[1]!.mem).toBe('00'.repeat(4096));
    expect(out[2]!.rip).toBe('0x0000000000100000');
    expect(out[2]!.regs.rax).toBe('0x0000000000000000');
  });

  it('reads chunked input that splits lines anywhere', async () => {
    const out: string[] = [];
    async function* chunks() {
      yield '{"id":"a","co';
      yield 'de":"90"}\n{"id":"b"';
      yield ',"code":"90"}';
    }
    const summary = await runSnippetBatch(chunks(), (l) => out.push(l));
    expect(summary).toEqual({ cases: 2, errors: 0 });
    expect(out.map((l) => JSON.parse(l).id)).toEqual(['a', 'b']);
  });
});
