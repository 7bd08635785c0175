import { generateCase } from './generator.ts';
import { runNative } from './native.ts';
const cases = []; for (let i = 0; i < 20000; i++) cases.push(generateCase(Number(process.argv[2] ?? 7), i));
const a = runNative(cases as any), b = runNative(cases as any);
let d = 0; for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) { d++; if (d < 3) console.log(i, cases[i].code); }
console.log('nondeterministic', d);
const errs = a.filter(l => l.includes('"error"')); console.log(errs.slice(0,5));
