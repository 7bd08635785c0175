// Hand-drawn SVG charts for the benchmark report: grouped bars and lines, no browser needed.
//
// Two chart kinds, both plain SVG 1.1 text that any viewer (and GitHub's Markdown) renders:
//   barChart  - groups of bars (one group per benchmark, one bar per engine), with a label above
//               each bar (the ratio to snpemu) and a legend;
//   lineChart - lines over a numeric x axis (working-set size), for the cost-growth plot.
// Values that span orders of magnitude (an interpreter next to a JIT next to the host CPU) need a
// logarithmic axis, so both charts take 'log' or 'linear' per axis.
// Output is deterministic (fixed number formatting, no randomness), so tests can check it.

export interface Series {
  name: string;
  /** Any SVG colour. */
  color: string;
  /** Lines only: draw dashed. */
  dashed?: boolean;
}

export interface BarGroup {
  label: string;
  /** One value per series, in series order; null draws "n/a". */
  values: readonly (number | null)[];
  /** Optional text above each bar, e.g. "0.42x". */
  barLabels?: readonly (string | null)[];
  /** Text drawn where a value is null (default "n/a"; "" draws nothing), for all bars or per bar. */
  missingText?: string | readonly string[];
}

export type Scale = 'linear' | 'log';

export interface BarChartSpec {
  title: string;
  /** Axis title, e.g. "instructions/s". */
  unit: string;
  series: readonly Series[];
  groups: readonly BarGroup[];
  scale: Scale;
  caption?: string;
  width?: number;
  height?: number;
}

export interface LinePoint {
  x: number;
  y: number;
}

export interface LineSeries extends Series {
  points: readonly LinePoint[];
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xScale: Scale;
  yScale: Scale;
  series: readonly LineSeries[];
  /** Label for an x tick; defaults to the SI format. */
  formatX?: (x: number) => string;
  /** Ticks on the x axis; defaults to the points' x values. */
  xTicks?: readonly number[];
  caption?: string;
  width?: number;
  height?: number;
}

const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';
const MARGIN = { top: 70, right: 24, bottom: 78, left: 84 };

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1234567 -> "1.23M": three significant digits with an SI suffix. */
export function formatSi(value: number): string {
  if (value === 0) return '0';
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k'], [1, ''], [1e-3, 'm']];
  const abs = Math.abs(value);
  const [scale, suffix] = units.find(([s]) => abs >= s) ?? units[units.length - 1];
  return `${Number((value / scale).toPrecision(3))}${suffix}`;
}

function fixed(n: number): string {
  return Number(n.toFixed(2)).toString();
}

/** Maps data values onto a pixel range, with the tick values to draw. */
interface Axis {
  toPixel(value: number): number;
  ticks: number[];
}

function niceStep(range: number, targetTicks: number): number {
  const raw = range / targetTicks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const residual = raw / magnitude;
  const nice = residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10;
  return nice * magnitude;
}

/**
 * `zeroBased`: a linear axis starts at 0. `tight`: a log axis spans exactly the data (for an x
 * axis of sizes in powers of two, which decade ticks would pad out); otherwise whole decades.
 */
function makeAxis(values: readonly number[], scale: Scale, pixelFrom: number, pixelTo: number, zeroBased: boolean, tight = false): Axis {
  const positive = values.filter((v) => Number.isFinite(v) && (scale === 'linear' || v > 0));
  if (scale === 'log' && tight && positive.length > 0) {
    const lo = Math.log10(Math.min(...positive));
    const hi = Math.max(Math.log10(Math.max(...positive)), lo + 1e-9);
    return { toPixel: (v) => pixelFrom + ((Math.log10(v) - lo) / (hi - lo)) * (pixelTo - pixelFrom), ticks: [] };
  }
  if (scale === 'log') {
    const lo = positive.length === 0 ? 1 : Math.min(...positive);
    const hi = positive.length === 0 ? 10 : Math.max(...positive);
    const decadeLo = Math.floor(Math.log10(lo));
    let decadeHi = Math.ceil(Math.log10(hi));
    if (decadeHi === decadeLo) decadeHi += 1;
    const ticks: number[] = [];
    for (let d = decadeLo; d <= decadeHi; d++) ticks.push(10 ** d);
    const span = decadeHi - decadeLo;
    return {
      toPixel: (v) => pixelFrom + ((Math.log10(v) - decadeLo) / span) * (pixelTo - pixelFrom),
      ticks,
    };
  }
  let lo = positive.length === 0 ? 0 : Math.min(...positive);
  let hi = positive.length === 0 ? 1 : Math.max(...positive);
  if (zeroBased) lo = Math.min(0, lo);
  if (hi === lo) hi = lo + 1;
  const step = niceStep(hi - lo, 5);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { toPixel: (v) => pixelFrom + ((v - lo) / (hi - lo)) * (pixelTo - pixelFrom), ticks };
}

function header(width: number, height: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  ];
}

function legend(series: readonly Series[], width: number, y: number): string[] {
  const itemWidth = Math.min(170, (width - MARGIN.left - MARGIN.right) / Math.max(1, series.length));
  const start = MARGIN.left + ((width - MARGIN.left - MARGIN.right) - itemWidth * series.length) / 2;
  return series.map((s, i) => {
    const x = start + i * itemWidth;
    const swatch = s.dashed
      ? `<line x1="${fixed(x)}" y1="${y - 4}" x2="${fixed(x + 14)}" y2="${y - 4}" stroke="${s.color}" stroke-width="3" stroke-dasharray="4 3"/>`
      : `<rect x="${fixed(x)}" y="${y - 11}" width="14" height="14" fill="${s.color}"/>`;
    return `<g class="legend-item">${swatch}<text x="${fixed(x + 20)}" y="${y}">${escapeXml(s.name)}</text></g>`;
  });
}

function yAxis(axis: Axis, scale: Scale, left: number, right: number, title: string, plotTop: number, plotBottom: number): string[] {
  const out = axis.ticks.map((t) => {
    const y = fixed(axis.toPixel(t));
    return `<g class="y-tick"><line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#dddddd"/>` +
      `<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatSi(t))}</text></g>`;
  });
  const mid = fixed((plotTop + plotBottom) / 2);
  out.push(`<text x="18" y="${mid}" text-anchor="middle" transform="rotate(-90 18 ${mid})">${escapeXml(title)}${scale === 'log' ? ' (log scale)' : ''}</text>`);
  out.push(`<line x1="${left}" y1="${plotTop}" x2="${left}" y2="${plotBottom}" stroke="#333333"/>`);
  out.push(`<line x1="${left}" y1="${plotBottom}" x2="${right}" y2="${plotBottom}" stroke="#333333"/>`);
  return out;
}

/** The chart's size (960 x 460 unless the spec says) and the plot area inside the margins. */
function plotFrame(spec: { width?: number; height?: number }) {
  const width = spec.width ?? 960;
  const height = spec.height ?? 460;
  return { width, height, plotTop: MARGIN.top, plotBottom: height - MARGIN.bottom, plotLeft: MARGIN.left, plotRight: width - MARGIN.right };
}

/** The caption under the chart (if any), the closing tag, and the whole document as text. */
function finish(out: string[], caption: string | undefined, width: number, height: number): string {
  if (caption !== undefined) {
    out.push(`<text x="${width / 2}" y="${height - 8}" text-anchor="middle" font-size="11" fill="#555555">${escapeXml(caption)}</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export function barChart(spec: BarChartSpec): string {
  const { width, height, plotTop, plotBottom, plotLeft, plotRight } = plotFrame(spec);
  const all = spec.groups.flatMap((g) => g.values.filter((v): v is number => v !== null));
  // Bars grow from the axis floor: zero on a linear axis, the lowest decade on a log axis.
  const axis = makeAxis(all, spec.scale, plotBottom, plotTop + 14, true);
  const floor = spec.scale === 'log' ? axis.ticks[0] : Math.max(0, axis.ticks[0]);

  const out = header(width, height, spec.title);
  out.push(...legend(spec.series, width, 50));
  out.push(...yAxis(axis, spec.scale, plotLeft, plotRight, spec.unit, plotTop, plotBottom));

  const groupWidth = (plotRight - plotLeft) / Math.max(1, spec.groups.length);
  const barWidth = Math.min(36, (groupWidth * 0.8) / Math.max(1, spec.series.length));
  spec.groups.forEach((g, gi) => {
    const groupLeft = plotLeft + gi * groupWidth + (groupWidth - barWidth * spec.series.length) / 2;
    out.push(`<g class="group" data-label="${escapeXml(g.label)}">`);
    spec.series.forEach((s, si) => {
      const value = g.values[si] ?? null;
      const x = groupLeft + si * barWidth;
      const cx = fixed(x + barWidth / 2);
      if (value === null || !(value > 0 || spec.scale === 'linear')) {
        const text = (typeof g.missingText === 'string' ? g.missingText : g.missingText?.[si]) ?? 'n/a';
        // Written upwards, so neighbouring gaps in narrow bars do not run into each other.
        if (text !== '') out.push(`<text class="missing" x="${cx}" y="${plotBottom - 4}" transform="rotate(-90 ${cx} ${plotBottom - 4})" dominant-baseline="middle" font-size="9" fill="#888888">${escapeXml(text)}</text>`);
        return;
      }
      const top = axis.toPixel(Math.max(value, floor));
      const base = axis.toPixel(floor);
      out.push(`<rect class="bar" data-series="${escapeXml(s.name)}" data-value="${value}" x="${fixed(x + 1)}" y="${fixed(top)}" width="${fixed(barWidth - 2)}" height="${fixed(base - top)}" fill="${s.color}"><title>${escapeXml(`${g.label}, ${s.name}: ${formatSi(value)} ${spec.unit}`)}</title></rect>`);
      const label = g.barLabels?.[si];
      if (label) out.push(`<text class="bar-label" x="${cx}" y="${fixed(top - 4)}" text-anchor="middle" font-size="9">${escapeXml(label)}</text>`);
    });
    out.push(`<text class="group-label" x="${fixed(plotLeft + (gi + 0.5) * groupWidth)}" y="${plotBottom + 18}" text-anchor="middle">${escapeXml(g.label)}</text>`);
    out.push('</g>');
  });
  return finish(out, spec.caption, width, height);
}

export function lineChart(spec: LineChartSpec): string {
  const { width, height, plotTop, plotBottom, plotLeft, plotRight } = plotFrame(spec);
  const xs = spec.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = spec.series.flatMap((s) => s.points.map((p) => p.y));
  const xAxis = makeAxis(xs, spec.xScale, plotLeft + 30, plotRight - 30, false, true);
  const yAxisScale = makeAxis(ys, spec.yScale, plotBottom, plotTop + 10, spec.yScale === 'linear');
  const formatX = spec.formatX ?? formatSi;
  const xTicks = spec.xTicks ?? [...new Set(xs)].sort((a, b) => a - b);

  const out = header(width, height, spec.title);
  out.push(...legend(spec.series, width, 50));
  out.push(...yAxis(yAxisScale, spec.yScale, plotLeft, plotRight, spec.yLabel, plotTop, plotBottom));
  for (const t of xTicks) {
    const x = fixed(xAxis.toPixel(t));
    out.push(`<g class="x-tick"><line x1="${x}" y1="${plotBottom}" x2="${x}" y2="${plotBottom + 5}" stroke="#333333"/>` +
      `<text x="${x}" y="${plotBottom + 18}" text-anchor="middle">${escapeXml(formatX(t))}</text></g>`);
  }
  out.push(`<text x="${fixed((plotLeft + plotRight) / 2)}" y="${plotBottom + 40}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  for (const s of spec.series) {
    const points = s.points.filter((p) => spec.yScale === 'linear' || p.y > 0).map((p) => `${fixed(xAxis.toPixel(p.x))},${fixed(yAxisScale.toPixel(p.y))}`);
    if (points.length === 0) continue;
    out.push(`<g class="series" data-series="${escapeXml(s.name)}">`);
    out.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const p of points) {
      const [cx, cy] = p.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="3.5" fill="${s.color}"/>`);
    }
    out.push('</g>');
  }
  return finish(out, spec.caption, width, height);
}
