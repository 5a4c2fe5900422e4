/**
 * The notebook's BN sanity check: `[[1, 2], [3, 4], [5, 6]]` through one
 * training-mode BN layer with γ = 1, β = 0, under each semantics. The notebook
 * printed ±1.2247 for its MyBN (and ±1.1071 / ±1.1810 for PyTorch's layer of
 * the time, whose γ started uniform in [0, 1)).
 *
 * @example
 * ```ts
 * import { bnSanityCheck } from "./sanity.ts";
 * bnSanityCheck("torch", 0.5); // [[-1.2247…, -1.2247…], [0, 0], [1.2247…, 1.2247…]]
 * ```
 * @module
 */
import { arena } from "../kernels/arena.ts";
import { batchnorm_forward, type BnSemantics } from "../kernels/batchnorm.ts";
import { defaultEps } from "./model.ts";

/** The three output rows of the check under `semantics` with BN momentum `momentum` (and γ, 1 by default). */
export function bnSanityCheck(semantics: BnSemantics, momentum: number, gammaValues = [1, 1]): number[][] {
  const mark = arena.mark();
  try {
    const x = arena.f32([3, 2]).set([1, 2, 3, 4, 5, 6]);
    const y = arena.f32([3, 2]);
    const runningVar = arena.f32([2]).set(semantics === "torch" ? [1, 1] : [0, 0]);
    const gamma = arena.f32([2]).set(gammaValues);
    const eps = defaultEps(semantics);
    batchnorm_forward(
      y,
      arena.f64([2]),
      arena.f64([2]),
      arena.f32([2]),
      runningVar,
      x,
      gamma,
      arena.f32([2]),
      eps,
      momentum,
      semantics,
    );
    return [0, 1, 2].map((r) => [y.f32[2 * r], y.f32[2 * r + 1]]);
  } finally {
    arena.release(mark);
  }
}
