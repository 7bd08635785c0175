// bench/RESULTS.md (the generated part) and the SVG charts, from a results document.
//
// RESULTS.md is shared: other parts of the project append dated sections by hand. Only the text
// between GENERATED_START and GENERATED_END belongs to the generator; everything else is kept
// byte for byte. A file without the markers gets them, at the top.

import { barChart, formatSi, lineChart, type BarGroup, type Series } from '../chart/svg.ts';
import { PROGRAMS } from './programs.ts';
import type { BenchmarkRecord, Results } from './record.ts';

export const GENERATED_START = '<!-- generated:start -->';
export const GENERATED_END = '<!-- generated:end -->';

export const ENGINE_ORDER = ['snpemu', 'snpemu-nosnp', 'native', 'qemu', 'unicorn', 'bochs'] as const;
const ENGINE_COLORS: Record<string, string> = {
  snpemu: '#d62728', 'snpemu-nosnp': '#f2a0a1', native: '#7f7f7f', qemu: '#1f77b4', unicorn: '#2ca02c', bochs: '#ff7f0e',
};

/** Replace the generated part of `existing` (null: no file yet), keeping the rest as it is. */
export function spliceGenerated(existing: string | null, generated: string): string {
  const block = `${GENERATED_START}\n${generated.trimEnd()}\n${GENERATED_END}`;
  if (existing === null || existing === '') return `${block}\n`;
  const start = existing.indexOf(GENERATED_START);
  const end = existing.indexOf(GENERATED_END);
  if (start === -1 || end === -1 || end < start) {
    if (start !== -1 || end !== -1) {
      throw new Error(`bench/RESULTS.md has only one of the markers ${GENERATED_START} / ${GENERATED_END}, or they are out of order; fix the file by hand`);
    }
    return `${block}\n\n${existing}`;
  }
  return existing.slice(0, start) + block + existing.slice(end + GENERATED_END.length);
}

function byName(results: Results): Map<string, BenchmarkRecord> {
  return new Map(results.benchmarks.map((b) => [b.name, b]));
}

function programRecord(results: Map<string, BenchmarkRecord>, program: string, engine: string): BenchmarkRecord | undefined {
  return results.get(`program.${program}.${engine}`);
}

function ratioLabel(r: BenchmarkRecord | undefined): string | null {
  const ratio = r?.details?.ratioToSnpemu;
  return typeof ratio === 'number' ? `${ratio >= 10 ? ratio.toFixed(0) : ratio >= 1 ? ratio.toFixed(1) : ratio.toFixed(2)}x` : null;
}

function enginesPresent(results: Results): string[] {
  return ENGINE_ORDER.filter((e) => results.benchmarks.some((b) => b.details?.engine === e));
}

function programsPresent(results: Results): string[] {
  return PROGRAMS.map((p) => p.name).filter((p) => results.benchmarks.some((b) => b.details?.program === p));
}

function engineSeries(engines: readonly string[]): Series[] {
  return engines.map((e) => ({ name: e, color: ENGINE_COLORS[e] ?? '#000000' }));
}

/** Instructions/s per engine per program, with each bar's ratio to snpemu. */
export function programChart(results: Results): string | null {
  const engines = enginesPresent(results);
  const programs = programsPresent(results);
  if (engines.length === 0 || programs.length === 0) return null;
  const map = byName(results);
  return barChart({
    title: 'Whole programs: instructions per second by engine (label: ratio to snpemu)',
    unit: 'instructions/s',
    scale: 'log',
    series: engineSeries(engines),
    groups: programs.map((p) => {
      const records = engines.map((e) => programRecord(map, p, e));
      return {
        label: p,
        values: records.map((r) => (r?.status === 'ok' ? r.median! : null)),
        barLabels: records.map(ratioLabel),
        // An engine that does not run this program at all (snpemu-nosnp) leaves a plain gap.
        missingText: records.map((r) => (r === undefined ? '' : 'n/a')),
      };
    }),
    caption: `${results.quick ? 'quick run' : 'full run'}, ${results.date.slice(0, 10)}, ${results.machine.cpuModel}; n/a = not measured (see RESULTS.md)`,
  });
}

/**
 * Pages touched per second in the 64 MiB programs. With 4 KiB pages the 16384 pages do not fit
 * a TLB, so each touch is a page walk in an engine that walks (snpemu, unicorn, Bochs).
 */
export function walkChart(results: Results): string | null {
  const engines = enginesPresent(results);
  const map = byName(results);
  const programs = ['mem-4k', 'mem-2m'].filter((p) => engines.some((e) => programRecord(map, p, e) !== undefined));
  const walkGroups: BarGroup[] = programs.map((p) => {
    const records = engines.map((e) => programRecord(map, p, e));
    return {
      label: p,
      values: records.map((r) => (r?.status === 'ok' ? pagesPerSecond(r) : null)),
      barLabels: records.map(ratioLabel),
    };
  });
  // snpemu's own walk micro-benchmarks (TLB off), one bar each, under a short label.
  // (The MMU script's "read32" variants measure the same walks through read32; one set is enough.)
  const micro = results.benchmarks.filter((b) => b.status === 'ok' && b.unit === 'walks/s' && (b.group === 'mmu' || b.group === 'guest-walk') && !/read32/i.test(String(b.details?.label ?? b.name)));
  for (const m of micro) {
    walkGroups.push({
      label: shortWalkLabel(m),
      values: engines.map((e) => (e === 'snpemu' ? m.median! : null)),
      barLabels: engines.map(() => null),
      missingText: '',
    });
  }
  if (walkGroups.length === 0) return null;
  return barChart({
    title: 'Page walks: 4 KiB pages touched per second (64 MiB programs) and snpemu walk micro-benchmarks',
    unit: 'pages (walks)/s',
    scale: 'log',
    width: Math.max(960, 110 * walkGroups.length),
    series: engineSeries(engines),
    groups: walkGroups,
    caption: 'mem-4k: 16384 pages per pass (beyond any TLB); mem-2m: the same addresses on 32 pages; walk ...: snpemu MMU, TLB off (2D: nested, guest mode)',
  });
}

/** "walk 4K, TLB off, SNP on (passing checks)" -> "walk 4K SNP": the chart has little room. */
function shortWalkLabel(r: BenchmarkRecord): string {
  const label = typeof r.details?.label === 'string' ? r.details.label : r.name;
  const size = /\b(4K|2M|1G)\b/i.exec(label)?.[1]?.toUpperCase() ?? '';
  const snp = /SNP on/i.test(label) ? ' SNP' : '';
  const dimension = /\b2D\b/i.test(label) ? '2D ' : /\b1D\b/i.test(label) ? '1D ' : '';
  return size === '' ? label.slice(0, 14) : `${dimension}walk ${size}${snp}`;
}

/** mem programs: one page touched per 4 instructions of the inner loop (bench/programs/mem.s). */
function pagesPerSecond(r: BenchmarkRecord): number {
  const iterations = r.details?.iterations as number;
  const loopMs = r.details?.loopMs as number;
  return (iterations * 16384) / (loopMs / 1000);
}

export function costGrowthChart(results: Results): string | null {
  const records = results.benchmarks.filter((b) => b.group === 'cost-growth' && b.status === 'ok');
  if (records.length === 0) return null;
  const pageSizes = [...new Set(records.map((r) => String(r.details?.pageSize)))];
  const colors = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd'];
  const series = pageSizes.map((size, i) => ({
    name: `translations/s, ${size} pages`,
    color: colors[i % colors.length],
    points: records.filter((r) => String(r.details?.pageSize) === size)
      .map((r) => ({ x: r.details?.workingSetBytes as number, y: r.median! }))
      .sort((a, b) => a.x - b.x),
  }));
  return lineChart({
    title: 'Cost growth: snpemu translations per second as the working set grows (TLB on)',
    xLabel: 'working set (one access per 4 KiB, repeated)',
    yLabel: 'translations/s',
    xScale: 'log',
    yScale: 'log',
    series,
    formatX: formatBytes,
    caption: 'where a line falls, the TLB has stopped holding the working set: each access misses (the table says whether a miss walks)',
  });
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${Number((bytes / 2 ** 30).toPrecision(3))} GiB`;
  if (bytes >= 2 ** 20) return `${Number((bytes / 2 ** 20).toPrecision(3))} MiB`;
  if (bytes >= 2 ** 10) return `${Number((bytes / 2 ** 10).toPrecision(3))} KiB`;
  return `${bytes} B`;
}

function cell(r: BenchmarkRecord | undefined): string {
  if (r === undefined) return '–';
  if (r.status !== 'ok') return r.status === 'waiting' ? 'waiting' : 'n/a';
  const ratio = ratioLabel(r);
  return `${formatSi(r.median!)}${ratio === null ? '' : ` (${ratio})`}`;
}

function spreadText(r: BenchmarkRecord): string {
  if (r.spread === undefined) return '';
  return `${formatSi(r.spread.low)}–${formatSi(r.spread.high)} (${r.spread.kind === 'iqr' ? 'IQR' : 'min–max'})`;
}

export interface ChartFiles {
  programs?: string;
  walks?: string;
  costGrowth?: string;
}

export function renderGenerated(results: Results, charts: ChartFiles): string {
  const m = results.machine;
  const out: string[] = [];
  out.push('## Generated figures');
  out.push('');
  out.push(`Written by \`npm run bench${results.quick ? ' -- --quick' : ''}\` on ${results.date}. Do not edit between the markers: the next run rewrites it. ` +
    'How to read the figures: [docs/benchmarks.md](../docs/benchmarks.md).');
  out.push('');
  out.push(`Machine: ${m.cpuModel}, ${m.cores} cores, ${formatBytes(m.memoryBytes)} RAM, ${m.os}, Node ${m.node}. ` +
    `${results.quick ? 'Quick mode: short loops and few turns, so the figures are rough.' : 'Full mode.'}`);
  out.push('');

  const engines = enginesPresent(results);
  const programs = programsPresent(results);
  const map = byName(results);
  if (programs.length > 0) {
    out.push('### Whole programs');
    out.push('');
    out.push('Instructions per second of the loop (median over turns), and in brackets the ratio to snpemu ' +
      '(above 1: faster than snpemu). Each engine ran the same static ELF (Bochs: the same loop object in a long-mode boot image).');
    out.push('');
    if (charts.programs) out.push(`![instructions per second by engine](${charts.programs})`, '');
    out.push(`| program | ${engines.join(' | ')} |`);
    out.push(`|---|${engines.map(() => '---:').join('|')}|`);
    for (const p of programs) out.push(`| ${p} | ${engines.map((e) => cell(programRecord(map, p, e))).join(' | ')} |`);
    out.push('');
    out.push('| program | what the loop does | instructions counted per iteration |');
    out.push('|---|---|---|');
    for (const spec of PROGRAMS.filter((s) => programs.includes(s.name))) {
      out.push(`| ${spec.name} | ${spec.description} | ${spec.instructionsPerIteration} per ${spec.iterationMeans} |`);
    }
    out.push('');
    const details: string[] = [];
    for (const p of programs) {
      for (const e of engines) {
        const r = programRecord(map, p, e);
        if (r === undefined) continue;
        if (r.status === 'ok') {
          const d = r.details ?? {};
          const extra = typeof d.bytesPerSecond === 'number' ? `, ${formatSi(d.bytesPerSecond)}B/s written` : '';
          details.push(`- ${p} / ${e}: ${formatSi(r.median!)} instructions/s, spread ${spreadText(r)}, ${r.samples} turns; ` +
            `wall ${d.wallMs} ms, of which start-up ${d.startupMs} ms (zero-iteration build)${extra}${r.note ? `; ${r.note}` : ''}` +
            `${typeof d.hugePages === 'string' ? `; 2 MiB pages: ${d.hugePages}` : ''}`);
        } else {
          details.push(`- ${p} / ${e}: **${r.status}**: ${r.note ?? ''}`);
        }
      }
    }
    const snp = programs.map((p) => programRecord(map, p, 'snpemu-nosnp')).filter((r) => typeof r?.details?.snpOverheadPercent === 'number');
    if (snp.length > 0) {
      const effect = (r: BenchmarkRecord): string => {
        const pct = r.details!.snpOverheadPercent as number;
        const ns = r.details!.extraNsPerPageTouchWithSnp as number;
        return `${r.details!.program}: the loop takes ${pct >= 0 ? `${pct}% longer` : `${-pct}% less time (within noise)`} with SNP on, ${ns >= 0 ? `${ns} ns more` : `${-ns} ns less`} per page touched`;
      };
      out.push(`RMP checks' cost (snpemu with SNP on against \`--no-snp\`, same run): ${snp.map((r) => effect(r!)).join('; ')}.`, '');
    }
    out.push('<details><summary>Per-run details, and why a figure is missing</summary>', '', ...details, '', '</details>', '');
    if (charts.walks) out.push(`![pages touched per second](${charts.walks})`, '');
  }

  const micro = results.benchmarks.filter((b) => b.group !== 'program' && b.group !== 'cost-growth');
  if (micro.length > 0) {
    out.push('### Micro-benchmarks');
    out.push('');
    out.push('| benchmark | median | spread | samples | note |');
    out.push('|---|---:|---|---:|---|');
    for (const r of micro) {
      const median = r.status === 'ok' ? `${formatSi(r.median!)} ${r.unit}` : r.status;
      out.push(`| ${r.name} | ${median} | ${r.status === 'ok' ? spreadText(r) : ''} | ${r.samples ?? ''} | ${(r.note ?? '').replace(/\|/g, '/')} |`);
    }
    out.push('');
  }

  const growth = results.benchmarks.filter((b) => b.group === 'cost-growth');
  if (growth.length > 0) {
    out.push('### Cost growth');
    out.push('');
    if (charts.costGrowth) out.push(`![translations per second as the working set grows](${charts.costGrowth})`, '');
    const ok = growth.filter((g) => g.status === 'ok');
    if (ok.length > 0) {
      out.push('| working set | page size | translations/s | walks per access | TLB-off walks/s |');
      out.push('|---:|---|---:|---:|---:|');
      for (const r of ok) {
        const d = r.details ?? {};
        out.push(`| ${formatBytes(d.workingSetBytes as number)} | ${d.pageSize} | ${formatSi(r.median!)} | ${typeof d.walksPerAccess === 'number' ? d.walksPerAccess.toFixed(3) : ''} | ${typeof d.tlbOffWalksPerSecond === 'number' ? formatSi(d.tlbOffWalksPerSecond) : ''} |`);
      }
      out.push('');
    }
    for (const r of growth.filter((g) => g.status !== 'ok')) out.push(`- ${r.name}: **${r.status}**: ${r.note ?? ''}`);
    if (ok.length !== growth.length) out.push('');
  }
  return out.join('\n');
}
