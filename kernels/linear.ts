// Fully connected layer y = x·Wᵀ + b with W in PyTorch's [out, in] layout.

import { matmul_nn_add, matmul_nt, matmul_tn_add } from "./matmul";
import { storeTail } from "./lib/simd";

/**
 * y[N,out] = x[N,in]·Wᵀ + b. `bias` may be 0 for a layer without bias;
 * `weightT` is scratch for Wᵀ (in·out floats), `scratch` the matmul's packing
 * space (`gemm_scratch_bytes()`, or 0).
 */
export function linear_forward(
  y: usize, x: usize, weight: usize, bias: usize, weightT: usize, scratch: usize,
  N: i32, inF: i32, outF: i32,
): void {
  matmul_nt(y, x, weight, bias, weightT, scratch, N, outF, inF);
}

/**
 * Accumulates the gradients of y = x·Wᵀ + b:
 *   dx += dy·W,  dW += dyᵀ·x,  db += Σ_n dy[n,:].
 * `dx` may be 0 when the input needs no gradient (the network's first layer),
 * `dbias` may be 0 for a layer without bias. `scratch` as for linear_forward.
 */
export function linear_backward(
  dx: usize, dweight: usize, dbias: usize,
  dy: usize, x: usize, weight: usize, scratch: usize,
  N: i32, inF: i32, outF: i32,
): void {
  if (dx) matmul_nn_add(dx, dy, weight, scratch, N, inF, outF);
  matmul_tn_add(dweight, dy, x, scratch, outF, inF, N);
  if (dbias) {
    const rowBytes = <usize>outF << 2;
    for (let j = 0; j < outF; j += 4) {
      const jOff = <usize>j << 2;
      let acc = v128.load(dbias + jOff);
      for (let n = 0; n < N; n++) acc = f32x4.add(acc, v128.load(dy + <usize>n * rowBytes + jOff));
      storeTail(dbias + jOff, acc, outF - j);
    }
  }
}
