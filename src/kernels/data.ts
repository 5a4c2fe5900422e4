/**
 * Typed wrappers of `kernels/data.ts`: `gather_rows`, which assembles a
 * shuffled mini-batch inside the shared memory, and the whole-tensor scans
 * the training loop and the diagnostics use (non-finite count, sum of squares,
 * histogram, transposition).
 *
 * @example
 * ```ts
 * import { arena } from "./arena.ts";
 * import { gather_rows } from "./data.ts";
 * const src = arena.f32([3, 1]).set([10, 20, 30]);
 * const index = arena.u32([3]).set([2, 0, 1]);
 * const dst = arena.f32([2, 1]);
 * gather_rows(dst, src, index, 0); // dst = [30, 10]
 * ```
 * @module
 */
import * as k from "bnlab-kernels/data.wasm";
import { arena, type Tensor } from "./arena.ts";

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

/**
 * Shuffles the u32 tensor `t` in place with the xoshiro128** generator whose
 * state is the u32 tensor `state` ([4], advanced in place): the draws and the
 * permutation of `Random.shuffle` (src/net/random.ts), which calls this.
 */
export function shuffle_u32(t: Tensor, state: Tensor): void {
  if (t.dtype !== "u32" || state.dtype !== "u32" || state.size !== 4) {
    throw new TypeError(
      `shuffle_u32: a u32 tensor and a u32 [4] state, got ${t.dtype} and ${state.dtype} [${state.shape}]`,
    );
  }
  k.shuffle_u32(t.ptr, t.size, state.ptr);
}

/**
 * dst[c, r] = src[r, c] for the first `cols` columns of `src` ([rows, stride]
 * with rows × cols = dst's size): e.g. the fused kernels' feature-major
 * activations, [features, stride], back to row-major [rows, features].
 */
export function transpose(dst: Tensor, src: Tensor, cols: number): void {
  const [rows, stride] = src.shape;
  if (
    src.shape.length !== 2 || cols > stride || dst.size !== rows * cols || src.dtype !== "f32" || dst.dtype !== "f32"
  ) {
    throw new RangeError(`transpose: ${cols} columns of f32 [${src.shape}] into [${dst.shape}] ${dst.dtype}`);
  }
  k.transpose(dst.ptr, src.ptr, rows, cols, stride);
}

/** Equal-width bins over [lo, hi]: see {@link histogram}. */
export interface Bins {
  /** The first bin's lower edge. */
  lo: number;
  /** The last bin's upper edge. */
  hi: number;
  /** How many bins. */
  count: number;
}

/**
 * Counts of the f32 tensor's values in `count` equal-width bins over [lo, hi],
 * the first and last bin also taking everything below and above; NaN counts
 * in no bin.
 */
export function histogram(t: Tensor, bins: Bins): number[] {
  if (t.dtype !== "f32") throw new TypeError(`histogram: expected f32, got ${t.dtype}`);
  return histogram_blocks(t, { first: 0, blocks: 1, blockStride: 0, rows: 1, rowStride: 0, cols: t.size }, bins)[0];
}

/**
 * Where {@link histogram_blocks} reads in a tensor: `blocks` blocks of `rows`
 * rows of `cols` floats, row r of block b at first + b·blockStride +
 * r·rowStride (all in elements).
 */
export interface Blocks {
  /** Where block 0's row 0 starts. */
  first: number;
  /** How many blocks. */
  blocks: number;
  /** From one block to the next. */
  blockStride: number;
  /** Rows per block. */
  rows: number;
  /** From one row to the next. */
  rowStride: number;
  /** Values per row. */
  cols: number;
}

/**
 * One {@link histogram} per block of the f32 tensor `t` laid out as `at`
 * says, in one kernel call: every hidden layer's values at once.
 *
 * @example
 * ```ts
 * import { arena } from "./arena.ts";
 * import { histogram_blocks } from "./data.ts";
 * const t = arena.f32([8]).set([0.1, 0.9, 99, 99, 0.6, 0.2, 99, 99]);
 * const at = { first: 0, blocks: 2, blockStride: 4, rows: 1, rowStride: 0, cols: 2 };
 * histogram_blocks(t, at, { lo: 0, hi: 1, count: 2 }); // [[1, 1], [1, 1]]
 * ```
 */
export function histogram_blocks(t: Tensor, at: Blocks, bins: Bins): number[][] {
  if (t.dtype !== "f32") throw new TypeError(`histogram_blocks: expected f32, got ${t.dtype}`);
  if (!(bins.hi > bins.lo) || !Number.isInteger(bins.count) || bins.count < 1) {
    throw new RangeError(`histogram: ${bins.count} bins over [${bins.lo}, ${bins.hi}]`);
  }
  const { first, blocks, blockStride, rows, rowStride, cols } = at;
  const whole = [first, blocks, blockStride, rows, rowStride, cols].every((v) => Number.isInteger(v) && v >= 0);
  const empty = blocks === 0 || rows === 0 || cols === 0;
  if (!whole || (!empty && first + (blocks - 1) * blockStride + (rows - 1) * rowStride + cols > t.size)) {
    throw new RangeError(`histogram_blocks: ${JSON.stringify(at)} does not lie within ${t.size} values`);
  }
  const mark = arena.mark();
  try {
    const counts = arena.u32([Math.max(blocks, 1), bins.count]);
    counts.u32.fill(0);
    if (!empty) {
      k.histogram_blocks(
        counts.ptr,
        t.ptr + 4 * first,
        blocks,
        blockStride,
        rows,
        rowStride,
        cols,
        bins.lo,
        bins.hi,
        bins.count,
      );
    }
    // Plain loops: this runs a few times per training run, never long enough for V8 to optimize it.
    const all = counts.u32, out: number[][] = [];
    for (let b = 0, i = 0; b < blocks; b++) {
      const row = new Array<number>(bins.count);
      for (let j = 0; j < bins.count; j++, i++) row[j] = all[i];
      out.push(row);
    }
    return out;
  } finally {
    arena.release(mark);
  }
}
