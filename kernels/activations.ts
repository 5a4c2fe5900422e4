// Element-wise activations over n values. Backward passes read the forward
// output y (as PyTorch's autograd does for tanh and sigmoid) and accumulate
// into dx. Saturated tanh gives 1 − y² = 0 exactly in f32 where the f64
// reference still has ~1e-7: that difference is below the tolerance's atol.
// Forward kernels take the element range [i0, i1) they compute, so threads
// can share one call (src/threads.ts).

import { storeTail } from "./lib/simd";
import { vsigmoid, vtanh } from "./lib/vmath";

/** y = tanh(x) (lib/vmath.ts: a few ulps). */
export function tanh_forward(y: usize, x: usize, i0: i32, i1: i32): void {
  for (let i = i0; i < i1; i += 4) {
    const o = <usize>i << 2;
    storeTail(y + o, vtanh(v128.load(x + o)), i1 - i);
  }
}

/** dx += dy·(1 − y²). */
export function tanh_backward(dx: usize, dy: usize, y: usize, n: i32): void {
  const one = f32x4.splat(1);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const yv = v128.load(y + o);
    const d = f32x4.mul(v128.load(dy + o), f32x4.sub(one, f32x4.mul(yv, yv)));
    storeTail(dx + o, f32x4.add(v128.load(dx + o), d), n - i);
  }
}

/** y = 1/(1 + e^(−x)) (lib/vmath.ts: a few ulps). */
export function sigmoid_forward(y: usize, x: usize, i0: i32, i1: i32): void {
  for (let i = i0; i < i1; i += 4) {
    const o = <usize>i << 2;
    storeTail(y + o, vsigmoid(v128.load(x + o)), i1 - i);
  }
}

/** dx += dy·y·(1 − y). */
export function sigmoid_backward(dx: usize, dy: usize, y: usize, n: i32): void {
  const one = f32x4.splat(1);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const yv = v128.load(y + o);
    const d = f32x4.mul(v128.load(dy + o), f32x4.mul(yv, f32x4.sub(one, yv)));
    storeTail(dx + o, f32x4.add(v128.load(dx + o), d), n - i);
  }
}

/** y = max(x, 0). */
export function relu_forward(y: usize, x: usize, i0: i32, i1: i32): void {
  const zero = f32x4.splat(0);
  for (let i = i0; i < i1; i += 4) {
    const o = <usize>i << 2;
    storeTail(y + o, f32x4.max(v128.load(x + o), zero), i1 - i);
  }
}

/** dx += dy where y > 0, else nothing: PyTorch's gradient at x = 0 is 0. */
export function relu_backward(dx: usize, dy: usize, y: usize, n: i32): void {
  const zero = f32x4.splat(0);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const d = v128.and(v128.load(dy + o), f32x4.gt(v128.load(y + o), zero));
    storeTail(dx + o, f32x4.add(v128.load(dx + o), d), n - i);
  }
}
