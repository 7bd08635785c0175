// Summary statistics for benchmark samples: the median and the spread around it.
//
// The median rather than the mean, because a shared 2-core machine produces occasional slow
// outliers (another process, a GC pause) that would drag a mean; the interquartile range
// (Q1..Q3) as the spread for the same reason, with min and max kept for the curious.

export interface Summary {
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
  samples: number;
}

/** The q-quantile (0..1) of sorted values, interpolating linearly between neighbours. */
export function quantileOfSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty sample');
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: quantileOfSorted(sorted, 0.5),
    q1: quantileOfSorted(sorted, 0.25),
    q3: quantileOfSorted(sorted, 0.75),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    samples: sorted.length,
  };
}
