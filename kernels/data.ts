// Moving and checking data in the shared memory: the training loop's shuffled
// mini-batches are gathered here, and its divergence check counts non-finite
// values here, rather than element by element in JavaScript.

import { hi64, hi64At, lo64, lo64At } from "./lib/simd";

/** dst[r, :] = src[index[from + r], :] for r in [0, n), rows of `cols` floats. */
export function gather_rows(dst: usize, src: usize, index: usize, from: i32, n: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  const idx = index + (<usize>from << 2);
  // Rows are a few floats (one in the notebook): plain loads and stores beat a
  // memory.copy call per row, which V8 makes through its runtime.
  for (let r = 0; r < n; r++) {
    const s = src + <usize>load<u32>(idx + (<usize>r << 2)) * rowBytes;
    const d = dst + <usize>r * rowBytes;
    for (let c: usize = 0; c < rowBytes; c += 4) store<f32>(d + c, load<f32>(s + c));
  }
}

/** How many of the n floats at p are NaN or ±∞ (x − x is 0 for every finite x, NaN otherwise). */
export function count_nonfinite(p: usize, n: i32): i32 {
  let bad = i32x4.splat(0);
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(p + (<usize>i << 2));
    bad = i32x4.sub(bad, f32x4.ne(f32x4.sub(v, v), zero));
  }
  let count = i32x4.extract_lane(bad, 0) + i32x4.extract_lane(bad, 1) + i32x4.extract_lane(bad, 2) +
    i32x4.extract_lane(bad, 3);
  for (; i < n; i++) {
    const x = load<f32>(p + (<usize>i << 2));
    if (x - x != 0) count++;
  }
  return count;
}

/** Σ x² over the n floats at p, summed in f64 (a gradient's squared norm, for the diagnostics). */
export function sum_squares(p: usize, n: i32): f64 {
  let acc = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const q = p + (<usize>i << 2);
    const lo = lo64At(q), hi = hi64At(q);
    acc = f64x2.add(acc, f64x2.add(f64x2.mul(lo, lo), f64x2.mul(hi, hi)));
  }
  let sum = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; i < n; i++) {
    const x = <f64>load<f32>(p + (<usize>i << 2));
    sum += x * x;
  }
  return sum;
}

/**
 * dst[c·rows + r] = src[r·stride + c] for r < rows, c < cols: the first cols
 * columns of a [rows × stride] block, transposed (the fused kernels' feature-
 * major activations back to row-major).
 */
export function transpose(dst: usize, src: usize, rows: i32, cols: i32, stride: i32): void {
  for (let r = 0; r < rows; r++) {
    const s = src + (<usize>(r * stride) << 2);
    for (let c = 0; c < cols; c++) store<f32>(dst + (<usize>(c * rows + r) << 2), load<f32>(s + (<usize>c << 2)));
  }
}

/**
 * Adds to counts[0 … bins) (u32) how many of the n floats at p fall in each of
 * `bins` equal-width bins over [lo, hi], the first and last also taking
 * everything below and above; NaN falls in none. The bin is
 * floor((x − lo)·bins/(hi − lo)) in f64, clamped to the bins before it becomes
 * an integer (x = ±∞ lands in an outer bin instead of trapping).
 */
export function histogram(counts: usize, p: usize, n: i32, lo: f64, hi: f64, bins: i32): void {
  const scale = <f64>bins / (hi - lo), last = <f64>(bins - 1);
  // Four values at a time, the bins in f64x2 halves: the same operations as
  // the scalar loop below (pmax/pmin are Math.max/min where no NaN is about,
  // and a vector holding a NaN goes to the scalar loop), so the same bins.
  const loV = f64x2.splat(lo), scaleV = f64x2.splat(scale), zeroV = f64x2.splat(0), lastV = f64x2.splat(last);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const q = p + (<usize>i << 2), v = v128.load(q);
    if (v128.any_true(f32x4.ne(v, v))) {
      histogramScalar(counts, q, 4, lo, scale, last);
      continue;
    }
    const a = f64x2.pmin(f64x2.pmax(zeroV, f64x2.floor(f64x2.mul(f64x2.sub(lo64(v), loV), scaleV))), lastV);
    const b = f64x2.pmin(f64x2.pmax(zeroV, f64x2.floor(f64x2.mul(f64x2.sub(hi64(v), loV), scaleV))), lastV);
    const bins4 = i32x4.shuffle(i32x4.trunc_sat_f64x2_s_zero(a), i32x4.trunc_sat_f64x2_s_zero(b), 0, 1, 4, 5);
    const c0 = counts + (<usize>i32x4.extract_lane(bins4, 0) << 2), c1 = counts + (<usize>i32x4.extract_lane(bins4, 1) << 2);
    const c2 = counts + (<usize>i32x4.extract_lane(bins4, 2) << 2), c3 = counts + (<usize>i32x4.extract_lane(bins4, 3) << 2);
    store<u32>(c0, load<u32>(c0) + 1);
    store<u32>(c1, load<u32>(c1) + 1);
    store<u32>(c2, load<u32>(c2) + 1);
    store<u32>(c3, load<u32>(c3) + 1);
  }
  histogramScalar(counts, p + (<usize>i << 2), n - i, lo, scale, last);
}

/** {@link histogram}'s bins one value at a time (NaN skipped), given its scale and last bin. */
// @ts-ignore: decorator
@inline function histogramScalar(counts: usize, p: usize, n: i32, lo: f64, scale: f64, last: f64): void {
  for (let i = 0; i < n; i++) {
    const x = <f64>load<f32>(p + (<usize>i << 2));
    if (x != x) continue;
    const b = <usize>(<i32>Math.min(last, Math.max(0, Math.floor((x - lo) * scale)))) << 2;
    store<u32>(counts + b, load<u32>(counts + b) + 1);
  }
}

/**
 * {@link histogram} of each of `blocks` blocks of `rows` rows of `cols`
 * floats into counts[b][0 … bins): row r of block b starts at
 * p + b·blockStride + r·rowStride floats. Every hidden layer's values where
 * the fused step leaves them (feature-major, rows padded to a stride) in one
 * call, instead of a call and a transposition per layer.
 */
export function histogram_blocks(
  counts: usize, p: usize, blocks: i32, blockStride: i32, rows: i32, rowStride: i32, cols: i32,
  lo: f64, hi: f64, bins: i32,
): void {
  for (let b = 0; b < blocks; b++) {
    for (let r = 0; r < rows; r++) {
      const row = p + (<usize>(b * blockStride + r * rowStride) << 2);
      histogram(counts + (<usize>(b * bins) << 2), row, cols, lo, hi, bins);
    }
  }
}

/**
 * Shuffles the n u32 at p in place (Fisher–Yates, last element first) with the
 * xoshiro128** generator whose state, four u32, is at `state` and is advanced
 * there: the draws and the permutation of src/net/random.ts `Random.shuffle`
 * (j = below(i + 1): a draw at or above the largest multiple of i + 1 that
 * fits in 2³² is rejected, then j = draw mod (i + 1)).
 */
export function shuffle_u32(p: usize, n: i32, state: usize): void {
  let s0 = load<u32>(state), s1 = load<u32>(state, 4), s2 = load<u32>(state, 8), s3 = load<u32>(state, 12);
  const range: u64 = <u64>1 << 32;
  for (let i = n - 1; i > 0; i--) {
    const m = <u64>i + 1;
    const limit = range - range % m;
    let x: u64;
    do {
      x = <u64>(rotl<u32>(s1 * 5, 7) * 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl<u32>(s3, 11);
    } while (x >= limit);
    const a = p + (<usize>i << 2), b = p + (<usize>(x % m) << 2);
    const t = load<u32>(a);
    store<u32>(a, load<u32>(b));
    store<u32>(b, t);
  }
  store<u32>(state, s0);
  store<u32>(state, s1, 4);
  store<u32>(state, s2, 8);
  store<u32>(state, s3, 12);
}
