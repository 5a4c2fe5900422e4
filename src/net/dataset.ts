/**
 * The notebook's data: y = x² + N(0, 1) on an even grid of x in [−5, 5],
 * 1000 training and 100 test points, the noise drawn from the seed.
 *
 * @example
 * ```ts
 * import { notebookData } from "./dataset.ts";
 * const { train, test } = notebookData(0);
 * train.x.length; // 1000
 * test.x.length;  // 100
 * ```
 * @module
 */
import { Random } from "./random.ts";

/** Inputs and targets as f32, one sample per element. */
export interface Samples {
  /** Inputs, one per sample. */
  x: Float32Array;
  /** Targets, one per sample. */
  y: Float32Array;
}

/** `n` evenly spaced values from `lo` to `hi` inclusive, as `torch.linspace` spaces them. */
export function linspace(lo: number, hi: number, n: number): Float64Array {
  const out = new Float64Array(n);
  const step = n > 1 ? (hi - lo) / (n - 1) : 0;
  // PyTorch fills the first half from lo and the second from hi, so both ends are exact.
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? lo + step * i : hi - step * (n - 1 - i);
  return out;
}

/** y = x² + ε, ε ~ N(0, 1) drawn from `rng`, on linspace(−5, 5, n). */
function squaresWithNoise(n: number, rng: Random): Samples {
  const x = new Float32Array(linspace(-5, 5, n));
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = x[i] * x[i] + rng.normal();
  return { x, y };
}

/** The notebook's number of training points. */
export const TRAIN_SIZE = 1000;
/** The notebook's number of test points. */
export const TEST_SIZE = 100;

/** The notebook's training and test points for `seed` (train noise first, then test). */
export function notebookData(
  seed: number,
  trainSize = TRAIN_SIZE,
  testSize = TEST_SIZE,
): { train: Samples; test: Samples } {
  const rng = new Random(seed, "data");
  const train = squaresWithNoise(trainSize, rng);
  return { train, test: squaresWithNoise(testSize, rng) };
}
