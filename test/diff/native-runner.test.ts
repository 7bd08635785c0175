// The oracle itself: the native runner must report what the manuals say for cases whose outcome
// can be worked out by hand. If these fail, no differential result can be trusted.
import { describe, expect, it } from 'vitest';
import { runNative } from './native.ts';

interface Out {
  regs: Record<string, string>;
  rip: string;
  rflags: string;
  mem: string;
  exception: { vector: number; name: string; error_code: number; addr: string } | null;
  error?: string;
}

function run(code: string, regs: Record<string, string> = {}, extra: Record<string, unknown> = {}): Out {
  return JSON.parse(runNative([{ id: 'x', code, regs, ...extra }])[0]!) as Out;
}

describe('native runner (hardware oracle)', () => {
  it('runs to the end of the code: add rax, rbx', () => {
    const o = run('4801d8', { rax: '0x1', rbx: '0x2' }); // 48 01 d8 = add rax, rbx
    expect(o.exception).toBeNull();
    expect(o.regs.rax).toBe('0x0000000000000003');
    expect(o.rip).toBe('0x0000000000100003');
    // 3 = 0b11: two set bits, even parity -> PF=1; no carry, not zero, positive: 0x4 | bit 1.
    expect(o.rflags).toBe('0x0000000000000006');
    expect(o.regs.rsp).toBe('0x00000000002000c0'); // the default RSP
    expect(o.mem).toHaveLength(8192);
  });

  it('reports #DE at the DIV with no effects (xor ecx,ecx; div ecx)', () => {
    const o = run('31c9f7f1', { rax: '0x10' });
    expect(o.exception).toEqual({ vector: 0, name: 'DE', error_code: 0, addr: '0x0000000000000000' });
    expect(o.rip).toBe('0x0000000000100002');
    expect(o.regs.rax).toBe('0x0000000000000010');
  });

  it('reports a write to the r-x code page as #PF with P|W|U = 7 and CR2', () => {
    const o = run('c70425100010002a000000'); // mov dword [0x100010], 42
    expect(o.exception).toEqual({ vector: 14, name: 'PF', error_code: 7, addr: '0x0000000000100010' });
    expect(o.rip).toBe('0x0000000000100000');
  });

  it('reports a fetch from the NX data page as #PF with P|U|I/D = 0x15', () => {
    const o = run('ffe0', { rax: '0x200010' }); // jmp rax
    expect(o.exception).toEqual({ vector: 14, name: 'PF', error_code: 0x15, addr: '0x0000000000200010' });
    expect(o.rip).toBe('0x0000000000200010');
  });

  it('makes no partial write when an 8-byte store straddles into an unmapped page', () => {
    // mov [0x200ffc], rax: the second page is not present -> #PF(W|U = 6), CR2 = 0x201000.
    const o = run('48890425fc0f2000', { rax: '0x1122334455667788' });
    expect(o.exception).toEqual({ vector: 14, name: 'PF', error_code: 6, addr: '0x0000000000201000' });
    expect(o.mem).toBe('00'.repeat(4096));
  });

  it('reports a non-canonical data address as #GP(0) and a non-canonical RSP reference as #SS(0)', () => {
    const gp = run('488b00', { rax: '0x0000800000000000' }); // mov rax, [rax]
    expect(gp.exception).toEqual({ vector: 13, name: 'GP', error_code: 0, addr: '0x0000000000000000' });
    const ss = run('50', { rsp: '0x8000000000000008' }); // push rax
    expect(ss.exception).toEqual({ vector: 12, name: 'SS', error_code: 0, addr: '0x0000000000000000' });
  });

  it('reports UD2 as #UD and ends a runaway snippet with an error line instead of hanging', () => {
    expect(run('0f0b').exception?.name).toBe('UD');
    expect(run('ebfe').error).toMatch(/timeout/);
  });
});
