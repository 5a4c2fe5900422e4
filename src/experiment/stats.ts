/**
 * Order statistics over seeds: the median and the quartiles that the summary
 * and the loss chart's interquartile band report.
 *
 * @example
 * ```ts
 * import { quantile, spread, spreadAtEach } from "./stats.ts";
 * quantile([1, 2, 3, 4], 0.5); // 2.5
 * spread([5, 1, 3]); // { n: 3, min: 1, q1: 2, median: 3, q3: 4, max: 5 }
 * spreadAtEach([[1, 2], [3]]).map((s) => s.median); // [2, 2]
 * ```
 * @module
 */

/** The five-number summary of a sample. */
export interface Spread {
  /** How many values. */
  n: number;
  /** Smallest value. */
  min: number;
  /** First quartile. */
  q1: number;
  /** Median. */
  median: number;
  /** Third quartile. */
  q3: number;
  /** Largest value. */
  max: number;
}

/**
 * The `p`-quantile of `values` with linear interpolation between order
 * statistics (numpy's and R's default, type 7): the median of an even count is
 * the mean of the middle two. NaN for no values.
 */
export function quantile(values: readonly number[], p: number): number {
  return quantiles(values, [p])[0];
}

/** {@link quantile} for each of `ps`, sorting `values` once. */
export function quantiles(values: readonly number[], ps: readonly number[]): number[] {
  if (values.length === 0) return ps.map(() => NaN);
  const sorted = [...values].sort((a, b) => a - b);
  return ps.map((p) => {
    const at = (sorted.length - 1) * p;
    const lo = Math.floor(at), hi = Math.ceil(at);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
  });
}

/**
 * The spread of the i-th values of every series that has one, for each i up to
 * the longest series: per-epoch statistics over runs that may have stopped early.
 */
export function spreadAtEach(series: readonly (readonly number[])[]): Spread[] {
  const length = Math.max(0, ...series.map((s) => s.length));
  return Array.from({ length }, (_, i) => spread(series.filter((s) => s.length > i).map((s) => s[i])));
}

/** Minimum, quartiles, median and maximum of `values` (NaNs for none). */
export function spread(values: readonly number[]): Spread {
  return {
    n: values.length,
    min: values.length ? Math.min(...values) : NaN,
    q1: quantile(values, 0.25),
    median: quantile(values, 0.5),
    q3: quantile(values, 0.75),
    max: values.length ? Math.max(...values) : NaN,
  };
}
