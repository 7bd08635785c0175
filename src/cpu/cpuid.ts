// CPUID (AMD APM Vol.3 Appendix E, "Obtaining Processor Information Via the CPUID Instruction").
//
// snpemu presents itself as an AMD processor ("AuthenticAMD", family 19h like EPYC Milan) that
// supports exactly what the interpreter implements. Feature bits are set only for implemented
// instructions and paging features; everything else reads 0. Leaves above the maximum return all
// zeros, as AMD processors do (Intel would repeat the highest basic leaf).

export interface CpuFeatures {
  /** Report SEV-SNP (Fn8000_001F EAX[4]) and allow the host SNP instructions. */
  snp: boolean;
  /** Report RMPREAD (Fn8000_001F EAX[21]). */
  rmpread: boolean;
  /** No-execute pages (Fn8000_0001 EDX[20]); without it EFER.NXE cannot be set. */
  nx: boolean;
  /** SMEP / SMAP (Fn0000_0007 EBX[7], EBX[20]); without them the CR4 bits cannot be set. */
  smep: boolean;
  smap: boolean;
}

export const DEFAULT_FEATURES: CpuFeatures = { snp: true, rmpread: true, nx: true, smep: true, smap: true };

/** MAXPHYADDR (Fn8000_0008 EAX[7:0]) and the linear-address width. */
export const MAXPHYADDR = 48;
export const LINEAR_BITS = 48;
/** Position of the C-bit (encryption bit) in page-table entries: Fn8000_001F EBX[5:0]. */
export const C_BIT_POSITION = 51;
/** VMPLs the guest model supports (0-3): Fn8000_001F EBX[15:12]. */
export const VMPL_COUNT = 4;

const MAX_BASIC = 0x7;
const MAX_EXTENDED = 0x8000001f;

function str4(s: string): number {
  return (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) >>> 0;
}

const VENDOR = [str4('Auth'), str4('enti'), str4('cAMD')]; // EBX, EDX, ECX
const BRAND = 'snpemu x86-64 SEV-SNP model'.padEnd(47, ' ') + '\0';

/** Result registers of one CPUID query: [eax, ebx, ecx, edx], unsigned 32-bit. */
export function cpuid(leaf: number, subleaf: number, features: CpuFeatures): [number, number, number, number] {
  leaf >>>= 0;
  switch (leaf) {
    case 0:
      return [MAX_BASIC, VENDOR[0]!, VENDOR[2]!, VENDOR[1]!];
    case 1: {
      // Family 19h (0Fh + extended 0Ah), model 01h, stepping 1.
      const eax = 0x00a00f11;
      const ebx = 8 << 8; // CLFLUSH line size 8 quadwords
      const ecx = (1 << 13) /* CMPXCHG16B */ | (1 << 23) /* POPCNT */;
      const edx = (1 << 4) /* TSC */ | (1 << 5) /* MSR */ | (1 << 6) /* PAE */ | (1 << 8) /* CX8 */ |
        (1 << 13) /* PGE */ | (1 << 15) /* CMOV */;
      return [eax, ebx, ecx >>> 0, edx >>> 0];
    }
    case 7:
      if (subleaf !== 0) return [0, 0, 0, 0];
      // EBX: BMI1 (bit 3, which is what reports TZCNT), SMEP (7), SMAP (20).
      return [0, ((1 << 3) | (features.smep ? 1 << 7 : 0) | (features.smap ? 1 << 20 : 0)) >>> 0, 0, 0];
    case 0x80000000:
      return [MAX_EXTENDED, VENDOR[0]!, VENDOR[2]!, VENDOR[1]!];
    case 0x80000001: {
      const ecx = (1 << 0) /* LAHF/SAHF in 64-bit mode */ | (1 << 5) /* ABM: LZCNT */;
      const edx = (1 << 11) /* SYSCALL */ | (features.nx ? 1 << 20 : 0) /* NX */ | (1 << 26) /* 1 GB pages */ | (1 << 29) /* LM */;
      return [0x00a00f11, 0, ecx >>> 0, edx >>> 0];
    }
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
      const off = (leaf - 0x80000002) * 16;
      const r: [number, number, number, number] = [0, 0, 0, 0];
      for (let i = 0; i < 4; i++) r[i] = str4(BRAND.slice(off + i * 4, off + i * 4 + 4));
      return r;
    }
    case 0x80000008:
      return [MAXPHYADDR | (LINEAR_BITS << 8), 0, 0, 0];
    case 0x8000001f: {
      if (!features.snp) return [0, 0, 0, 0];
      // EAX: SME (0), SEV (1), SEV-ES (3), SEV-SNP (4), VMPL (5), RMPREAD (21) (spec/rmp.md §1.1).
      // VMPL: guests run at VMPL 0-3 and RMPADJUST sets the lower VMPLs' permissions (src/guest).
      const eax = 0x1 | 0x2 | 0x8 | 0x10 | 0x20 | (features.rmpread ? 1 << 21 : 0);
      // EBX[5:0] C-bit position; EBX[11:6] physical-address reduction: 0, MAXPHYADDR above already
      // accounts for it; EBX[15:12] number of VMPLs supported (spec/rmp.md §1.1).
      const ebx = C_BIT_POSITION | (VMPL_COUNT << 12);
      return [eax >>> 0, ebx, 509 /* ECX: simultaneous encrypted guests */, 1 /* EDX: minimum SEV (non-ES) ASID */];
    }
    default:
      return [0, 0, 0, 0];
  }
}
