/**
 * Typed wrappers of `kernels/loss.ts`: mean squared error, PyTorch's
 * `MSELoss(reduction="mean")` over all elements.
 *
 * @example
 * ```ts
 * import { arena } from "./arena.ts";
 * import { mse_forward } from "./loss.ts";
 * const pred = arena.f32([2, 1]).set([1, 3]);
 * const target = arena.f32([2, 1]).set([0, 1]);
 * mse_forward(pred, target); // (1 + 4) / 2 = 2.5
 * ```
 * @module
 */
import * as k from "bnlab-kernels/loss.wasm";
import type { Tensor } from "./arena.ts";
import { expectSameShape } from "./shapes.ts";

/** mean((pred − target)²), summed in f64. */
export function mse_forward(pred: Tensor, target: Tensor): number {
  expectSameShape("mse_forward target", target, pred);
  return k.mse_forward(pred.ptr, target.ptr, pred.size);
}

/** dpred = 2·(pred − target)/numel. */
export function mse_backward(dpred: Tensor, pred: Tensor, target: Tensor): void {
  expectSameShape("mse_backward target", target, pred);
  expectSameShape("mse_backward dpred", dpred, pred);
  k.mse_backward(dpred.ptr, pred.ptr, target.ptr, pred.size);
}
