import { runNative } from './native.ts';
import { formatResult, runSnippet } from '../../src/snippet/index.ts';
const cases = JSON.parse(process.argv[2]!);
for (const c of cases) {
  const n = JSON.parse(runNative([c])[0]!); const e = JSON.parse(formatResult(runSnippet(c)));
  const diff: string[] = [];
  for (const k of Object.keys(n.regs)) if (n.regs[k] !== e.regs[k]) diff.push(`${k} ${n.regs[k]} | ${e.regs[k]}`);
  if (n.rflags !== e.rflags) diff.push(`rflags ${n.rflags} | ${e.rflags}`);
  if (n.rip !== e.rip) diff.push(`rip ${n.rip} | ${e.rip}`);
  if (JSON.stringify(n.exception) !== JSON.stringify(e.exception)) diff.push(`exc ${JSON.stringify(n.exception)} | ${JSON.stringify(e.exception)}`);
  if (n.mem !== e.mem) { const a = Buffer.from(n.mem, 'hex'), b = Buffer.from(e.mem, 'hex'); const o=[]; for (let i=0;i<4096;i++) if (a[i]!==b[i]) o.push(`+${i.toString(16)}:${a[i].toString(16)}/${b[i].toString(16)}`); diff.push('mem ' + o.slice(0,12).join(' ')); }
  console.log(c.code, diff.length ? diff.join('; ') : 'OK');
}
