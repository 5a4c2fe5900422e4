/**
 * Typed wrappers of `kernels/linear.ts`: y = x·Wᵀ + b with W in PyTorch's
 * [out, in] layout.
 *
 * @example
 * ```ts
 * import { arena } from "./arena.ts";
 * import { linear_forward } from "./linear.ts";
 * const x = arena.f32([2, 1]).set([1, 2]);
 * const w = arena.f32([3, 1]).set([1, 2, 3]);
 * const b = arena.f32([3]);
 * const y = arena.f32([2, 3]);
 * linear_forward(y, x, w, b, arena.f32([1, 3])); // y = [[1, 2, 3], [2, 4, 6]]
 * ```
 * @module
 */
import * as k from "../kernels/build/linear.wasm";
import type { Tensor } from "./arena.ts";
import { GEMM_SCRATCH } from "./matmul.ts";
import { expectScratch, expectShape } from "./shapes.ts";

/** y[N,out] = x[N,in]·weightᵀ + bias; `weightT` is scratch of at least in·out floats. */
export function linear_forward(y: Tensor, x: Tensor, weight: Tensor, bias: Tensor | null, weightT: Tensor): void {
  const [N, inF] = x.shape, outF = weight.shape[0];
  expectShape("linear_forward weight", weight, [outF, inF]);
  expectShape("linear_forward y", y, [N, outF]);
  if (bias) expectShape("linear_forward bias", bias, [outF]);
  expectScratch("linear_forward weightT", weightT, inF * outF);
  k.linear_forward(y.ptr, x.ptr, weight.ptr, bias?.ptr ?? 0, weightT.ptr, GEMM_SCRATCH.ptr, N, inF, outF);
}

/**
 * Accumulates dx += dy·W, dweight += dyᵀ·x, dbias += Σ_n dy. Pass `dx = null`
 * when the input needs no gradient, `dbias = null` for a layer without bias.
 */
export function linear_backward(
  dx: Tensor | null,
  dweight: Tensor,
  dbias: Tensor | null,
  dy: Tensor,
  x: Tensor,
  weight: Tensor,
): void {
  const [N, inF] = x.shape, outF = weight.shape[0];
  expectShape("linear_backward weight", weight, [outF, inF]);
  expectShape("linear_backward dweight", dweight, [outF, inF]);
  expectShape("linear_backward dy", dy, [N, outF]);
  if (dx) expectShape("linear_backward dx", dx, [N, inF]);
  if (dbias) expectShape("linear_backward dbias", dbias, [outF]);
  k.linear_backward(
    dx?.ptr ?? 0,
    dweight.ptr,
    dbias?.ptr ?? 0,
    dy.ptr,
    x.ptr,
    weight.ptr,
    GEMM_SCRATCH.ptr,
    N,
    inF,
    outF,
  );
}
