/**
 * Typed wrappers of `kernels/batchnorm.ts`: batch normalisation over the rows
 * of x[N,C], in training mode (batch statistics, running-stat update) and in
 * eval mode (running statistics, untouched).
 *
 * Two semantics share the kernels ({@link BnSemantics}):
 * - `"torch"`, PyTorch's `BatchNorm1d`: running ← (1−m)·running + m·batch,
 *   with the unbiased batch variance in running_var;
 * - `"mybn"`, the notebook's MyBN: moving ← m·moving + (1−m)·batch, with the
 *   biased variance.
 *
 * @example
 * ```ts
 * import { arena } from "./arena.ts";
 * import { batchnorm_forward } from "./batchnorm.ts";
 * const x = arena.f32([3, 2]).set([1, 2, 3, 4, 5, 6]);
 * const gamma = arena.f32([2]).set([1, 1]), beta = arena.f32([2]);
 * const rm = arena.f32([2]), rv = arena.f32([2]).set([1, 1]);
 * const mean = arena.f64([2]), rstd = arena.f64([2]);
 * const y = arena.f32([3, 2]);
 * batchnorm_forward(y, mean, rstd, rm, rv, x, gamma, beta, 1e-5, 0.5, "torch");
 * // y ≈ [[-1.2247, -1.2247], [0, 0], [1.2247, 1.2247]]
 * ```
 * @module
 */
import * as k from "bnlab-kernels/batchnorm.wasm";
import type { Tensor } from "./arena.ts";
import { expectF64, expectShape } from "./shapes.ts";
import { dispatch } from "./threads.ts";

/** Which running-statistics convention a BN layer follows. */
export type BnSemantics = "torch" | "mybn";

/**
 * The f64 scratch `batchnorm_backward` needs for C columns: two sums per
 * column, each half rounded up to a multiple of four (the kernel works on
 * four columns at a time).
 */
export function batchnormSumsLength(C: number): number {
  return 2 * (Math.ceil(C / 4) * 4);
}

/** Rough cost of one element of a BN pass, in flops, for deciding whether to use threads. */
const BN_WORK_PER_ELEMENT = 30;

const SEMANTICS: Record<BnSemantics, number> = {
  torch: k.BN_TORCH,
  mybn: k.BN_MYBN,
};

function checkCommon(what: string, x: Tensor, y: Tensor, gamma: Tensor, rm: Tensor, rv: Tensor): [number, number] {
  if (x.shape.length !== 2) throw new RangeError(`${what}: expected x of shape [N, C], got [${x.shape}]`);
  const [N, C] = x.shape;
  expectShape(`${what} x`, x, N, C);
  expectShape(`${what} y`, y, N, C);
  expectShape(`${what} gamma`, gamma, C);
  expectShape(`${what} running_mean`, rm, C);
  expectShape(`${what} running_var`, rv, C);
  return [N, C];
}

/**
 * Training-mode forward: y = γ·(x − mean)/sqrt(var + eps) + β with the batch's
 * mean and biased variance; writes the f64 caches `mean` and `rstd`
 * (= 1/sqrt(var + eps)) for the backward, and updates the running statistics.
 * Refuses a one-row batch, as PyTorch does. Large batches are split by
 * columns over the thread pool (src/threads.ts).
 */
export function batchnorm_forward(
  y: Tensor,
  mean: Tensor,
  rstd: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  momentum: number,
  semantics: BnSemantics,
): void {
  const [N, C] = checkCommon("batchnorm_forward", x, y, gamma, runningMean, runningVar);
  expectShape("batchnorm_forward beta", beta, C);
  expectF64("batchnorm_forward mean", mean, C);
  expectF64("batchnorm_forward rstd", rstd, C);
  if (N < 2) {
    throw new RangeError(
      `batchnorm_forward: expected more than 1 value per channel when training, got input size [${x.shape}]`,
    );
  }
  const sem = SEMANTICS[semantics];
  const [rm, rv] = [runningMean.ptr, runningVar.ptr];
  const args = [y.ptr, mean.ptr, rstd.ptr, rm, rv, x.ptr, gamma.ptr, beta.ptr, N, C, eps, momentum, sem];
  dispatch(BN_WORK_PER_ELEMENT * N * C, "batchnorm_forward", C, 4, -1, ...args);
}

/**
 * Training-mode backward (through the batch statistics): accumulates
 * dβ += Σdy, dγ += Σdy·x̂ and writes dx = γ·rstd/N·(N·dy − Σdy − x̂·Σdy·x̂).
 * `sums` is f64 scratch of {@link batchnormSumsLength}(C) values.
 */
export function batchnorm_backward(
  dx: Tensor,
  dgamma: Tensor,
  dbeta: Tensor,
  sums: Tensor,
  dy: Tensor,
  x: Tensor,
  gamma: Tensor,
  mean: Tensor,
  rstd: Tensor,
): void {
  const [N, C] = x.shape;
  expectShape("batchnorm_backward dx", dx, N, C);
  expectShape("batchnorm_backward dy", dy, N, C);
  expectShape("batchnorm_backward dgamma", dgamma, C);
  expectShape("batchnorm_backward dbeta", dbeta, C);
  expectShape("batchnorm_backward gamma", gamma, C);
  expectF64("batchnorm_backward sums", sums, batchnormSumsLength(C));
  expectF64("batchnorm_backward mean", mean, C);
  expectF64("batchnorm_backward rstd", rstd, C);
  const args = [dx.ptr, dgamma.ptr, dbeta.ptr, sums.ptr, dy.ptr, x.ptr, gamma.ptr, mean.ptr, rstd.ptr, N, C];
  dispatch(BN_WORK_PER_ELEMENT * N * C, "batchnorm_backward", C, 4, -1, ...args);
}

/** Eval-mode forward with the running statistics, which it does not change. */
export function batchnorm_eval_forward(
  y: Tensor,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  eps: number,
): void {
  const [N, C] = checkCommon("batchnorm_eval_forward", x, y, gamma, runningMean, runningVar);
  expectShape("batchnorm_eval_forward beta", beta, C);
  k.batchnorm_eval_forward(y.ptr, x.ptr, gamma.ptr, beta.ptr, runningMean.ptr, runningVar.ptr, N, C, eps);
}

/** Eval-mode backward: dx = dy·γ·rstd, dγ += Σdy·x̂, dβ += Σdy. */
export function batchnorm_eval_backward(
  dx: Tensor,
  dgamma: Tensor,
  dbeta: Tensor,
  dy: Tensor,
  x: Tensor,
  gamma: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  eps: number,
): void {
  const [N, C] = checkCommon("batchnorm_eval_backward", x, dx, gamma, runningMean, runningVar);
  expectShape("batchnorm_eval_backward dy", dy, N, C);
  expectShape("batchnorm_eval_backward dgamma", dgamma, C);
  expectShape("batchnorm_eval_backward dbeta", dbeta, C);
  k.batchnorm_eval_backward(
    dx.ptr,
    dgamma.ptr,
    dbeta.ptr,
    dy.ptr,
    x.ptr,
    gamma.ptr,
    runningMean.ptr,
    runningVar.ptr,
    N,
    C,
    eps,
  );
}

/**
 * The `noisy` variant's perturbation of a BN output x [N, C]:
 * y = x·scale + shift per column, scale and shift [C] (y may be x).
 */
export function noise_forward(y: Tensor, x: Tensor, scale: Tensor, shift: Tensor): void {
  const [N, C] = x.shape;
  expectShape("noise_forward y", y, N, C);
  expectShape("noise_forward scale", scale, C);
  expectShape("noise_forward shift", shift, C);
  k.noise_forward(y.ptr, x.ptr, scale.ptr, shift.ptr, N, C);
}

/** The perturbation's backward: dx = dy·scale per column (dx may be dy). */
export function noise_backward(dx: Tensor, dy: Tensor, scale: Tensor): void {
  const [N, C] = dy.shape;
  expectShape("noise_backward dx", dx, N, C);
  expectShape("noise_backward scale", scale, C);
  k.noise_backward(dx.ptr, dy.ptr, scale.ptr, N, C);
}
