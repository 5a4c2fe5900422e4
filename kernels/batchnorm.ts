// Batch normalisation over the rows of x[N,C], one statistic per column.
//
// Statistics are accumulated in f64 and with two passes (mean, then the mean
// of squared deviations): a column of values near 1000 with std 0.01 loses
// all its variance to cancellation in a one-pass f32 sum. The per-column
// caches `mean` and `rstd` (= 1/sqrt(var + eps)) are f64 for the same reason:
// x − f32(mean) would be off by half an f32 ulp of 1000, i.e. 0.3% of that std.

import { hi64, hi64At, lo64, lo64At, madd64, storeTail } from "./lib/simd";

/** PyTorch `BatchNorm1d`: running ← (1−m)·running + m·batch, unbiased running_var. */
export const BN_TORCH: i32 = 0;
/** The notebook's MyBN: moving ← m·moving + (1−m)·batch, biased moving_var. */
export const BN_MYBN: i32 = 1;

/** Two f64x2 back to four f32 lanes (one rounding each). */
// @ts-ignore: decorator
@inline function to32(lo: v128, hi: v128): v128 {
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

// Loop order. The column statistics are sums down the rows, each column's
// terms added in row order (so any split of the columns, over threads or
// blocks, gives the same bits). The rows are taken in chunks of about 16 KiB
// that stay in L1 while every column block passes over them; within a chunk a
// block of eight columns keeps four f64x2 sums in registers (four independent
// add chains), and a block of four columns takes what remains. Between chunks
// the sums wait in the per-column f64 slots. When C is not a multiple of four,
// the last block's extra lanes read the next row (or the tensor's padding)
// into slots past C, which the 32 bytes of padding after every f64 vector
// absorb; nothing past C is stored into an f32 tensor (storeTail).

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

/** Rows per chunk: about 16 KiB of one tensor, at least 8 rows. */
// @ts-ignore: decorator
@inline function chunkRows(rowBytes: usize): i32 {
  return max(8, <i32>(16384 / rowBytes));
}

/** x̂ for the f64 pair `lo` (or hi) of four columns: (x − mean)·rstd, mean and rstd at slot p. */
// @ts-ignore: decorator
@inline function xhat(x: v128, mean: usize, rstd: usize): v128 {
  return f64x2.mul(f64x2.sub(x, v128.load(mean)), v128.load(rstd));
}

/**
 * Σ over rows [n0, n1) of columns [c, c+4·G) into the f64 slots at `acc`, G = 1
 * or 2 four-column groups. `kind` 0 adds x (the mean's sum); 1 adds (x − mean)²
 * with the mean at `mean` (the variance's sum).
 */
// @ts-ignore: decorator
@inline function columnSums(
  acc: usize, mean: usize, x: usize, rowBytes: usize, n0: i32, n1: i32, G: i32, kind: i32,
): void {
  let a0 = v128.load(acc), a1 = v128.load(acc, 16);
  let a2 = G == 2 ? v128.load(acc, 32) : a0, a3 = G == 2 ? v128.load(acc, 48) : a1;
  let p = x + <usize>n0 * rowBytes;
  for (let n = n0; n < n1; n++) {
    let l0 = lo64At(p), h0 = hi64At(p);
    if (kind == 1) {
      l0 = f64x2.sub(l0, v128.load(mean));
      h0 = f64x2.sub(h0, v128.load(mean, 16));
      l0 = f64x2.mul(l0, l0);
      h0 = f64x2.mul(h0, h0);
    }
    a0 = f64x2.add(a0, l0);
    a1 = f64x2.add(a1, h0);
    if (G == 2) {
      let l1 = lo64At(p + 16), h1 = hi64At(p + 16);
      if (kind == 1) {
        l1 = f64x2.sub(l1, v128.load(mean, 32));
        h1 = f64x2.sub(h1, v128.load(mean, 48));
        l1 = f64x2.mul(l1, l1);
        h1 = f64x2.mul(h1, h1);
      }
      a2 = f64x2.add(a2, l1);
      a3 = f64x2.add(a3, h1);
    }
    p += rowBytes;
  }
  v128.store(acc, a0);
  v128.store(acc, a1, 16);
  if (G == 2) {
    v128.store(acc, a2, 32);
    v128.store(acc, a3, 48);
  }
}

/** {@link columnSums} over all rows and columns [c0, c1): chunks of rows, blocks of 8 then 4 columns. */
// @ts-ignore: decorator
@inline function allColumnSums(
  acc: usize, mean: usize, x: usize, N: i32, C: i32, c0: i32, c1: i32, kind: i32,
): void {
  const rowBytes = <usize>C << 2;
  const R = chunkRows(rowBytes);
  const cEnd = padded(c1);
  for (let n0 = 0; n0 < N; n0 += R) {
    const n1 = min(n0 + R, N);
    let c = c0;
    for (; c + 8 <= cEnd; c += 8) {
      columnSums(acc + (<usize>c << 3), mean + (<usize>c << 3), x + (<usize>c << 2), rowBytes, n0, n1, 2, kind);
    }
    if (c < cEnd) {
      columnSums(acc + (<usize>c << 3), mean + (<usize>c << 3), x + (<usize>c << 2), rowBytes, n0, n1, 1, kind);
    }
  }
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
  allColumnSums(mean, 0, x, N, C, c0, c1, 0);
  const invN = f64x2.splat(1.0 / <f64>N);
  for (let c = c0; c < padded(c1); c += 2) {
    const p = mean + (<usize>c << 3);
    v128.store(p, f64x2.mul(v128.load(p), invN));
  }
  // rstd holds Σ(x − mean)² until it is turned into 1/sqrt(var + eps) below.
  allColumnSums(rstd, mean, x, N, C, c0, c1, 1);
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
  // y = γ·x̂ + β, four columns at a time with their statistics and γ, β in registers.
  const R = chunkRows(rowBytes);
  for (let n0 = 0; n0 < N; n0 += R) {
    const n1 = min(n0 + R, N);
    for (let c = c0; c < c1; c += 4) {
      const o4 = <usize>c << 2;
      const o8 = <usize>c << 3;
      const m0 = v128.load(mean + o8), m1 = v128.load(mean + o8, 16);
      const r0 = v128.load(rstd + o8), r1 = v128.load(rstd + o8, 16);
      const g = v128.load(gamma + o4), b = v128.load(beta + o4);
      const g0 = lo64(g), g1 = hi64(g), b0 = lo64(b), b1 = hi64(b);
      const rest = c1 - c;
      let px = x + <usize>n0 * rowBytes + o4, py = y + <usize>n0 * rowBytes + o4;
      for (let n = n0; n < n1; n++) {
        const h0 = f64x2.mul(f64x2.sub(lo64At(px), m0), r0);
        const h1 = f64x2.mul(f64x2.sub(hi64At(px), m1), r1);
        storeTail(py, to32(madd64(g0, h0, b0), madd64(g1, h1, b1)), rest);
        px += rowBytes;
        py += rowBytes;
      }
    }
  }
}

/**
 * Σdy and Σdy·x̂ over rows [n0, n1) of columns [c, c+4·G), G = 1 or 2
 * four-column groups, into the f64 slots at sdy and sdyx: 4·G independent
 * chains of adds (one group alone is bound by the add latency).
 */
// @ts-ignore: decorator
@inline function gradientSums(
  sdy: usize, sdyx: usize, mean: usize, rstd: usize, x: usize, dy: usize, rowBytes: usize, n0: i32, n1: i32,
  G: i32,
): void {
  let s0 = v128.load(sdy), s1 = v128.load(sdy, 16);
  let t0 = v128.load(sdyx), t1 = v128.load(sdyx, 16);
  let s2 = G == 2 ? v128.load(sdy, 32) : s0, s3 = G == 2 ? v128.load(sdy, 48) : s1;
  let t2 = G == 2 ? v128.load(sdyx, 32) : t0, t3 = G == 2 ? v128.load(sdyx, 48) : t1;
  const off = <usize>n0 * rowBytes;
  let px = x + off, pg = dy + off;
  for (let n = n0; n < n1; n++) {
    const g0 = lo64At(pg), g1 = hi64At(pg);
    s0 = f64x2.add(s0, g0);
    s1 = f64x2.add(s1, g1);
    t0 = f64x2.add(t0, f64x2.mul(g0, xhat(lo64At(px), mean, rstd)));
    t1 = f64x2.add(t1, f64x2.mul(g1, xhat(hi64At(px), mean + 16, rstd + 16)));
    if (G == 2) {
      const g2 = lo64At(pg + 16), g3 = hi64At(pg + 16);
      s2 = f64x2.add(s2, g2);
      s3 = f64x2.add(s3, g3);
      t2 = f64x2.add(t2, f64x2.mul(g2, xhat(lo64At(px + 16), mean + 32, rstd + 32)));
      t3 = f64x2.add(t3, f64x2.mul(g3, xhat(hi64At(px + 16), mean + 48, rstd + 48)));
    }
    px += rowBytes;
    pg += rowBytes;
  }
  v128.store(sdy, s0);
  v128.store(sdy, s1, 16);
  v128.store(sdyx, t0);
  v128.store(sdyx, t1, 16);
  if (G == 2) {
    v128.store(sdy, s2, 32);
    v128.store(sdy, s3, 48);
    v128.store(sdyx, t2, 32);
    v128.store(sdyx, t3, 48);
  }
}

/**
 * Training-mode backward of columns [c0, c1) (c0 a multiple of 4), autograd
 * through the batch mean and variance:
 *   dβ += Σ dy,  dγ += Σ dy·x̂,
 *   dx  = γ·rstd/N · (N·dy − Σdy − x̂·Σ(dy·x̂))   (written, not accumulated).
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
  const R = chunkRows(rowBytes);
  for (let n0 = 0; n0 < N; n0 += R) {
    const n1 = min(n0 + R, N);
    let c = c0;
    for (; c + 8 <= padded(c1); c += 8) {
      const o4 = <usize>c << 2, o8 = <usize>c << 3;
      gradientSums(sdy + o8, sdyx + o8, mean + o8, rstd + o8, x + o4, dy + o4, rowBytes, n0, n1, 2);
    }
    if (c < c1) {
      const o4 = <usize>c << 2, o8 = <usize>c << 3;
      gradientSums(sdy + o8, sdyx + o8, mean + o8, rstd + o8, x + o4, dy + o4, rowBytes, n0, n1, 1);
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
  for (let n0 = 0; n0 < N; n0 += R) {
    const n1 = min(n0 + R, N);
    for (let c = c0; c < c1; c += 4) {
      const o4 = <usize>c << 2;
      const o8 = <usize>c << 3;
      const gm = v128.load(gamma + o4);
      const m0 = v128.load(mean + o8), m1 = v128.load(mean + o8, 16);
      const r0 = v128.load(rstd + o8), r1 = v128.load(rstd + o8, 16);
      const s0 = v128.load(sdy + o8), s1 = v128.load(sdy + o8, 16);
      const t0 = v128.load(sdyx + o8), t1 = v128.load(sdyx + o8, 16);
      // γ·rstd/N, as ((γ·rstd)·(1/N))
      const k0 = f64x2.mul(f64x2.mul(lo64(gm), r0), invN);
      const k1 = f64x2.mul(f64x2.mul(hi64(gm), r1), invN);
      const rest = c1 - c;
      const off = <usize>n0 * rowBytes + o4;
      let px = x + off, pg = dy + off, pd = dx + off;
      for (let n = n0; n < n1; n++) {
        const h0 = f64x2.mul(f64x2.sub(lo64At(px), m0), r0);
        const h1 = f64x2.mul(f64x2.sub(hi64At(px), m1), r1);
        // N·dy − Σdy − x̂·Σdy·x̂, then × γ·rstd/N
        const u0 = f64x2.sub(f64x2.sub(f64x2.mul(nf, lo64At(pg)), s0), f64x2.mul(h0, t0));
        const u1 = f64x2.sub(f64x2.sub(f64x2.mul(nf, hi64At(pg)), s1), f64x2.mul(h1, t1));
        storeTail(pd, to32(f64x2.mul(k0, u0), f64x2.mul(k1, u1)), rest);
        px += rowBytes;
        pg += rowBytes;
        pd += rowBytes;
      }
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
 * dx = dy·γ·rstd,  dγ += Σ dy·x̂,  dβ += Σ dy  (sums in f64).
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
      store<f32>(dx + off, <f32>(g * scale));
    }
    store<f32>(dbeta + o4, load<f32>(dbeta + o4) + <f32>sdy);
    store<f32>(dgamma + o4, load<f32>(dgamma + o4) + <f32>sdyx);
  }
}

/**
 * The `noisy` variant's perturbation after BN (Santurkar et al. 2018, §2.1):
 * y[n, c] = x[n, c]·scale[c] + shift[c], a shift and scale drawn afresh for
 * every step and unit. In place is fine (y = x).
 */
export function noise_forward(y: usize, x: usize, scale: usize, shift: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const row = <usize>(n * C) << 2;
    for (let c = 0; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(y + row + o, load<f32>(x + row + o) * load<f32>(scale + o) + load<f32>(shift + o));
    }
  }
}

/** The perturbation's backward: dx[n, c] = dy[n, c]·scale[c] (in place is fine). */
export function noise_backward(dx: usize, dy: usize, scale: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const row = <usize>(n * C) << 2;
    for (let c = 0; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(dx + row + o, load<f32>(dy + row + o) * load<f32>(scale + o));
    }
  }
}
