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
import * as k from "bnlab-kernels/linear.wasm";
import type { Tensor } from "./arena.ts";
import { GEMM_ROWS, GEMM_SCRATCH } from "./matmul.ts";
import { expectScratch, expectShape } from "./shapes.ts";
import { dispatch } from "./threads.ts";

/**
 * y[N,out] = x[N,in]·weightᵀ + bias; `weightT` is scratch of at least in·out
 * floats for the transposed weight. Large products are split by rows over the
 * thread pool (src/threads.ts).
 */
export function linear_forward(y: Tensor, x: Tensor, weight: Tensor, bias: Tensor | null, weightT: Tensor): void {
  const [N, inF] = x.shape, outF = weight.shape[0];
  expectShape("linear_forward weight", weight, outF, inF);
  expectShape("linear_forward y", y, N, outF);
  if (bias) expectShape("linear_forward bias", bias, outF);
  expectScratch("linear_forward weightT", weightT, inF * outF);
  k.transpose(weightT.ptr, weight.ptr, outF, inF);
  const work = 2 * N * inF * outF;
  dispatch(
    work,
    "linear_forward",
    N,
    GEMM_ROWS,
    4,
    y.ptr,
    x.ptr,
    weightT.ptr,
    bias?.ptr ?? 0,
    GEMM_SCRATCH.ptr,
    inF,
    outF,
  );
}

/**
 * Writes dx = dy·W and accumulates dweight += dyᵀ·x, dbias += Σ_n dy (an
 * input gradient has one producer; parameter gradients add up). Pass `dx = null`
 * when the input needs no gradient, `dbias = null` for a layer without bias.
 * Large products are split by rows over the thread pool.
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
  expectShape("linear_backward weight", weight, outF, inF);
  expectShape("linear_backward dweight", dweight, outF, inF);
  expectShape("linear_backward dy", dy, N, outF);
  if (dx) expectShape("linear_backward dx", dx, N, inF);
  if (dbias) expectShape("linear_backward dbias", dbias, outF);
  const work = 2 * N * inF * outF, s = GEMM_SCRATCH.ptr, db = dbias?.ptr ?? 0;
  if (dx) dispatch(work, "linear_backward_input", N, GEMM_ROWS, 3, dx.ptr, dy.ptr, weight.ptr, s, inF, outF);
  dispatch(work, "linear_backward_weight", outF, GEMM_ROWS, 4, dweight.ptr, db, dy.ptr, x.ptr, s, N, inF, outF);
}
