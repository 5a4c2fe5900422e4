// Element-wise activations over n values. Backward passes read the forward
// output y (as PyTorch's autograd does for tanh and sigmoid) and write dx
// (an activation gradient has one producer, so nothing is accumulated). Saturated tanh gives 1 − y² = 0 exactly in f32 where the f64
// reference still has ~1e-7: that difference is below the tolerance's atol.
// Forward kernels take the element range [i0, i1) they compute, so threads
// can share one call (src/threads.ts).

import { madd, storeTail } from "./lib/simd";
import { constZero, E2, E3, E4, E5, E6, K, LN2_HI, LN2_LO, LOG2E, SHIFTER, vexp } from "./lib/vmath";

/**
 * y = tanh(x), within about one f32 ulp (1.33 at most over every 61st f32 in
 * [1e-6, 12]), in two pieces computed side by side and blended (SIMD lanes
 * cannot branch), a = min(|x|, 9.5) (tanh is 1 in f32 from |x| ≈ 9.01 on;
 * the clamp keeps e^{2a} finite):
 * - a < 0.625: a + a³·P(a²), P of degree 5 fitted (weighted least squares
 *   towards minimax) to (tanh a − a)/a³; relative error 7e-10 before
 *   rounding, and a³·P is under 0.13·a, so its rounding costs a fraction of an
 *   ulp (degree 4, 7e-9, measured as accurate but moved the notebook network's
 *   step-1 MyBN predictions past the fixture's tolerance: they sit at 96–98 %
 *   of it with any of these tanh);
 * - a ≥ 0.625: 1 − 2/(e^{2a} + 1) (lib/vmath.ts vexp with s = 2); the
 *   subtraction damps the error of e^{2a} (its result is at least 0.55).
 * The loop waits on one vector's chain of latencies (perf puts a third of its
 * samples on the division's result), so the exponential keeps that chain
 * short: 2^n from the shifter's bits, three FMA levels (lib/vmath.ts).
 */
export function tanh_forward(y: usize, x: usize, i0: i32, i1: i32): void {
  const z = constZero(i0);
  const p5 = K(0.002225214656385687, z), p4 = K(-0.0082687034181068, z), p3 = K(0.021738363093416205, z);
  const p2 = K(-0.05395381264414088, z), p1 = K(0.1333326372498234, z), p0 = K(-0.3333333235081095, z);
  const clamp = K(9.5, z), cut = K(0.625, z), one = K(1, z), two = K(2, z);
  const toN = K(2 * LOG2E, z), shifter = K(SHIFTER, z), nHi = K(-LN2_HI / 2, z), nLo = K(-LN2_LO / 2, z);
  const d2 = K(4 * E2, z), d3 = K(8 * E3, z), d4 = K(16 * E4, z), d5 = K(32 * E5, z), d6 = K(64 * E6, z);
  for (let i = i0; i < i1; i += 4) {
    const o = <usize>i << 2;
    const xv = v128.load(x + o);
    const sign = v128.andnot(xv, f32x4.abs(xv)); // x with the bits of |x| cleared
    // (pmin is one instruction; min's NaN rules cost several, and agree here.)
    const a = f32x4.pmin(f32x4.abs(xv), clamp);
    const t = f32x4.mul(a, a);
    let p = madd(p5, t, p4);
    p = madd(p, t, p3);
    p = madd(p, t, p2);
    p = madd(p, t, p1);
    p = madd(p, t, p0);
    const small = madd(f32x4.mul(a, t), p, a);
    const e = vexp(a, toN, shifter, nHi, nLo, two, d2, d3, d4, d5, d6, one);
    const large = f32x4.sub(one, f32x4.div(two, f32x4.add(e, one)));
    storeTail(y + o, v128.or(v128.bitselect(small, large, f32x4.lt(a, cut)), sign), i1 - i);
  }
}

/** dx = dy·(1 − y²). */
export function tanh_backward(dx: usize, dy: usize, y: usize, n: i32): void {
  const one = f32x4.splat(1);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const yv = v128.load(y + o);
    storeTail(dx + o, f32x4.mul(v128.load(dy + o), f32x4.sub(one, f32x4.mul(yv, yv))), n - i);
  }
}

/**
 * y = 1/(1 + e^(−x)), a few ulps; e^(−x) is clamped at e^88, so far-negative
 * x gives ~6e-39 instead of a subnormal.
 */
export function sigmoid_forward(y: usize, x: usize, i0: i32, i1: i32): void {
  const z = constZero(i0);
  const hi = K(88, z), lo = K(-87, z), one = K(1, z);
  const toN = K(LOG2E, z), shifter = K(SHIFTER, z), nHi = K(-LN2_HI, z), nLo = K(-LN2_LO, z);
  const d2 = K(E2, z), d3 = K(E3, z), d4 = K(E4, z), d5 = K(E5, z), d6 = K(E6, z);
  for (let i = i0; i < i1; i += 4) {
    const o = <usize>i << 2;
    const m = f32x4.pmax(f32x4.pmin(f32x4.neg(v128.load(x + o)), hi), lo);
    const e = vexp(m, toN, shifter, nHi, nLo, one, d2, d3, d4, d5, d6, one);
    storeTail(y + o, f32x4.div(one, f32x4.add(one, e)), i1 - i);
  }
}

/** dx = dy·y·(1 − y). */
export function sigmoid_backward(dx: usize, dy: usize, y: usize, n: i32): void {
  const one = f32x4.splat(1);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const yv = v128.load(y + o);
    storeTail(dx + o, f32x4.mul(v128.load(dy + o), f32x4.mul(yv, f32x4.sub(one, yv))), n - i);
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

/** dx = dy where y > 0, else 0: PyTorch's gradient at x = 0 is 0. */
export function relu_backward(dx: usize, dy: usize, y: usize, n: i32): void {
  const zero = f32x4.splat(0);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    storeTail(dx + o, v128.and(v128.load(dy + o), f32x4.gt(v128.load(y + o), zero)), n - i);
  }
}
