/**
 * The notebook's data: y = x² + N(0, 1) on an even grid of x in [−5, 5];
 * and `gather_rows`, the wrapper of `kernels/data.ts` that assembles a
 * shuffled mini-batch inside the shared memory.
 *
 * @example
 * ```ts
 * import { notebookData } from "./data.ts";
 * const { train, test } = notebookData(0);
 * train.x.length; // 1000
 * test.x.length;  // 100
 * ```
 * @module
 */
import * as k from "../kernels/build/data.wasm";
import type { Tensor } from "./arena.ts";
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
export function squaresWithNoise(n: number, rng: Random): Samples {
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

/**
 * dst[r, :] = src[index[from + r], :] for every row r of `dst`: a mini-batch
 * gathered in wasm, with no per-element JavaScript.
 */
export function gather_rows(dst: Tensor, src: Tensor, index: Tensor, from: number): void {
  const [n, cols] = dst.shape;
  if (src.shape[1] !== cols || src.dtype !== "f32" || dst.dtype !== "f32") {
    throw new RangeError(`gather_rows: rows of ${cols} f32 expected, got [${src.shape}] ${src.dtype}`);
  }
  if (index.dtype !== "u32" || from < 0 || from + n > index.size) {
    throw new RangeError(`gather_rows: rows ${from}..${from + n} of a ${index.size}-entry ${index.dtype} index`);
  }
  k.gather_rows(dst.ptr, src.ptr, index.ptr, from, n, cols);
}

/** How many elements of the f32 tensor `t` are NaN or ±∞. */
export function count_nonfinite(t: Tensor): number {
  if (t.dtype !== "f32") throw new TypeError(`count_nonfinite: expected f32, got ${t.dtype}`);
  return k.count_nonfinite(t.ptr, t.size);
}

/** Σ t² over the f32 tensor `t`, summed in f64: the squared L2 norm. */
export function sum_squares(t: Tensor): number {
  if (t.dtype !== "f32") throw new TypeError(`sum_squares: expected f32, got ${t.dtype}`);
  return k.sum_squares(t.ptr, t.size);
}
