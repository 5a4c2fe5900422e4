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
// The arithmetic is the per-layer kernels' (BN statistics and the normalised
// values in f64, the same running-statistics updates, the same activation and
// Adam code), but the sums of the products run in another order, so the two
// paths agree to rounding, not bit for bit.

import { adam_update } from "./adam";
import { relu_backward, relu_forward, sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward } from "./activations";
import { BN_MYBN, BN_TORCH } from "./batchnorm";

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

/** Bytes of work space a network of L blocks of width H needs for batches of up to B rows. */
export function fused_work_bytes(H: i32, L: i32, B: i32): i32 {
  const S = strideOf(B);
  return (4 * S + 3 * L * H * S + 3 * H * S) * 4 + 2 * L * H * 8 + 64;
}

/** y[o][n] = b[o] + Σ_i w[o][i]·x[i][n] for o < out, n over whole vectors of the stride S. */
// @ts-ignore: decorator
@inline function linear(y: usize, x: usize, w: usize, b: usize, inF: i32, out: i32, S: i32): void {
  const row = <usize>S << 2;
  for (let o = 0; o < out; o++) {
    const bias = f32x4.splat(load<f32>(b + (<usize>o << 2)));
    const wo = w + (<usize>(o * inF) << 2);
    const yo = y + <usize>o * row;
    for (let n = 0; n < S; n += 4) {
      const nb = <usize>n << 2;
      let acc = bias;
      for (let i = 0; i < inF; i++) {
        acc = f32x4.relaxed_madd(f32x4.splat(load<f32>(wo + (<usize>i << 2))), v128.load(x + <usize>i * row + nb), acc);
      }
      v128.store(yo + nb, acc);
    }
  }
}

/** Σ of the four lanes. */
// @ts-ignore: decorator
@inline function lanes(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * The weight gradients of a Linear layer from its output gradient dy[out][S]
 * (zero past the batch) and its input x[in][S]: dw[o][i] = Σ_n dy[o][n]·x[i][n],
 * db[o] = Σ_n dy[o][n] (written). With `dx`, also dx[i][n] = Σ_o w[o][i]·dy[o][n].
 */
// @ts-ignore: decorator
@inline function linearBackward(
  dx: usize, dw: usize, db: usize, dy: usize, x: usize, w: usize, inF: i32, out: i32, S: i32,
): void {
  const row = <usize>S << 2;
  for (let o = 0; o < out; o++) {
    const dyo = dy + <usize>o * row;
    let sum = f32x4.splat(0);
    for (let n = 0; n < S; n += 4) sum = f32x4.add(sum, v128.load(dyo + (<usize>n << 2)));
    store<f32>(db + (<usize>o << 2), lanes(sum));
    for (let i = 0; i < inF; i++) {
      const xi = x + <usize>i * row;
      let acc = f32x4.splat(0);
      for (let n = 0; n < S; n += 4) {
        const nb = <usize>n << 2;
        acc = f32x4.relaxed_madd(v128.load(dyo + nb), v128.load(xi + nb), acc);
      }
      store<f32>(dw + (<usize>(o * inF + i) << 2), lanes(acc));
    }
  }
  if (dx == 0) return;
  for (let i = 0; i < inF; i++) {
    const dxi = dx + <usize>i * row;
    for (let n = 0; n < S; n += 4) {
      const nb = <usize>n << 2;
      let acc = f32x4.splat(0);
      for (let o = 0; o < out; o++) {
        const wv = f32x4.splat(load<f32>(w + (<usize>(o * inF + i) << 2)));
        acc = f32x4.relaxed_madd(wv, v128.load(dy + <usize>o * row + nb), acc);
      }
      v128.store(dxi + nb, acc);
    }
  }
}

/**
 * Training-mode BN of each feature row of z[H][S] over its first B values:
 * mean and biased variance in f64 (two passes), the running statistics
 * updated as the batchnorm module does for `semantics`, u = γ·x̂ + β, and the
 * f64 caches mean[H] and rstd[H] for the backward.
 */
// @ts-ignore: decorator
@inline function bnForward(
  u: usize, mean: usize, rstd: usize, rm: usize, rv: usize, z: usize, gamma: usize, beta: usize,
  H: i32, B: i32, S: i32, eps: f64, momentum: f64, semantics: i32,
): void {
  const row = <usize>S << 2;
  for (let o = 0; o < H; o++) {
    const zo = z + <usize>o * row, uo = u + <usize>o * row;
    let s: f64 = 0;
    for (let n = 0; n < B; n++) s += <f64>load<f32>(zo + (<usize>n << 2));
    const m = s / <f64>B;
    let ss: f64 = 0;
    for (let n = 0; n < B; n++) {
      const d = <f64>load<f32>(zo + (<usize>n << 2)) - m;
      ss += d * d;
    }
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
    const g = <f64>load<f32>(gamma + (<usize>o << 2)), b = <f64>load<f32>(beta + (<usize>o << 2));
    for (let n = 0; n < S; n++) {
      const p = <usize>n << 2;
      store<f32>(uo + p, <f32>(g * ((<f64>load<f32>(zo + p) - m) * r) + b));
    }
  }
}

/**
 * BN's training-mode backward of each feature row over its first B values:
 * dβ = Σdu, dγ = Σdu·x̂ (written), dz = γ·rstd/B·(B·du − Σdu − x̂·Σdu·x̂), zero
 * past the batch.
 */
// @ts-ignore: decorator
@inline function bnBackward(
  dz: usize, dgamma: usize, dbeta: usize, du: usize, z: usize, gamma: usize, mean: usize, rstd: usize,
  H: i32, B: i32, S: i32,
): void {
  const row = <usize>S << 2;
  for (let o = 0; o < H; o++) {
    const zo = z + <usize>o * row, duo = du + <usize>o * row, dzo = dz + <usize>o * row;
    const m = load<f64>(mean + (<usize>o << 3)), r = load<f64>(rstd + (<usize>o << 3));
    let sdy: f64 = 0, sdyx: f64 = 0;
    for (let n = 0; n < B; n++) {
      const p = <usize>n << 2;
      const g = <f64>load<f32>(duo + p);
      sdy += g;
      sdyx += g * ((<f64>load<f32>(zo + p) - m) * r);
    }
    store<f32>(dbeta + (<usize>o << 2), <f32>sdy);
    store<f32>(dgamma + (<usize>o << 2), <f32>sdyx);
    const k = <f64>load<f32>(gamma + (<usize>o << 2)) * r / <f64>B;
    const nf = <f64>B;
    for (let n = 0; n < B; n++) {
      const p = <usize>n << 2;
      const h = (<f64>load<f32>(zo + p) - m) * r;
      store<f32>(dzo + p, <f32>(k * (nf * <f64>load<f32>(duo + p) - sdy - h * sdyx)));
    }
    for (let n = B; n < S; n++) store<f32>(dzo + (<usize>n << 2), 0);
  }
}

// @ts-ignore: decorator
@inline function activate(act: i32, y: usize, x: usize, n: i32): void {
  if (act == ACT_TANH) tanh_forward(y, x, 0, n);
  else if (act == ACT_SIGMOID) sigmoid_forward(y, x, 0, n);
  else relu_forward(y, x, 0, n);
}

// @ts-ignore: decorator
@inline function activateBackward(act: i32, dx: usize, dy: usize, y: usize, n: i32): void {
  if (act == ACT_TANH) tanh_backward(dx, dy, y, n);
  else if (act == ACT_SIGMOID) sigmoid_backward(dx, dy, y, n);
  else relu_backward(dx, dy, y, n);
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

  // Forward: each block's z (Linear), u (BN, or z itself) and h (activation).
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
      const mean = STATS + (<usize>(2 * l * H) << 3), rstd = mean + (<usize>H << 3);
      bnForward(U, mean, rstd, rm, rv, Z, gamma, beta, H, B, S, eps, momentum, bn);
      activate(act, Hh, U, H * S);
    } else {
      activate(act, Hh, Z, H * S);
    }
    input = Hh;
    inF = H;
  }
  const wp = params + (off << 2), bp = wp + (<usize>H << 2);
  linear(P, input, wp, bp, inF, 1, S);

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
    activateBackward(act, DU, DH, Hh, H * S);
    let dz = DU;
    if (hasBn) {
      const gamma = params + ((base + <usize>(H * inL + H)) << 2);
      const dgamma = grads + ((base + <usize>(H * inL + H)) << 2), dbeta = dgamma + (<usize>H << 2);
      const mean = STATS + (<usize>(2 * l * H) << 3), rstd = mean + (<usize>H << 3);
      bnBackward(DZ, dgamma, dbeta, DU, Z, gamma, mean, rstd, H, B, S);
      dz = DZ;
    }
    const x = l == 0 ? X : A + <usize>(3 * (l - 1)) * block + 2 * block;
    linearBackward(l > 0 ? DH : 0, dw, db, dz, x, w, inL, H, S);
  }

  adam_update(params, grads, m, v, 0, nParams, lr, beta1, beta2, adamEps, 0, t, 0);
  return sum / <f64>B;
}
