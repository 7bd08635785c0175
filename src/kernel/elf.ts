// Static ELF64 parsing for the emulated execve (fs/binfmt_elf.c load_elf_binary). Only what a
// static x86-64 executable needs: the file header, the program headers, PT_LOAD segments,
// PT_GNU_STACK and PT_PHDR. Every malformed or unsupported file is rejected with an ElfError whose
// message names the problem (System V gABI "ELF Header" and "Program Header"; the x86-64 psABI).

export class ElfError extends Error {
  override name = 'ElfError';
}

export const ET_EXEC = 2;
export const ET_DYN = 3;
const EM_X86_64 = 62;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const PT_PHDR = 6;
const PT_GNU_STACK = 0x6474e551;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const PAGE = 4096;
/** Highest user address + 1 (TASK_SIZE_MAX with 4-level paging). */
const USER_END = 0x7ffffffff000;

export interface ElfSegment {
  vaddr: number;
  memsz: number;
  filesz: number;
  offset: number;
  flags: number;
}

export interface ElfImage {
  type: 'exec' | 'pie';
  entry: number;
  phoff: number;
  phnum: number;
  phentsize: number;
  segments: ElfSegment[];
  /** p_vaddr of PT_PHDR, if the file has one. */
  phdrVaddr?: number;
  /** PT_GNU_STACK asks for an executable stack. */
  execStack: boolean;
  /** The highest end of a PT_LOAD (unbiased), where brk starts (page-aligned up). */
  end: number;
}

function u64(view: DataView, off: number, what: string): number {
  const v = view.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`${what} (0x${v.toString(16)}) is too large`);
  return Number(v);
}

/** Parse and validate a static ELF64 x86-64 executable. */
export function parseElf(bytes: Uint8Array): ElfImage {
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError('not an ELF file: the first four bytes are not 7f 45 4c 46 ("\\x7fELF")');
  }
  if (bytes.length < EHDR_SIZE) throw new ElfError(`truncated ELF header: the file has ${bytes.length} bytes, the header needs 64`);
  if (bytes[4] !== 2) throw new ElfError(`unsupported ELF class ${bytes[4]}: only ELFCLASS64 (2) is supported`);
  if (bytes[5] !== 1) throw new ElfError(`unsupported data encoding ${bytes[5]}: only little-endian ELFDATA2LSB (1) is supported`);
  if (bytes[6] !== 1) throw new ElfError(`unsupported ELF identification version ${bytes[6]} (expected EV_CURRENT = 1)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(16, true);
  const machine = view.getUint16(18, true);
  if (machine !== EM_X86_64) throw new ElfError(`unsupported machine ${machine}: only EM_X86_64 (62) is supported`);
  if (view.getUint32(20, true) !== 1) throw new ElfError(`unsupported ELF version ${view.getUint32(20, true)} (expected 1)`);
  if (type !== ET_EXEC && type !== ET_DYN) {
    const names: Record<number, string> = { 0: 'ET_NONE', 1: 'ET_REL (an object file, not linked)', 4: 'ET_CORE (a core dump)' };
    throw new ElfError(`unsupported ELF type ${names[type] ?? type}: only ET_EXEC and static-PIE ET_DYN executables run`);
  }
  const entry = u64(view, 24, 'e_entry');
  const phoff = u64(view, 32, 'e_phoff');
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  if (phnum === 0) throw new ElfError('the file has no program headers (e_phnum = 0), so there is nothing to load');
  if (phentsize !== PHDR_SIZE) throw new ElfError(`e_phentsize is ${phentsize}, expected 56 for ELF64`);
  if (phoff + phnum * PHDR_SIZE > bytes.length) {
    throw new ElfError(`the program headers (offset 0x${phoff.toString(16)}, ${phnum} × 56 bytes) run past the end of the file (${bytes.length} bytes)`);
  }
  const segments: ElfSegment[] = [];
  let phdrVaddr: number | undefined;
  let execStack = false;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * PHDR_SIZE;
    const pType = view.getUint32(at, true);
    const flags = view.getUint32(at + 4, true);
    const what = `program header ${i}`;
    const offset = u64(view, at + 8, `${what} p_offset`);
    const vaddr = u64(view, at + 16, `${what} p_vaddr`);
    const filesz = u64(view, at + 32, `${what} p_filesz`);
    const memsz = u64(view, at + 40, `${what} p_memsz`);
    if (pType === PT_INTERP) {
      throw new ElfError('the program is dynamically linked (it has PT_INTERP); only static executables run: link with -static');
    }
    if (pType === PT_DYNAMIC && type === ET_EXEC) {
      throw new ElfError('the program has a PT_DYNAMIC segment: dynamic linking is not supported, link with -static');
    }
    if (pType === PT_PHDR) phdrVaddr = vaddr;
    if (pType === PT_GNU_STACK) execStack = (flags & PF_X) !== 0;
    if (pType !== PT_LOAD) continue;
    if (filesz > memsz) throw new ElfError(`${what}: p_filesz (0x${filesz.toString(16)}) is larger than p_memsz (0x${memsz.toString(16)})`);
    if (offset + filesz > bytes.length) {
      throw new ElfError(`${what}: its file bytes (offset 0x${offset.toString(16)}, 0x${filesz.toString(16)} bytes) run past the end of the file (${bytes.length} bytes)`);
    }
    if (vaddr % PAGE !== offset % PAGE) {
      throw new ElfError(`${what}: p_vaddr 0x${vaddr.toString(16)} and p_offset 0x${offset.toString(16)} are not congruent modulo the page size`);
    }
    if (memsz === 0) continue;
    if (vaddr + memsz > USER_END) throw new ElfError(`${what}: it ends at 0x${(vaddr + memsz).toString(16)}, above the user address space`);
    segments.push({ vaddr, memsz, filesz, offset, flags });
  }
  if (segments.length === 0) throw new ElfError('the file has no PT_LOAD segment to map');
  const sorted = [...segments].sort((a, b) => a.vaddr - b.vaddr);
  for (let i = 1; i < sorted.length; i++) {
    const prevEnd = Math.ceil((sorted[i - 1]!.vaddr + sorted[i - 1]!.memsz) / PAGE) * PAGE;
    if (Math.floor(sorted[i]!.vaddr / PAGE) * PAGE < prevEnd) {
      throw new ElfError(`PT_LOAD segments at 0x${sorted[i - 1]!.vaddr.toString(16)} and 0x${sorted[i]!.vaddr.toString(16)} share a page: overlapping segments are not supported`);
    }
  }
  const end = Math.max(...segments.map((s) => s.vaddr + s.memsz));
  const inSegment = segments.some((s) => (s.flags & PF_X) !== 0 && entry >= s.vaddr && entry < s.vaddr + s.memsz);
  if (!inSegment) throw new ElfError(`the entry point 0x${entry.toString(16)} is not inside an executable PT_LOAD segment`);
  return { type: type === ET_EXEC ? 'exec' : 'pie', entry, phoff, phnum, phentsize, segments, phdrVaddr, execStack, end };
}
