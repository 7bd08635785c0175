// The hand-drawn SVG charts (bench/chart/svg.ts), from fixed data.
import { describe, expect, it } from 'vitest';
import { barChart, escapeXml, formatSi, lineChart } from '../../bench/chart/svg.ts';

/** Every opened element is closed, in order: enough to catch broken markup without a parser. */
function tagsBalance(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing === '/') continue;
    if (closing === '/') {
      if (stack.pop() !== name) return false;
    } else stack.push(name!);
  }
  return stack.length === 0;
}

function bars(svg: string): { series: string; value: number; y: number; height: number }[] {
  return [...svg.matchAll(/<rect class="bar" data-series="([^"]*)" data-value="([^"]*)" x="[^"]*" y="([^"]*)" width="[^"]*" height="([^"]*)"/g)]
    .map((m) => ({ series: m[1]!, value: Number(m[2]), y: Number(m[3]), height: Number(m[4]) }));
}

const series = [{ name: 'snpemu', color: '#d62728' }, { name: 'qemu', color: '#1f77b4' }, { name: 'bochs', color: '#ff7f0e' }];

describe('barChart', () => {
  it('draws one bar per present value, n/a for a missing one, and the ratio labels', () => {
    const svg = barChart({
      title: 'Instructions <per> second', unit: 'instructions/s', scale: 'linear', series,
      groups: [
        { label: 'alu', values: [100, 400, 200], barLabels: ['1.0x', '4.0x', '2.0x'] },
        { label: 'call', values: [50, null, 25], barLabels: ['1.0x', null, '0.50x'] },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(tagsBalance(svg)).toBe(true);
    expect(bars(svg).map((b) => `${b.series}=${b.value}`)).toEqual(['snpemu=100', 'qemu=400', 'bochs=200', 'snpemu=50', 'bochs=25']);
    expect(svg.match(/class="missing"/g)).toHaveLength(1);
    expect([...svg.matchAll(/class="bar-label"[^>]*>([^<]*)</g)].map((m) => m[1])).toEqual(['1.0x', '4.0x', '2.0x', '1.0x', '0.50x']);
    expect(svg).toContain('<title>Instructions &lt;per&gt; second</title>');
    expect(svg.match(/class="legend-item"/g)).toHaveLength(3);
  });

  it('leaves a plain gap where the per-bar missing text is empty', () => {
    // Bar 0 missing with "n/a", bar 1 missing with "" (a gap), bar 2 present: one "n/a", one bar.
    const svg = barChart({ title: 't', unit: 'u', scale: 'linear', series, groups: [{ label: 'g', values: [null, null, 5], missingText: ['n/a', '', 'n/a'] }] });
    expect(svg.match(/class="missing"/g)).toHaveLength(1);
    expect(bars(svg).map((b) => b.series)).toEqual(['bochs']);
  });

  it('makes bar heights proportional to the values on a linear axis from zero', () => {
    const svg = barChart({ title: 't', unit: 'u', scale: 'linear', series: series.slice(0, 2), groups: [{ label: 'g', values: [100, 400] }] });
    const [a, b] = bars(svg);
    // The axis runs 0..400 (nice step 100), so 400 is four times as tall as 100.
    expect(b!.height / a!.height).toBeCloseTo(4, 2);
    // Bars stand on the same baseline.
    expect(a!.y + a!.height).toBeCloseTo(b!.y + b!.height, 2);
  });

  it('spaces decades equally on a log axis', () => {
    const svg = barChart({ title: 't', unit: 'u', scale: 'log', series, groups: [{ label: 'g', values: [1e6, 1e7, 1e8] }] });
    const [a, b, c] = bars(svg);
    // Axis 1e6..1e8: the 1e6 bar has zero height, 1e7 is half way, 1e8 full.
    expect(a!.height).toBeCloseTo(0, 5);
    expect(c!.height / b!.height).toBeCloseTo(2, 2);
    expect([...svg.matchAll(/class="y-tick">.*?<text[^>]*>([^<]*)</g)].map((m) => m[1])).toEqual(['1M', '10M', '100M']);
  });
});

describe('lineChart', () => {
  it('draws one polyline per series with a point per value, and the x tick labels', () => {
    const svg = lineChart({
      title: 'Cost growth', xLabel: 'working set', yLabel: 'translations/s', xScale: 'log', yScale: 'log',
      series: [
        { name: '4K', color: '#d62728', points: [{ x: 1, y: 2e8 }, { x: 2, y: 2e8 }, { x: 4, y: 7e6 }] },
        { name: '2M', color: '#1f77b4', dashed: true, points: [{ x: 1, y: 2.5e8 }, { x: 4, y: 8e6 }] },
      ],
      formatX: (x) => `${x} MiB`,
    });
    expect(tagsBalance(svg)).toBe(true);
    const lines = [...svg.matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1]!.split(' ').length);
    expect(lines).toEqual([3, 2]);
    expect(svg.match(/<circle /g)).toHaveLength(5);
    expect([...svg.matchAll(/class="x-tick">.*?<text[^>]*>([^<]*)</g)].map((m) => m[1])).toEqual(['1 MiB', '2 MiB', '4 MiB']);
    expect(svg).toContain('stroke-dasharray="6 4"');
  });
});

describe('formatting', () => {
  it('formats with SI suffixes at three significant digits', () => {
    expect([formatSi(0), formatSi(999), formatSi(1234), formatSi(1.5e6), formatSi(2.345e9), formatSi(0.5)])
      .toEqual(['0', '999', '1.23k', '1.5M', '2.35G', '500m']);
  });
  it('escapes the XML special characters', () => {
    expect(escapeXml('a<b & "c">')).toBe('a&lt;b &amp; &quot;c&quot;&gt;');
  });
});
