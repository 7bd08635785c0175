// What the figures were measured on: they mean little without it.

import os from 'node:os';
import type { MachineInfo } from './record.ts';

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() || 'unknown',
    cores: Math.max(1, cpus.length),
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}
