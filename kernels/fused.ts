// One whole training step of a narrow network in one call: gather the batch,
// forward through every block (Linear → BN → activation), the MSE loss, the
// backward, and Adam. For the notebook's widths the per-layer kernels spend
// more on calls and lane tails than on arithmetic; here the activations are
// laid out feature-major, [features × batch] with each feature's batch
// contiguous, so every Linear is broadcast FMAs over full vectors of the
// batch and every BN statistic a contiguous reduction.
//
// The parameters, gradients, Adam moments and running statistics are the
// network's own flat buffers, in PyTorch's state_dict order (src/net/model.ts):
// for each block fc.weight [H, in], fc.bias [H], then (with BN) bn.weight and
// bn.bias [H]; then predict.weight [1, H] and predict.bias [1]; the buffers
// hold running_mean [H] and running_var [H] per block. The network has one
// input and one output, as the notebook's.
//
// The arithmetic is the per-layer kernels' where it matters (BN statistics
// summed in f64, the same running-statistics updates, the same activation and
// Adam code), but the sums of the products run in another order, BN's
// statistics are one pass of shifted sums (shiftedSumsF64) where the per-layer
// kernels take two, and BN's element-wise passes are f32 with their
// coefficients rounded once from f64 (see bnForward), so the two paths agree
// to rounding, not bit for bit.

import { adam_update } from "./adam";
import { relu_backward, relu_forward, sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward } from "./activations";
import { BN_MYBN, BN_TORCH } from "./batchnorm";
import { count_nonfinite, sum_squares } from "./data";
import { hi64, lo64, madd, madd64 } from "./lib/simd";
import { constZero } from "./lib/vmath";

export { BN_MYBN, BN_TORCH };

/** No BN in the blocks (the batchnorm module's BN_TORCH and BN_MYBN name the others). */
export const BN_NONE: i32 = -1;
export const ACT_TANH: i32 = 0;
export const ACT_SIGMOID: i32 = 1;
export const ACT_RELU: i32 = 2;

/** The row stride of a batch of B: B rounded up to whole vectors. */
// @ts-ignore: decorator
@inline function strideOf(B: i32): i32 {
  return (B + 3) & ~3;
}

/**
 * The work space, for a batch of B rows (stride S = B rounded up to whole
 * vectors, `row` = S floats, `block` = H rows): the inputs X, the targets T,
 * the predictions P and their gradient DP (a row each), then for each block
 * its z, u and h (a block each), then the backward's DH, DU and DZ (a block
 * each), then the f64 BN caches (mean and rstd per block). Byte offset of
 * block l's u (`which` = 1) or h (`which` = 2), feature-major [H × S].
 */
export function fused_activation_offset(H: i32, B: i32, l: i32, which: i32): i32 {
  const row = strideOf(B) << 2;
  return 4 * row + (3 * l + which) * H * row;
}

/** Bytes of work space a network of L blocks of width H needs for batches of up to B rows. */
export function fused_work_bytes(H: i32, L: i32, B: i32): i32 {
  const S = strideOf(B);
  return (4 * S + 3 * L * H * S + 3 * H * S) * 4 + 2 * L * H * 8 + 64;
}

/**
 * Four output rows r < 4: dst[r][n] = start_r + Σ_k w[k, r]·src[k][n] over
 * k < count, weight (k, r) at w + k·kStride + r·rStride: four rows of w laid
 * along k (the forward's w[o][k], kStride = 4), or four of its columns laid
 * across the rows (dx = Wᵀ·dy's w[o][i…i+3], rStride = 4, `across`). Two
 * vectors of the batch per step: each pair of loads of src feeds eight
 * independent FMA chains, each adding its terms in k order. The weights come
 * by the vector and are spread to the lanes by shuffles — four k per pass
 * along k, one k per pass across — instead of a splat load each: every load
 * carries a bounds check in V8's code (Deno has no trap handler), which cost
 * more instructions than the FMAs (18.7 → 17.8 µs a step). `across` is a
 * literal at every call, so each call site compiles to one of the two.
 */
// @ts-ignore: decorator
@inline function fourRows(
  dst: usize, src: usize, w: usize, kStride: usize, rStride: usize, count: i32, across: bool,
  s0: v128, s1: v128, s2: v128, s3: v128, S: i32,
): void {
  const row = <usize>S << 2;
  const k4 = across ? 0 : count & ~3;
  for (let n = 0; n < S; n += 8) {
    const nb = <usize>n << 2;
    const two = n + 8 <= S;
    let a0 = s0, a1 = s1, a2 = s2, a3 = s3, c0 = s0, c1 = s1, c2 = s2, c3 = s3;
    let k = 0;
    // Along k: each row's next four weights in one vector.
    for (; k < k4; k += 4) {
      const wk = w + <usize>k * kStride, sk = src + <usize>k * row + nb;
      const v0 = v128.load(wk), v1 = v128.load(wk + rStride);
      const v2 = v128.load(wk + 2 * rStride), v3 = v128.load(wk + 3 * rStride);
      let x0 = v128.load(sk), x1 = two ? v128.load(sk, 16) : x0;
      a0 = madd(i32x4.shuffle(v0, v0, 0, 0, 0, 0), x0, a0);
      a1 = madd(i32x4.shuffle(v1, v1, 0, 0, 0, 0), x0, a1);
      a2 = madd(i32x4.shuffle(v2, v2, 0, 0, 0, 0), x0, a2);
      a3 = madd(i32x4.shuffle(v3, v3, 0, 0, 0, 0), x0, a3);
      c0 = madd(i32x4.shuffle(v0, v0, 0, 0, 0, 0), x1, c0);
      c1 = madd(i32x4.shuffle(v1, v1, 0, 0, 0, 0), x1, c1);
      c2 = madd(i32x4.shuffle(v2, v2, 0, 0, 0, 0), x1, c2);
      c3 = madd(i32x4.shuffle(v3, v3, 0, 0, 0, 0), x1, c3);
      const s1k = sk + row;
      x0 = v128.load(s1k);
      x1 = two ? v128.load(s1k, 16) : x0;
      a0 = madd(i32x4.shuffle(v0, v0, 1, 1, 1, 1), x0, a0);
      a1 = madd(i32x4.shuffle(v1, v1, 1, 1, 1, 1), x0, a1);
      a2 = madd(i32x4.shuffle(v2, v2, 1, 1, 1, 1), x0, a2);
      a3 = madd(i32x4.shuffle(v3, v3, 1, 1, 1, 1), x0, a3);
      c0 = madd(i32x4.shuffle(v0, v0, 1, 1, 1, 1), x1, c0);
      c1 = madd(i32x4.shuffle(v1, v1, 1, 1, 1, 1), x1, c1);
      c2 = madd(i32x4.shuffle(v2, v2, 1, 1, 1, 1), x1, c2);
      c3 = madd(i32x4.shuffle(v3, v3, 1, 1, 1, 1), x1, c3);
      const s2k = s1k + row;
      x0 = v128.load(s2k);
      x1 = two ? v128.load(s2k, 16) : x0;
      a0 = madd(i32x4.shuffle(v0, v0, 2, 2, 2, 2), x0, a0);
      a1 = madd(i32x4.shuffle(v1, v1, 2, 2, 2, 2), x0, a1);
      a2 = madd(i32x4.shuffle(v2, v2, 2, 2, 2, 2), x0, a2);
      a3 = madd(i32x4.shuffle(v3, v3, 2, 2, 2, 2), x0, a3);
      c0 = madd(i32x4.shuffle(v0, v0, 2, 2, 2, 2), x1, c0);
      c1 = madd(i32x4.shuffle(v1, v1, 2, 2, 2, 2), x1, c1);
      c2 = madd(i32x4.shuffle(v2, v2, 2, 2, 2, 2), x1, c2);
      c3 = madd(i32x4.shuffle(v3, v3, 2, 2, 2, 2), x1, c3);
      const s3k = s2k + row;
      x0 = v128.load(s3k);
      x1 = two ? v128.load(s3k, 16) : x0;
      a0 = madd(i32x4.shuffle(v0, v0, 3, 3, 3, 3), x0, a0);
      a1 = madd(i32x4.shuffle(v1, v1, 3, 3, 3, 3), x0, a1);
      a2 = madd(i32x4.shuffle(v2, v2, 3, 3, 3, 3), x0, a2);
      a3 = madd(i32x4.shuffle(v3, v3, 3, 3, 3, 3), x0, a3);
      c0 = madd(i32x4.shuffle(v0, v0, 3, 3, 3, 3), x1, c0);
      c1 = madd(i32x4.shuffle(v1, v1, 3, 3, 3, 3), x1, c1);
      c2 = madd(i32x4.shuffle(v2, v2, 3, 3, 3, 3), x1, c2);
      c3 = madd(i32x4.shuffle(v3, v3, 3, 3, 3, 3), x1, c3);
    }
    for (; k < count; k++) {
      const sk = src + <usize>k * row + nb, wk = w + <usize>k * kStride;
      const x0 = v128.load(sk), x1 = two ? v128.load(sk, 16) : x0;
      let w0: v128, w1: v128, w2: v128, w3: v128;
      if (across) {
        const v = v128.load(wk);
        w0 = i32x4.shuffle(v, v, 0, 0, 0, 0);
        w1 = i32x4.shuffle(v, v, 1, 1, 1, 1);
        w2 = i32x4.shuffle(v, v, 2, 2, 2, 2);
        w3 = i32x4.shuffle(v, v, 3, 3, 3, 3);
      } else {
        // The last count mod 4 k along k, a splat each.
        w0 = v128.load32_splat(wk);
        w1 = v128.load32_splat(wk + rStride);
        w2 = v128.load32_splat(wk + 2 * rStride);
        w3 = v128.load32_splat(wk + 3 * rStride);
      }
      a0 = madd(w0, x0, a0);
      a1 = madd(w1, x0, a1);
      a2 = madd(w2, x0, a2);
      a3 = madd(w3, x0, a3);
      c0 = madd(w0, x1, c0);
      c1 = madd(w1, x1, c1);
      c2 = madd(w2, x1, c2);
      c3 = madd(w3, x1, c3);
    }
    v128.store(dst + nb, a0);
    v128.store(dst + row + nb, a1);
    v128.store(dst + 2 * row + nb, a2);
    v128.store(dst + 3 * row + nb, a3);
    if (two) {
      v128.store(dst + nb, c0, 16);
      v128.store(dst + row + nb, c1, 16);
      v128.store(dst + 2 * row + nb, c2, 16);
      v128.store(dst + 3 * row + nb, c3, 16);
    }
  }
}

/**
 * Two output rows r < 2, as {@link fourRows} computes four: four vectors of
 * the batch per step, so that each weight splat feeds four FMA chains and
 * each load of src two (the rows left over when the width is 2 or 3 mod 4,
 * e.g. rows 8 and 9 at width 10).
 */
// @ts-ignore: decorator
@inline function twoRows(
  dst: usize, src: usize, w: usize, kStride: usize, rStride: usize, count: i32, s0: v128, s1: v128, S: i32,
): void {
  const row = <usize>S << 2;
  let n = 0;
  for (; n + 16 <= S; n += 16) {
    const nb = <usize>n << 2;
    let a0 = s0, a1 = s0, a2 = s0, a3 = s0, c0 = s1, c1 = s1, c2 = s1, c3 = s1;
    for (let k = 0; k < count; k++) {
      const wk = w + <usize>k * kStride, sk = src + <usize>k * row + nb;
      const w0 = v128.load32_splat(wk), w1 = v128.load32_splat(wk + rStride);
      const x0 = v128.load(sk), x1 = v128.load(sk, 16), x2 = v128.load(sk, 32), x3 = v128.load(sk, 48);
      a0 = madd(w0, x0, a0);
      a1 = madd(w0, x1, a1);
      a2 = madd(w0, x2, a2);
      a3 = madd(w0, x3, a3);
      c0 = madd(w1, x0, c0);
      c1 = madd(w1, x1, c1);
      c2 = madd(w1, x2, c2);
      c3 = madd(w1, x3, c3);
    }
    v128.store(dst + nb, a0);
    v128.store(dst + nb, a1, 16);
    v128.store(dst + nb, a2, 32);
    v128.store(dst + nb, a3, 48);
    v128.store(dst + row + nb, c0);
    v128.store(dst + row + nb, c1, 16);
    v128.store(dst + row + nb, c2, 32);
    v128.store(dst + row + nb, c3, 48);
  }
  for (; n < S; n += 4) {
    const nb = <usize>n << 2;
    let a = s0, c = s1;
    for (let k = 0; k < count; k++) {
      const wk = w + <usize>k * kStride, x = v128.load(src + <usize>k * row + nb);
      a = madd(v128.load32_splat(wk), x, a);
      c = madd(v128.load32_splat(wk + rStride), x, c);
    }
    v128.store(dst + nb, a);
    v128.store(dst + row + nb, c);
  }
}

/**
 * One output row: dst[n] = start + Σ_k w[k]·src[k][n] over k < count, the
 * weights `stride` bytes apart (a row of w, or a column), four vectors of the
 * batch per step so that four FMA chains run side by side.
 */
// @ts-ignore: decorator
@inline function oneRow(dst: usize, src: usize, w: usize, stride: usize, count: i32, start: v128, S: i32): void {
  const row = <usize>S << 2;
  let n = 0;
  for (; n + 16 <= S; n += 16) {
    const nb = <usize>n << 2;
    let a0 = start, a1 = start, a2 = start, a3 = start;
    for (let k = 0; k < count; k++) {
      const wv = v128.load32_splat(w + <usize>k * stride);
      const sk = src + <usize>k * row + nb;
      a0 = madd(wv, v128.load(sk), a0);
      a1 = madd(wv, v128.load(sk, 16), a1);
      a2 = madd(wv, v128.load(sk, 32), a2);
      a3 = madd(wv, v128.load(sk, 48), a3);
    }
    v128.store(dst + nb, a0);
    v128.store(dst + nb, a1, 16);
    v128.store(dst + nb, a2, 32);
    v128.store(dst + nb, a3, 48);
  }
  for (; n < S; n += 4) {
    const nb = <usize>n << 2;
    let acc = start;
    for (let k = 0; k < count; k++) {
      acc = madd(v128.load32_splat(w + <usize>k * stride), v128.load(src + <usize>k * row + nb), acc);
    }
    v128.store(dst + nb, acc);
  }
}

/**
 * y[o][n] = b[o] + Σ_i w[o][i]·x[i][n] for o < out, over whole vectors of the
 * stride S. Register blocks of four outputs × two vectors of the batch: each
 * input row's two loads feed eight independent FMA chains (one chain would
 * wait on the FMA latency, one output per load on the loads).
 */
// @ts-ignore: decorator
@inline function linear(y: usize, x: usize, w: usize, b: usize, inF: i32, out: i32, S: i32): void {
  const row = <usize>S << 2, wrow = <usize>inF << 2;
  let o = 0;
  for (; o + 4 <= out; o += 4) {
    const bo = b + (<usize>o << 2);
    const b0 = v128.load32_splat(bo), b1 = v128.load32_splat(bo + 4);
    const b2 = v128.load32_splat(bo + 8), b3 = v128.load32_splat(bo + 12);
    fourRows(y + <usize>o * row, x, w + <usize>o * wrow, 4, wrow, inF, false, b0, b1, b2, b3, S);
  }
  // The remaining outputs two, then one at a time.
  if (o + 2 <= out) {
    const bo = b + (<usize>o << 2);
    twoRows(y + <usize>o * row, x, w + <usize>o * wrow, 4, wrow, inF, v128.load32_splat(bo), v128.load32_splat(bo + 4), S);
    o += 2;
  }
  for (; o < out; o++) {
    oneRow(y + <usize>o * row, x, w + <usize>o * wrow, 4, inF, f32x4.splat(load<f32>(b + (<usize>o << 2))), S);
  }
}

/** Σ_n a[n]·b[n] over the stride S (zeros past the batch add nothing), in four chains. */
// @ts-ignore: decorator
@inline function dot(a: usize, b: usize, S: i32): f32 {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let n = 0;
  for (; n + 16 <= S; n += 16) {
    const nb = <usize>n << 2;
    a0 = madd(v128.load(a + nb), v128.load(b + nb), a0);
    a1 = madd(v128.load(a + nb, 16), v128.load(b + nb, 16), a1);
    a2 = madd(v128.load(a + nb, 32), v128.load(b + nb, 32), a2);
    a3 = madd(v128.load(a + nb, 48), v128.load(b + nb, 48), a3);
  }
  for (; n < S; n += 4) a0 = madd(v128.load(a + (<usize>n << 2)), v128.load(b + (<usize>n << 2)), a0);
  return lanes(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
}

/** Σ_n a[n] over the stride S, in four chains. */
// @ts-ignore: decorator
@inline function total(a: usize, S: i32): f32 {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let n = 0;
  for (; n + 16 <= S; n += 16) {
    const nb = <usize>n << 2;
    a0 = f32x4.add(a0, v128.load(a + nb));
    a1 = f32x4.add(a1, v128.load(a + nb, 16));
    a2 = f32x4.add(a2, v128.load(a + nb, 32));
    a3 = f32x4.add(a3, v128.load(a + nb, 48));
  }
  for (; n < S; n += 4) a0 = f32x4.add(a0, v128.load(a + (<usize>n << 2)));
  return lanes(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
}

/** Σ of the four lanes. */
// @ts-ignore: decorator
@inline function lanes(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * [lanes(a), lanes(b), lanes(c), lanes(d)] in one vector: the same sums,
 * (v0 + v1) + (v2 + v3) each, in six shuffles and three additions instead of
 * twelve extractions and twelve additions.
 */
// @ts-ignore: decorator
@inline function lanes4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(i32x4.shuffle(a, b, 0, 4, 2, 6), i32x4.shuffle(a, b, 1, 5, 3, 7)); // a01 b01 a23 b23
  const cd = f32x4.add(i32x4.shuffle(c, d, 0, 4, 2, 6), i32x4.shuffle(c, d, 1, 5, 3, 7));
  return f32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/**
 * The weight gradients of a Linear layer from its output gradient dy[out][S]
 * (zero past the batch) and its input x[in][S]: dw[o][i] = Σ_n dy[o][n]·x[i][n],
 * db[o] = Σ_n dy[o][n] (written). With `dx`, also dx[i][n] = Σ_o w[o][i]·dy[o][n]
 * (the forward's loop with the weight read transposed).
 */
// @ts-ignore: decorator
@inline function linearBackward(
  dx: usize, dw: usize, db: usize, dy: usize, x: usize, w: usize, inF: i32, out: i32, S: i32,
): void {
  const row = <usize>S << 2;
  for (let o = 0; o < out; o++) store<f32>(db + (<usize>o << 2), total(dy + <usize>o * row, S));
  // dW in blocks of two outputs × four inputs: per vector of the batch, six loads feed eight chains.
  let o = 0;
  for (; o + 2 <= out; o += 2) {
    const d0 = dy + <usize>o * row, d1 = d0 + row;
    let i = 0;
    for (; i + 4 <= inF; i += 4) {
      const x0 = x + <usize>i * row;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
      for (let n = 0; n < S; n += 4) {
        const nb = <usize>n << 2;
        const g0 = v128.load(d0 + nb), g1 = v128.load(d1 + nb), xi = x0 + nb;
        const v0 = v128.load(xi), v1 = v128.load(xi + row), v2 = v128.load(xi + 2 * row), v3 = v128.load(xi + 3 * row);
        a0 = madd(g0, v0, a0);
        a1 = madd(g0, v1, a1);
        a2 = madd(g0, v2, a2);
        a3 = madd(g0, v3, a3);
        c0 = madd(g1, v0, c0);
        c1 = madd(g1, v1, c1);
        c2 = madd(g1, v2, c2);
        c3 = madd(g1, v3, c3);
      }
      const r0 = dw + (<usize>(o * inF + i) << 2);
      v128.store(r0, lanes4(a0, a1, a2, a3));
      v128.store(r0 + (<usize>inF << 2), lanes4(c0, c1, c2, c3));
    }
    // Two inputs left: a block of two outputs × two inputs (four loads feed four chains).
    if (i + 2 <= inF) {
      const x0 = x + <usize>i * row, x1 = x0 + row;
      let a0 = f32x4.splat(0), a1 = a0, c0 = a0, c1 = a0;
      for (let n = 0; n < S; n += 4) {
        const nb = <usize>n << 2;
        const g0 = v128.load(d0 + nb), g1 = v128.load(d1 + nb), v0 = v128.load(x0 + nb), v1 = v128.load(x1 + nb);
        a0 = madd(g0, v0, a0);
        a1 = madd(g0, v1, a1);
        c0 = madd(g1, v0, c0);
        c1 = madd(g1, v1, c1);
      }
      const sums = lanes4(a0, a1, c0, c1), r0 = dw + (<usize>(o * inF + i) << 2), r1 = r0 + (<usize>inF << 2);
      v128.store64_lane(r0, sums, 0);
      v128.store64_lane(r1, sums, 1);
      i += 2;
    }
    if (i < inF) {
      const xi = x + <usize>i * row;
      store<f32>(dw + (<usize>(o * inF + i) << 2), dot(d0, xi, S));
      store<f32>(dw + (<usize>((o + 1) * inF + i) << 2), dot(d1, xi, S));
    }
  }
  // An output left (the prediction layer's one): blocks of four inputs (one load of dy feeds four chains).
  for (; o < out; o++) {
    const dyo = dy + <usize>o * row;
    let i = 0;
    for (; i + 4 <= inF; i += 4) {
      const x0 = x + <usize>i * row;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      for (let n = 0; n < S; n += 4) {
        const nb = <usize>n << 2, g = v128.load(dyo + nb), xi = x0 + nb;
        a0 = madd(g, v128.load(xi), a0);
        a1 = madd(g, v128.load(xi + row), a1);
        a2 = madd(g, v128.load(xi + 2 * row), a2);
        a3 = madd(g, v128.load(xi + 3 * row), a3);
      }
      v128.store(dw + (<usize>(o * inF + i) << 2), lanes4(a0, a1, a2, a3));
    }
    for (; i < inF; i++) store<f32>(dw + (<usize>(o * inF + i) << 2), dot(dyo, x + <usize>i * row, S));
  }
  if (dx == 0) return;
  // dx = Wᵀ·dy: the forward's blocks with the weight read down its columns.
  const wrow = <usize>inF << 2;
  let i = 0;
  const z = f32x4.splat(0);
  for (; i + 4 <= inF; i += 4) fourRows(dx + <usize>i * row, dy, w + (<usize>i << 2), wrow, 4, out, true, z, z, z, z, S);
  // The remaining inputs two, then one at a time (their weights down columns of w).
  if (i + 2 <= inF) {
    twoRows(dx + <usize>i * row, dy, w + (<usize>i << 2), wrow, 4, out, z, z, S);
    i += 2;
  }
  for (; i < inF; i++) oneRow(dx + <usize>i * row, dy, w + (<usize>i << 2), wrow, out, f32x4.splat(0), S);
}

/**
 * [Σd, Σd²] over a row's first B values, d = x − K in f64, as the two lanes of
 * an f64x2, in one pass (four chains each). With K one of the row's values, d
 * is of the order of the spread, so Σ(x − m)² = Σd² − (Σd)²/B loses only
 * about (m − K)²/var of f64's 2⁻⁵³: the two-pass sums in one.
 */
// @ts-ignore: decorator
@inline function shiftedSumsF64(p: usize, B: i32, K: f64): v128 {
  const k = f64x2.splat(K);
  let s0 = f64x2.splat(0), s1 = s0, q0 = s0, q1 = s0;
  const B4 = B & ~3;
  for (let n = 0; n < B4; n += 4) {
    const v = v128.load(p + (<usize>n << 2));
    const d0 = f64x2.sub(lo64(v), k), d1 = f64x2.sub(hi64(v), k);
    s0 = f64x2.add(s0, d0);
    s1 = f64x2.add(s1, d1);
    q0 = madd64(d0, d0, q0);
    q1 = madd64(d1, d1, q1);
  }
  const sv = f64x2.add(s0, s1), qv = f64x2.add(q0, q1);
  let s = f64x2.extract_lane(sv, 0) + f64x2.extract_lane(sv, 1);
  let q = f64x2.extract_lane(qv, 0) + f64x2.extract_lane(qv, 1);
  for (let n = B4; n < B; n++) {
    const d = <f64>load<f32>(p + (<usize>n << 2)) - K;
    s += d;
    q += d * d;
  }
  return f64x2.replace_lane(f64x2.splat(s), 1, q);
}

/**
 * Training-mode BN of each feature row of z[H][S] over its first B values:
 * mean and biased variance in f64 (one pass of shifted sums), the running statistics
 * updated as the batchnorm module does for `semantics`, u = γ·x̂ + β (x̂ and
 * the affine step in f64, rounded once), and the f64 caches mean[H] and
 * rstd[H] for the backward.
 */
// @ts-ignore: decorator
@inline function bnForward(
  u: usize, mean: usize, rstd: usize, rm: usize, rv: usize, z: usize, gamma: usize, beta: usize,
  H: i32, B: i32, S: i32, eps: f64, momentum: f64, semantics: i32,
): void {
  const row = <usize>S << 2;
  for (let o = 0; o < H; o++) {
    const zo = z + <usize>o * row, uo = u + <usize>o * row;
    const K = <f64>load<f32>(zo);
    const sums = shiftedSumsF64(zo, B, K);
    const sd = f64x2.extract_lane(sums, 0);
    const m = K + sd / <f64>B;
    const ss = Math.max(0, f64x2.extract_lane(sums, 1) - sd * sd / <f64>B); // Σ(z − m)²
    const varBiased = ss / <f64>B;
    const pm = rm + (<usize>o << 2), pv = rv + (<usize>o << 2);
    if (semantics == BN_MYBN) {
      store<f32>(pm, <f32>(momentum * <f64>load<f32>(pm) + (1 - momentum) * m));
      store<f32>(pv, <f32>(momentum * <f64>load<f32>(pv) + (1 - momentum) * varBiased));
    } else {
      store<f32>(pm, <f32>((1 - momentum) * <f64>load<f32>(pm) + momentum * m));
      store<f32>(pv, <f32>((1 - momentum) * <f64>load<f32>(pv) + momentum * (ss / <f64>(B - 1))));
    }
    const r = 1.0 / Math.sqrt(varBiased + eps);
    store<f64>(mean + (<usize>o << 3), m);
    store<f64>(rstd + (<usize>o << 3), r);
    // u = γ·(z − m)·r + β in f32: z − m as (z − mHi) − mLo, the f64 mean split
    // in two f32s, so that it stays exact to rounding even when the mean is
    // far larger than the spread (z − mHi is then exact); the scale γ·r is
    // rounded once from f64.
    const a = f32x4.splat(<f32>(<f64>load<f32>(gamma + (<usize>o << 2)) * r));
    const b = f32x4.splat(load<f32>(beta + (<usize>o << 2)));
    const mHi = <f32>m, mh = f32x4.splat(mHi), ml = f32x4.splat(<f32>(m - <f64>mHi));
    for (let n = 0; n < S; n += 4) {
      const p = <usize>n << 2;
      v128.store(uo + p, madd(f32x4.sub(f32x4.sub(v128.load(zo + p), mh), ml), a, b));
    }
  }
}

/**
 * Eval-mode BN of each feature row with the running statistics, as the
 * batchnorm module's eval kernel computes it: u = (z − running_mean)·s + β,
 * s = γ/sqrt(running_var + eps) formed in f64 and rounded once.
 */
// @ts-ignore: decorator
@inline function bnEval(
  u: usize, z: usize, gamma: usize, beta: usize, rm: usize, rv: usize, H: i32, S: i32, eps: f64,
): void {
  const row = <usize>S << 2;
  for (let o = 0; o < H; o++) {
    const zo = z + <usize>o * row, uo = u + <usize>o * row, c = <usize>o << 2;
    const s = f32x4.splat(<f32>(<f64>load<f32>(gamma + c) / Math.sqrt(<f64>load<f32>(rv + c) + eps)));
    const m = f32x4.splat(load<f32>(rm + c)), b = f32x4.splat(load<f32>(beta + c));
    for (let n = 0; n < S; n += 4) {
      const p = <usize>n << 2;
      v128.store(uo + p, f32x4.add(f32x4.mul(f32x4.sub(v128.load(zo + p), m), s), b));
    }
  }
}

/**
 * The activation's gradient du = dh·act′ from its output h, as the
 * activation kernels' backward computes it (the same operations, so the same
 * bits): tanh dh·(1 − h²), sigmoid dh·(h·(1 − h)), relu dh where h > 0.
 */
// @ts-ignore: decorator
@inline function activationGrad(act: i32, dh: v128, h: v128, one: v128, zero: v128): v128 {
  if (act == ACT_TANH) return f32x4.mul(dh, f32x4.sub(one, f32x4.mul(h, h)));
  if (act == ACT_SIGMOID) return f32x4.mul(dh, f32x4.mul(h, f32x4.sub(one, h)));
  return v128.and(dh, f32x4.gt(h, zero));
}

/**
 * The activation's backward and then BN's training-mode backward of each
 * feature row over its first B values: du = dh·act′(h) (written: the second
 * pass reads it), dβ = Σdu, dγ = Σdu·x̂ (written), dz = γ·rstd/B·(B·du − Σdu −
 * x̂·Σdu·x̂), zero past the batch. The activation's backward rides on BN's
 * first pass instead of a pass of its own.
 */
// @ts-ignore: decorator
@inline function bnBackward(
  dz: usize, dgamma: usize, dbeta: usize, du: usize, dh: usize, h: usize, act: i32,
  z: usize, gamma: usize, mean: usize, rstd: usize, H: i32, B: i32, S: i32,
): void {
  const row = <usize>S << 2;
  const zero = constZero(B), one = f32x4.add(f32x4.splat(1), zero);
  for (let o = 0; o < H; o++) {
    const zo = z + <usize>o * row, duo = du + <usize>o * row, dzo = dz + <usize>o * row;
    const dho = dh + <usize>o * row, ho = h + <usize>o * row;
    const m = load<f64>(mean + (<usize>o << 3)), r = load<f64>(rstd + (<usize>o << 3));
    const mHi = <f32>m, mh = f32x4.splat(mHi), ml = f32x4.splat(<f32>(m - <f64>mHi)); // as in bnForward
    // Σdu and Σdu·(z − m) in f32, four chains of B/4 terms each; du is zero
    // past the batch (the activation backward of zero-padded rows), so whole
    // vectors add nothing there.
    let s0 = zero, s1 = zero, t0 = zero, t1 = zero;
    let n = 0;
    for (; n + 8 <= S; n += 8) {
      const p = <usize>n << 2;
      const g0 = activationGrad(act, v128.load(dho + p), v128.load(ho + p), one, zero);
      const g1 = activationGrad(act, v128.load(dho + p, 16), v128.load(ho + p, 16), one, zero);
      v128.store(duo + p, g0);
      v128.store(duo + p, g1, 16);
      s0 = f32x4.add(s0, g0);
      s1 = f32x4.add(s1, g1);
      t0 = madd(g0, f32x4.sub(f32x4.sub(v128.load(zo + p), mh), ml), t0);
      t1 = madd(g1, f32x4.sub(f32x4.sub(v128.load(zo + p, 16), mh), ml), t1);
    }
    if (n < S) {
      const p = <usize>n << 2;
      const g0 = activationGrad(act, v128.load(dho + p), v128.load(ho + p), one, zero);
      v128.store(duo + p, g0);
      s0 = f32x4.add(s0, g0);
      t0 = madd(g0, f32x4.sub(f32x4.sub(v128.load(zo + p), mh), ml), t0);
    }
    const sdy = <f64>lanes(f32x4.add(s0, s1));
    const sdyx = <f64>lanes(f32x4.add(t0, t1)) * r; // Σdu·x̂
    store<f32>(dbeta + (<usize>o << 2), <f32>sdy);
    store<f32>(dgamma + (<usize>o << 2), <f32>sdyx);
    // dz = γr/B·(B·du − Σdu − x̂·Σdu·x̂) = A·du + C·(z − m) + D, each
    // coefficient formed in f64 and rounded once.
    const gr = <f64>load<f32>(gamma + (<usize>o << 2)) * r;
    const A = f32x4.splat(<f32>gr), C = f32x4.splat(<f32>(-gr * r * sdyx / <f64>B));
    const D = f32x4.splat(<f32>(-gr * sdy / <f64>B));
    for (let n = 0; n < B; n += 4) {
      const p = <usize>n << 2;
      const t = f32x4.sub(f32x4.sub(v128.load(zo + p), mh), ml);
      v128.store(dzo + p, madd(A, v128.load(duo + p), madd(C, t, D)));
    }
    // Past the batch the gradient is zero (the weight gradients sum over whole vectors).
    for (let n = B; n < S; n++) store<f32>(dzo + (<usize>n << 2), 0);
  }
}

/**
 * The activation over n values. `zero` is 0 known only at run time: the
 * activation kernels build their polynomial constants on it (lib/vmath.ts),
 * and a literal 0 would let the compiler fold them back into constants that
 * V8 rematerialises at every use, which measured twice as slow here.
 */
// @ts-ignore: decorator
@inline function activate(act: i32, y: usize, x: usize, n: i32, zero: i32): void {
  if (act == ACT_TANH) tanh_forward(y, x, zero, n);
  else if (act == ACT_SIGMOID) sigmoid_forward(y, x, zero, n);
  else relu_forward(y, x, zero, n);
}

// @ts-ignore: decorator
@inline function activateBackward(act: i32, dx: usize, dy: usize, y: usize, n: i32): void {
  if (act == ACT_TANH) tanh_backward(dx, dy, y, n);
  else if (act == ACT_SIGMOID) sigmoid_backward(dx, dy, y, n);
  else relu_backward(dx, dy, y, n);
}

/**
 * The forward of every block into the work space: each block's z (Linear),
 * u (BN, or z itself) and h (activation), feature-major at A + 3·l·block, then
 * the predictions into P. In training mode BN uses the batch statistics (and
 * updates the running ones, keeping mean and rstd in STATS for the backward);
 * in eval mode the running statistics. Returns the offset, in floats, of
 * predict.weight in params.
 */
// @ts-ignore: decorator
@inline function forward(
  params: usize, buffers: usize, X: usize, P: usize, A: usize, STATS: usize, B: i32, S: i32,
  H: i32, L: i32, act: i32, bn: i32, eps: f64, momentum: f64, train: bool,
): usize {
  const block = <usize>H * (<usize>S << 2);
  const hasBn = bn != BN_NONE;
  const zero = B >>> 31; // 0 for every batch, but not a constant to the compiler (see activate)
  let off: usize = 0;
  let input = X, inF = 1;
  for (let l = 0; l < L; l++) {
    const Z = A + <usize>(3 * l) * block, U = Z + block, Hh = U + block;
    const w = params + (off << 2);
    off += <usize>(H * inF);
    const b = params + (off << 2);
    off += <usize>H;
    linear(Z, input, w, b, inF, H, S);
    if (hasBn) {
      const gamma = params + (off << 2), beta = gamma + (<usize>H << 2);
      off += <usize>(2 * H);
      const rm = buffers + (<usize>(2 * l * H) << 2), rv = rm + (<usize>H << 2);
      if (train) {
        const mean = STATS + (<usize>(2 * l * H) << 3), rstd = mean + (<usize>H << 3);
        bnForward(U, mean, rstd, rm, rv, Z, gamma, beta, H, B, S, eps, momentum, bn);
      } else {
        bnEval(U, Z, gamma, beta, rm, rv, H, S, eps);
      }
      activate(act, Hh, U, H * S, zero);
    } else {
      activate(act, Hh, Z, H * S, zero);
    }
    input = Hh;
    inF = H;
  }
  const wp = params + (off << 2), bp = wp + (<usize>H << 2);
  linear(P, input, wp, bp, inF, 1, S);
  return off;
}

/**
 * One training step on rows order[from … from+B) of the samples xs, ys (one
 * float each): forward in training mode, MSE, backward (gradients written,
 * not accumulated), then Adam step t over the nParams parameters. Returns the
 * loss before the update.
 */
export function fused_train_step(
  params: usize, grads: usize, m: usize, v: usize, buffers: usize, work: usize,
  xs: usize, ys: usize, order: usize, from: i32, B: i32,
  H: i32, L: i32, act: i32, bn: i32, eps: f64, momentum: f64,
  lr: f64, beta1: f64, beta2: f64, adamEps: f64, t: i32, nParams: i32,
): f64 {
  const S = strideOf(B);
  const row = <usize>S << 2, block = <usize>H * row;
  const X = work, T = X + row, P = T + row, DP = P + row;
  const A = DP + row;
  const DH = A + <usize>L * 3 * block, DU = DH + block, DZ = DU + block;
  const STATS = DZ + block;
  const hasBn = bn != BN_NONE;

  // The batch, zero past its end (the products read whole vectors).
  for (let n = 0; n < S; n++) {
    const p = <usize>n << 2;
    if (n < B) {
      const r = <usize>load<u32>(order + (<usize>(from + n) << 2)) << 2;
      store<f32>(X + p, load<f32>(xs + r));
      store<f32>(T + p, load<f32>(ys + r));
    } else {
      store<f32>(X + p, 0);
      store<f32>(T + p, 0);
    }
  }

  const off = forward(params, buffers, X, P, A, STATS, B, S, H, L, act, bn, eps, momentum, true);
  const input = L > 0 ? A + <usize>(3 * (L - 1)) * block + 2 * block : X, inF = L > 0 ? H : 1;
  const wp = params + (off << 2);

  // MSE in f64 in row order, as mse_forward; its gradient in f32, as mse_backward.
  let sum: f64 = 0;
  const scale = <f32>(2.0 / <f64>B);
  for (let n = 0; n < S; n++) {
    const p = <usize>n << 2;
    if (n < B) {
      const d = load<f32>(P + p) - load<f32>(T + p);
      const dd = <f64>load<f32>(P + p) - <f64>load<f32>(T + p);
      sum += dd * dd;
      store<f32>(DP + p, d * scale);
    } else {
      store<f32>(DP + p, 0);
    }
  }

  // Backward, last layer first; the gradients land in the same layout as the parameters.
  linearBackward(L > 0 ? DH : 0, grads + (off << 2), grads + ((off + <usize>H) << 2), DP, input, wp, inF, 1, S);
  for (let l = L - 1; l >= 0; l--) {
    const Z = A + <usize>(3 * l) * block, U = Z + block, Hh = U + block;
    const inL = l == 0 ? 1 : H;
    let base: usize = 0;
    for (let k = 0; k < l; k++) base += <usize>((k == 0 ? 1 : H) * H + H + (hasBn ? 2 * H : 0));
    const w = params + (base << 2), dw = grads + (base << 2);
    const db = dw + (<usize>(H * inL) << 2);
    let dz = DU;
    if (hasBn) {
      const gamma = params + ((base + <usize>(H * inL + H)) << 2);
      const dgamma = grads + ((base + <usize>(H * inL + H)) << 2), dbeta = dgamma + (<usize>H << 2);
      const mean = STATS + (<usize>(2 * l * H) << 3), rstd = mean + (<usize>H << 3);
      bnBackward(DZ, dgamma, dbeta, DU, DH, Hh, act, Z, gamma, mean, rstd, H, B, S);
      dz = DZ;
    } else {
      activateBackward(act, DU, DH, Hh, H * S);
    }
    const x = l == 0 ? X : A + <usize>(3 * (l - 1)) * block + 2 * block;
    linearBackward(l > 0 ? DH : 0, dw, db, dz, x, w, inL, H, S);
  }

  adam_update(params, grads, m, v, 0, nParams, lr, beta1, beta2, adamEps, 0, t, 0);
  return sum / <f64>B;
}

/** Why fused_train_steps stopped before its last step (the low two bits of its result). */
export const STEPS_DONE: i32 = 0;
export const STEPS_NONFINITE_LOSS: i32 = 1;
export const STEPS_NONFINITE_GRADIENT: i32 = 2;
export const STEPS_NONFINITE_PARAMETER: i32 = 3;

/**
 * `count` consecutive training steps, each exactly fused_train_step: step s
 * trains on the next sizes[s] rows of order (from row `from` on) at Adam step
 * t + s, and its loss goes into losses[s] (f64). After each step, as the
 * training loop checks a step: a non-finite loss stops there; a non-finite
 * gradient stops there; otherwise ‖g‖₂ of each of the nSegments gradient
 * segments (pairs of u32: offset and length in floats, into grads) goes into
 * norms[s·nSegments + j] (f64: the square root of data.ts sum_squares, the
 * same value the loop computes per step), and a non-finite parameter stops
 * there. Returns (steps completed) · 4 + why it stopped (STEPS_*): the step
 * that stopped it ran (its update is applied), and its loss and norms are
 * written as far as it got.
 *
 * One call for many steps, so the JavaScript between steps (about as long as
 * a step when cold) runs once per call.
 */
export function fused_train_steps(
  params: usize, grads: usize, m: usize, v: usize, buffers: usize, work: usize,
  xs: usize, ys: usize, order: usize, sizes: usize, count: i32, from: i32,
  H: i32, L: i32, act: i32, bn: i32, eps: f64, momentum: f64,
  lr: f64, beta1: f64, beta2: f64, adamEps: f64, t: i32, nParams: i32,
  losses: usize, segments: usize, nSegments: i32, norms: usize,
): i32 {
  let row = from;
  for (let s = 0; s < count; s++) {
    const B = load<i32>(sizes + (<usize>s << 2));
    const loss = fused_train_step(
      params, grads, m, v, buffers, work, xs, ys, order, row, B,
      H, L, act, bn, eps, momentum, lr, beta1, beta2, adamEps, t + s, nParams,
    );
    if (!isFinite(loss)) return s * 4 + STEPS_NONFINITE_LOSS;
    store<f64>(losses + (<usize>s << 3), loss);
    if (count_nonfinite(grads, nParams) > 0) return s * 4 + STEPS_NONFINITE_GRADIENT;
    for (let j = 0; j < nSegments; j++) {
      const seg = segments + (<usize>j << 3);
      const g = grads + (<usize>load<u32>(seg) << 2);
      store<f64>(norms + (<usize>(s * nSegments + j) << 3), Math.sqrt(sum_squares(g, load<i32>(seg, 4))));
    }
    if (count_nonfinite(params, nParams) > 0) return s * 4 + STEPS_NONFINITE_PARAMETER;
    row += B;
  }
  return count * 4 + STEPS_DONE;
}

/**
 * The eval-mode forward (running statistics, nothing updated) of n rows x, y
 * (one float each): the predictions into pred, every block's u and h left in
 * the work space (fused_activation_offset). Returns the MSE, summed in f64 in
 * row order as mse_forward sums it.
 */
export function fused_eval(
  params: usize, buffers: usize, work: usize, x: usize, y: usize, pred: usize, n: i32,
  H: i32, L: i32, act: i32, bn: i32, eps: f64,
): f64 {
  const S = strideOf(n);
  const row = <usize>S << 2;
  const X = work, P = X + 3 * row, A = X + 4 * row;
  memory.copy(X, x, <usize>n << 2);
  memory.fill(X + (<usize>n << 2), 0, <usize>(S - n) << 2);
  forward(params, buffers, X, P, A, 0, n, S, H, L, act, bn, eps, 0, false);
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) {
    const p = <usize>i << 2;
    const d = <f64>load<f32>(P + p) - <f64>load<f32>(y + p);
    sum += d * d;
  }
  memory.copy(pred, P, <usize>n << 2);
  return sum / <f64>n;
}
