// Batch normalisation over the rows of x[N,C], one statistic per column.
//
// Statistics are accumulated in f64 and with two passes (mean, then the mean
// of squared deviations): a column of values near 1000 with std 0.01 loses
// all its variance to cancellation in a one-pass f32 sum. The per-column
// caches `mean` and `rstd` (= 1/sqrt(var + eps)) are f64 for the same reason:
// x − f32(mean) would be off by half an f32 ulp of 1000, i.e. 0.3% of that std.

/** PyTorch `BatchNorm1d`: running ← (1−m)·running + m·batch, unbiased running_var. */
export const BN_TORCH: i32 = 0;
/** The notebook's MyBN: moving ← m·moving + (1−m)·batch, biased moving_var. */
export const BN_MYBN: i32 = 1;

/**
 * Training-mode forward. Writes y, the f64 caches mean[C] and rstd[C] (for the
 * backward), and updates the running statistics in place. Needs N ≥ 2 (the
 * wrappers refuse N = 1, as PyTorch does).
 */
export function batchnorm_forward(
  y: usize, mean: usize, rstd: usize, runningMean: usize, runningVar: usize,
  x: usize, gamma: usize, beta: usize,
  N: i32, C: i32, eps: f64, momentum: f64, semantics: i32,
): void {
  const rowBytes = <usize>C << 2;
  for (let c = 0; c < C; c++) {
    store<f64>(mean + (<usize>c << 3), 0);
    store<f64>(rstd + (<usize>c << 3), 0);
  }
  for (let n = 0; n < N; n++) {
    const row = x + <usize>n * rowBytes;
    for (let c = 0; c < C; c++) {
      const p = mean + (<usize>c << 3);
      store<f64>(p, load<f64>(p) + <f64>load<f32>(row + (<usize>c << 2)));
    }
  }
  const invN = 1.0 / <f64>N;
  for (let c = 0; c < C; c++) {
    const p = mean + (<usize>c << 3);
    store<f64>(p, load<f64>(p) * invN);
  }
  // rstd holds Σ(x − mean)² until it is turned into 1/sqrt(var + eps) below.
  for (let n = 0; n < N; n++) {
    const row = x + <usize>n * rowBytes;
    for (let c = 0; c < C; c++) {
      const d = <f64>load<f32>(row + (<usize>c << 2)) - load<f64>(mean + (<usize>c << 3));
      const p = rstd + (<usize>c << 3);
      store<f64>(p, load<f64>(p) + d * d);
    }
  }
  for (let c = 0; c < C; c++) {
    const m = load<f64>(mean + (<usize>c << 3));
    const ss = load<f64>(rstd + (<usize>c << 3));
    const varBiased = ss * invN;
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
    for (let c = 0; c < C; c++) {
      const o4 = <usize>c << 2;
      const o8 = <usize>c << 3;
      const xhat = (<f64>load<f32>(xRow + o4) - load<f64>(mean + o8)) * load<f64>(rstd + o8);
      store<f32>(yRow + o4, <f32>(<f64>load<f32>(gamma + o4) * xhat + <f64>load<f32>(beta + o4)));
    }
  }
}

/**
 * Training-mode backward, autograd through the batch mean and variance:
 *   dβ += Σ dy,  dγ += Σ dy·x̂,
 *   dx += γ·rstd/N · (N·dy − Σdy − x̂·Σ(dy·x̂)).
 * `sums` is caller-provided f64 scratch of 2·C values.
 */
export function batchnorm_backward(
  dx: usize, dgamma: usize, dbeta: usize, sums: usize,
  dy: usize, x: usize, gamma: usize, mean: usize, rstd: usize,
  N: i32, C: i32,
): void {
  sumDyAndDyXhat(sums, dy, x, mean, rstd, N, C);
  const rowBytes = <usize>C << 2;
  const invN = 1.0 / <f64>N;
  for (let c = 0; c < C; c++) {
    const o4 = <usize>c << 2;
    const o8 = <usize>c << 3;
    store<f32>(dbeta + o4, load<f32>(dbeta + o4) + <f32>load<f64>(sums + o8));
    store<f32>(dgamma + o4, load<f32>(dgamma + o4) + <f32>load<f64>(sums + (<usize>C << 3) + o8));
  }
  for (let n = 0; n < N; n++) {
    const xRow = x + <usize>n * rowBytes;
    const dyRow = dy + <usize>n * rowBytes;
    const dxRow = dx + <usize>n * rowBytes;
    for (let c = 0; c < C; c++) {
      const o4 = <usize>c << 2;
      const o8 = <usize>c << 3;
      const r = load<f64>(rstd + o8);
      const xhat = (<f64>load<f32>(xRow + o4) - load<f64>(mean + o8)) * r;
      const sdy = load<f64>(sums + o8);
      const sdyx = load<f64>(sums + (<usize>C << 3) + o8);
      const g = <f64>load<f32>(dyRow + o4);
      const d = <f64>load<f32>(gamma + o4) * r * invN * (<f64>N * g - sdy - xhat * sdyx);
      store<f32>(dxRow + o4, load<f32>(dxRow + o4) + <f32>d);
    }
  }
}

/**
 * Eval-mode forward with the running statistics, which it leaves untouched:
 * y = γ·(x − running_mean)/sqrt(running_var + eps) + β.
 * x − running_mean is exact in f32 when the two are within a factor of two
 * (Sterbenz), so f32 arithmetic keeps the ill-conditioned columns accurate.
 */
export function batchnorm_eval_forward(
  y: usize, x: usize, gamma: usize, beta: usize, runningMean: usize, runningVar: usize,
  N: i32, C: i32, eps: f64,
): void {
  const rowBytes = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const xRow = x + <usize>n * rowBytes;
    const yRow = y + <usize>n * rowBytes;
    for (let c = 0; c < C; c++) {
      const o4 = <usize>c << 2;
      const scale = <f32>(<f64>load<f32>(gamma + o4) / Math.sqrt(<f64>load<f32>(runningVar + o4) + eps));
      store<f32>(yRow + o4, (load<f32>(xRow + o4) - load<f32>(runningMean + o4)) * scale + load<f32>(beta + o4));
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

/** sums[0..C) = Σ_n dy, sums[C..2C) = Σ_n dy·x̂, in f64. */
function sumDyAndDyXhat(sums: usize, dy: usize, x: usize, mean: usize, rstd: usize, N: i32, C: i32): void {
  const rowBytes = <usize>C << 2;
  const second = sums + (<usize>C << 3);
  for (let c = 0; c < C; c++) {
    store<f64>(sums + (<usize>c << 3), 0);
    store<f64>(second + (<usize>c << 3), 0);
  }
  for (let n = 0; n < N; n++) {
    const xRow = x + <usize>n * rowBytes;
    const dyRow = dy + <usize>n * rowBytes;
    for (let c = 0; c < C; c++) {
      const o4 = <usize>c << 2;
      const o8 = <usize>c << 3;
      const g = <f64>load<f32>(dyRow + o4);
      const xhat = (<f64>load<f32>(xRow + o4) - load<f64>(mean + o8)) * load<f64>(rstd + o8);
      store<f64>(sums + o8, load<f64>(sums + o8) + g);
      store<f64>(second + o8, load<f64>(second + o8) + g * xhat);
    }
  }
}
