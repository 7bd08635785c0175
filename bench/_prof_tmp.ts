import { Machine } from '../src/machine.ts';
const m = new Machine({ memoryBytes: 64 << 20, snp: false });
const { phys, cpu } = m;
phys.writeU64(0x1000, 0x2000n | 7n); phys.writeU64(0x2000, 0x3000n | 7n);
for (let i = 0; i < 32; i++) phys.writeU64(0x3000 + i * 8, BigInt(i * 0x200000) | 0x87n);
cpu.cr3 = 0x1000n; cpu.setReg(4, 0x800000n);
const hex = '4801c84831c248c1e20148ffc975f1f4';
for (let i = 0; i < hex.length / 2; i++) phys.write8(0x400000 + i, parseInt(hex.slice(i * 2, i * 2 + 2), 16));
for (let k = 0; k < 8; k++) {
  cpu.setReg(1, 4_000_000n); cpu.rip = 0x400000n;
  const t = process.cpuUsage(); const b = cpu.instructions; const r = cpu.run(1e9); const u = process.cpuUsage(t);
  console.log(r.kind, ((cpu.instructions - b) / ((u.user + u.system) / 1e3) / 1e3).toFixed(1), 'M/s');
}
