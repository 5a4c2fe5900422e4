// Fully connected layer y = x·Wᵀ + b with W in PyTorch's [out, in] layout.
//
// Each kernel takes the range of output rows it computes as its last two
// arguments, so that threads can share one product by disjoint row ranges
// (src/threads.ts); a single thread passes the whole range.

import { gemm_rows } from "./matmul";
import { storeTail } from "./lib/simd";

export { transpose } from "./matmul";

/**
 * Rows [i0, i1) of y[N,out] = x[N,in]·Wᵀ + b, reading Wᵀ from `weightT`
 * (`transpose(weightT, weight, out, in)` first: the product wants a row-major
 * right operand). `bias` may be 0; `scratch` is the calling thread's packing
 * space (`gemm_scratch_bytes()`), or 0.
 */
export function linear_forward(
  y: usize, x: usize, weightT: usize, bias: usize, scratch: usize,
  inF: i32, outF: i32, i0: i32, i1: i32,
): void {
  gemm_rows(y, x, inF, 1, weightT, bias, scratch, outF, inF, 0, i0, i1);
}

/** Rows [i0, i1) of dx[N,in] = dy[N,out]·W (written: an input gradient has one producer). */
export function linear_backward_input(
  dx: usize, dy: usize, weight: usize, scratch: usize,
  inF: i32, outF: i32, i0: i32, i1: i32,
): void {
  gemm_rows(dx, dy, outF, 1, weight, 0, scratch, inF, outF, 0, i0, i1);
}

/**
 * Rows [o0, o1) of dW[out,in] += dyᵀ·x and of db[out] += Σ_n dy[n,:]
 * (`dbias` may be 0 for a layer without bias).
 */
export function linear_backward_weight(
  dweight: usize, dbias: usize, dy: usize, x: usize, scratch: usize,
  N: i32, inF: i32, outF: i32, o0: i32, o1: i32,
): void {
  gemm_rows(dweight, dy, 1, outF, x, 0, scratch, inF, N, 1, o0, o1);
  if (dbias) {
    const rowBytes = <usize>outF << 2;
    for (let j = o0; j < o1; j += 4) {
      const jOff = <usize>j << 2;
      let acc = v128.load(dbias + jOff);
      for (let n = 0; n < N; n++) acc = f32x4.add(acc, v128.load(dy + <usize>n * rowBytes + jOff));
      storeTail(dbias + jOff, acc, o1 - j);
    }
  }
}
