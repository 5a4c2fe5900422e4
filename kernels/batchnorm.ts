// Batch normalisation over the rows of x[N,C], one statistic per column.
//
// Statistics are accumulated in f64 and with two passes (mean, then the mean
// of squared deviations): a column of values near 1000 with std 0.01 loses
// all its variance to cancellation in a one-pass f32 sum. The per-column
// caches `mean` and `rstd` (= 1/sqrt(var + eps)) are f64 for the same reason:
// x − f32(mean) would be off by half an f32 ulp of 1000, i.e. 0.3% of that std.

import { storeTail } from "./lib/simd";

/** PyTorch `BatchNorm1d`: running ← (1−m)·running + m·batch, unbiased running_var. */
export const BN_TORCH: i32 = 0;
/** The notebook's MyBN: moving ← m·moving + (1−m)·batch, biased moving_var. */
export const BN_MYBN: i32 = 1;

/** Four f32 lanes as two f64x2 halves: [lanes 0–1], [lanes 2–3]. */
// @ts-ignore: decorator
@inline function lo64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
// @ts-ignore: decorator
@inline function hi64(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
}
/** Two f64x2 back to four f32 lanes (one rounding each). */
// @ts-ignore: decorator
@inline function to32(lo: v128, hi: v128): v128 {
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** p[0..n) += the four promoted lanes of v, as two f64x2 read-modify-writes. */
// @ts-ignore: decorator
@inline function addTo(p: usize, lo: v128, hi: v128): void {
  v128.store(p, f64x2.add(v128.load(p), lo));
  v128.store(p, f64x2.add(v128.load(p, 16), hi), 16);
}

// The row loops below take four columns per step (two f64x2 halves). When C
// is not a multiple of four, the last step's extra lanes read the next row (or
// the tensor's padding) into per-column f64 slots past C, which the 32 bytes
// of padding after every f64 vector absorb; nothing past C is stored into an
// f32 tensor (storeTail).

/**
 * Zeroes `bytes` (a multiple of 16) at p with vector stores: for the few
 * dozen bytes of per-column sums, a memory.fill is a call into V8's runtime.
 */
// @ts-ignore: decorator
@inline function zero(p: usize, bytes: usize): void {
  const z = f64x2.splat(0);
  for (let o: usize = 0; o < bytes; o += 16) v128.store(p + o, z);
}

/** Rounds C up to a multiple of four: the f64 slots the four-column steps touch. */
// @ts-ignore: decorator
@inline function padded(C: i32): i32 {
  return (C + 3) & ~3;
}

/**
 * Training-mode forward of columns [c0, c1) (c0 a multiple of 4; threads
 * split by columns, whose statistics are independent). Writes y, the f64
 * caches mean[C] and rstd[C] (for the backward), and updates the running
 * statistics in place. Needs N ≥ 2 (the wrappers refuse N = 1, as PyTorch does).
 */
export function batchnorm_forward(
  y: usize, mean: usize, rstd: usize, runningMean: usize, runningVar: usize,
  x: usize, gamma: usize, beta: usize,
  N: i32, C: i32, eps: f64, momentum: f64, semantics: i32, c0: i32, c1: i32,
): void {
  const rowBytes = <usize>C << 2;
  const slots = <usize>(padded(c1) - c0) << 3;
  zero(mean + (<usize>c0 << 3), slots);
  zero(rstd + (<usize>c0 << 3), slots);
  for (let n = 0; n < N; n++) {
    const row = x + <usize>n * rowBytes;
    for (let c = c0; c < c1; c += 4) {
      const v = v128.load(row + (<usize>c << 2));
      addTo(mean + (<usize>c << 3), lo64(v), hi64(v));
    }
  }
  const invN = f64x2.splat(1.0 / <f64>N);
  for (let c = c0; c < padded(c1); c += 2) {
    const p = mean + (<usize>c << 3);
    v128.store(p, f64x2.mul(v128.load(p), invN));
  }
  // rstd holds Σ(x − mean)² until it is turned into 1/sqrt(var + eps) below.
  for (let n = 0; n < N; n++) {
    const row = x + <usize>n * rowBytes;
    for (let c = c0; c < c1; c += 4) {
      const v = v128.load(row + (<usize>c << 2));
      const m = mean + (<usize>c << 3);
      const d0 = f64x2.sub(lo64(v), v128.load(m));
      const d1 = f64x2.sub(hi64(v), v128.load(m, 16));
      addTo(rstd + (<usize>c << 3), f64x2.mul(d0, d0), f64x2.mul(d1, d1));
    }
  }
  for (let c = c0; c < c1; c++) {
    const m = load<f64>(mean + (<usize>c << 3));
    const ss = load<f64>(rstd + (<usize>c << 3));
    const varBiased = ss / <f64>N;
    const pm = runningMean + (<usize>c << 2);
    const pv = runningVar + (<usize>c << 2);
    if (semantics == BN_MYBN) {
      store<f32>(pm, <f32>(momentum * <f64>load<f32>(pm) + (1 - momentum) * m));
      store<f32>(pv, <f32>(momentum * <f64>load<f32>(pv) + (1 - momentum) * varBiased));
    } else {
      const varUnbiased = ss / <f64>(N - 1);
      store<f32>(pm, <f32>((1 - momentum) * <f64>load<f32>(pm) + momentum * m));
      store<f32>(pv, <f32>((1 - momentum) * <f64>load<f32>(pv) + momentum * varUnbiased));
    }
    store<f64>(rstd + (<usize>c << 3), 1.0 / Math.sqrt(varBiased + eps));
  }
  for (let n = 0; n < N; n++) {
    const xRow = x + <usize>n * rowBytes;
    const yRow = y + <usize>n * rowBytes;
    for (let c = c0; c < c1; c += 4) {
      const o4 = <usize>c << 2;
      const o8 = <usize>c << 3;
      const v = v128.load(xRow + o4);
      const g = v128.load(gamma + o4), b = v128.load(beta + o4);
      const h0 = f64x2.mul(f64x2.sub(lo64(v), v128.load(mean + o8)), v128.load(rstd + o8));
      const h1 = f64x2.mul(f64x2.sub(hi64(v), v128.load(mean + o8, 16)), v128.load(rstd + o8, 16));
      const y0 = f64x2.relaxed_madd(lo64(g), h0, lo64(b));
      const y1 = f64x2.relaxed_madd(hi64(g), h1, hi64(b));
      storeTail(yRow + o4, to32(y0, y1), c1 - c);
    }
  }
}

/**
 * Training-mode backward of columns [c0, c1) (c0 a multiple of 4), autograd
 * through the batch mean and variance:
 *   dβ += Σ dy,  dγ += Σ dy·x̂,
 *   dx += γ·rstd/N · (N·dy − Σdy − x̂·Σ(dy·x̂)).
 * `sums` is caller-provided f64 scratch of 2·⌈C/4⌉·4 values.
 */
export function batchnorm_backward(
  dx: usize, dgamma: usize, dbeta: usize, sums: usize,
  dy: usize, x: usize, gamma: usize, mean: usize, rstd: usize,
  N: i32, C: i32, c0: i32, c1: i32,
): void {
  const rowBytes = <usize>C << 2;
  const C4 = padded(C);
  const sdy = sums;
  const sdyx = sums + (<usize>C4 << 3);
  const slots = <usize>(padded(c1) - c0) << 3;
  zero(sdy + (<usize>c0 << 3), slots);
  zero(sdyx + (<usize>c0 << 3), slots);
  for (let n = 0; n < N; n++) {
    const xRow = x + <usize>n * rowBytes;
    const dyRow = dy + <usize>n * rowBytes;
    for (let c = c0; c < c1; c += 4) {
      const o4 = <usize>c << 2;
      const o8 = <usize>c << 3;
      const v = v128.load(xRow + o4), g = v128.load(dyRow + o4);
      const g0 = lo64(g), g1 = hi64(g);
      const h0 = f64x2.mul(f64x2.sub(lo64(v), v128.load(mean + o8)), v128.load(rstd + o8));
      const h1 = f64x2.mul(f64x2.sub(hi64(v), v128.load(mean + o8, 16)), v128.load(rstd + o8, 16));
      addTo(sdy + o8, g0, g1);
      addTo(sdyx + o8, f64x2.mul(g0, h0), f64x2.mul(g1, h1));
    }
  }
  for (let c = c0; c < c1; c++) {
    const o4 = <usize>c << 2;
    const o8 = <usize>c << 3;
    store<f32>(dbeta + o4, load<f32>(dbeta + o4) + <f32>load<f64>(sdy + o8));
    store<f32>(dgamma + o4, load<f32>(dgamma + o4) + <f32>load<f64>(sdyx + o8));
  }
  const nf = f64x2.splat(<f64>N);
  const invN = f64x2.splat(1.0 / <f64>N);
  for (let n = 0; n < N; n++) {
    const xRow = x + <usize>n * rowBytes;
    const dyRow = dy + <usize>n * rowBytes;
    const dxRow = dx + <usize>n * rowBytes;
    for (let c = c0; c < c1; c += 4) {
      const o4 = <usize>c << 2;
      const o8 = <usize>c << 3;
      const v = v128.load(xRow + o4), g = v128.load(dyRow + o4), gm = v128.load(gamma + o4);
      const r0 = v128.load(rstd + o8), r1 = v128.load(rstd + o8, 16);
      const h0 = f64x2.mul(f64x2.sub(lo64(v), v128.load(mean + o8)), r0);
      const h1 = f64x2.mul(f64x2.sub(hi64(v), v128.load(mean + o8, 16)), r1);
      // N·dy − Σdy − x̂·Σdy·x̂, then × γ·rstd/N
      const t0 = f64x2.sub(f64x2.sub(f64x2.mul(nf, lo64(g)), v128.load(sdy + o8)), f64x2.mul(h0, v128.load(sdyx + o8)));
      const t1 = f64x2.sub(
        f64x2.sub(f64x2.mul(nf, hi64(g)), v128.load(sdy + o8, 16)),
        f64x2.mul(h1, v128.load(sdyx + o8, 16)),
      );
      const d0 = f64x2.mul(f64x2.mul(f64x2.mul(lo64(gm), r0), invN), t0);
      const d1 = f64x2.mul(f64x2.mul(f64x2.mul(hi64(gm), r1), invN), t1);
      storeTail(dxRow + o4, f32x4.add(v128.load(dxRow + o4), to32(d0, d1)), c1 - c);
    }
  }
}

/** γ/sqrt(running_var + eps) for four columns, formed in f64 and rounded once to f32. */
// @ts-ignore: decorator
@inline function evalScale(gamma: usize, runningVar: usize, eps: v128): v128 {
  const g = v128.load(gamma), rv = v128.load(runningVar);
  return to32(
    f64x2.div(lo64(g), f64x2.sqrt(f64x2.add(lo64(rv), eps))),
    f64x2.div(hi64(g), f64x2.sqrt(f64x2.add(hi64(rv), eps))),
  );
}

/**
 * Eval-mode forward with the running statistics, which it leaves untouched:
 * y = γ·(x − running_mean)/sqrt(running_var + eps) + β. The scale
 * γ/sqrt(running_var + eps) is formed once per column; x − running_mean is
 * exact in f32 when the two are within a factor of two (Sterbenz), so f32
 * arithmetic keeps the ill-conditioned columns accurate. Columns go in
 * blocks of eight (one 32-byte piece of each row) down all the rows.
 */
export function batchnorm_eval_forward(
  y: usize, x: usize, gamma: usize, beta: usize, runningMean: usize, runningVar: usize,
  N: i32, C: i32, eps: f64,
): void {
  const rowBytes = <usize>C << 2;
  const e = f64x2.splat(eps);
  for (let c = 0; c < C; c += 8) {
    const o4 = <usize>c << 2;
    const rest = C - c;
    const s0 = evalScale(gamma + o4, runningVar + o4, e);
    const m0 = v128.load(runningMean + o4), b0 = v128.load(beta + o4);
    // A second chunk only where columns remain (its loads would leave the tensors otherwise).
    const two = rest > 4;
    const s1 = two ? evalScale(gamma + o4 + 16, runningVar + o4 + 16, e) : s0;
    const m1 = two ? v128.load(runningMean + o4 + 16) : m0, b1 = two ? v128.load(beta + o4 + 16) : b0;
    for (let n = 0; n < N; n++) {
      const off = <usize>n * rowBytes + o4;
      storeTail(y + off, f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + off), m0), s0), b0), rest);
      if (two) storeTail(y + off + 16, f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + off, 16), m1), s1), b1), rest - 4);
    }
  }
}

/**
 * Eval-mode backward: the statistics are constants, so
 * dx += dy·γ·rstd,  dγ += Σ dy·x̂,  dβ += Σ dy  (sums in f64).
 */
export function batchnorm_eval_backward(
  dx: usize, dgamma: usize, dbeta: usize,
  dy: usize, x: usize, gamma: usize, runningMean: usize, runningVar: usize,
  N: i32, C: i32, eps: f64,
): void {
  const rowBytes = <usize>C << 2;
  for (let c = 0; c < C; c++) {
    const o4 = <usize>c << 2;
    const m = <f64>load<f32>(runningMean + o4);
    const r = 1.0 / Math.sqrt(<f64>load<f32>(runningVar + o4) + eps);
    const scale = <f64>load<f32>(gamma + o4) * r;
    let sdy: f64 = 0, sdyx: f64 = 0;
    for (let n = 0; n < N; n++) {
      const off = <usize>n * rowBytes + o4;
      const g = <f64>load<f32>(dy + off);
      sdy += g;
      sdyx += g * (<f64>load<f32>(x + off) - m) * r;
      store<f32>(dx + off, load<f32>(dx + off) + <f32>(g * scale));
    }
    store<f32>(dbeta + o4, load<f32>(dbeta + o4) + <f32>sdy);
    store<f32>(dgamma + o4, load<f32>(dgamma + o4) + <f32>sdyx);
  }
}
