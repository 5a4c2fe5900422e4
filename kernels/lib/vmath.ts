// Elementary functions on f32x4, for the activations. No lookup tables (see
// lib/math.ts for why), fused multiply-adds for the polynomials.
//
// Every constant is a parameter: the kernels build them once, before their
// loops, from a zero the compiler cannot fold away (`constZero`). V8
// rematerialises a v128 constant at every use (several instructions each),
// which made these loops instruction-bound and twice as slow.

import { madd } from "./simd";
/** An f32x4 zero computed from `i0 ≥ 0` at run time, so constants built on it stay in registers. */
// @ts-ignore: decorator
@inline export function constZero(i0: i32): v128 {
  return f32x4.splat(<f32>(i0 >>> 31));
}

/** The constant c, built on `constZero` (c + 0 is exactly c). */
// @ts-ignore: decorator
@inline export function K(c: f32, z: v128): v128 {
  return f32x4.add(f32x4.splat(c), z);
}

/** log2(e), for the range reduction of {@link vexp}. */
export const LOG2E: f32 = 1.44269504;
// ln 2 split in two so that n·LN2_HI is exact for |n| ≤ 128 (Cody–Waite).
export const LN2_HI: f32 = 0.693145752;
export const LN2_LO: f32 = 1.42860677e-6;

/**
 * e^x for x in [−87, 88] (callers clamp): x = n·ln2 + r with |r| ≤ ln2/2,
 * e^x = 2^n·(1 + expm1(r)), expm1 by its Taylor series to degree 7 (the first
 * omitted term is below r·2e-7, about 2 ulps), 2^n built in the exponent bits.
 * The constants come from the caller: log2e = LOG2E, nHi = −LN2_HI,
 * nLo = −LN2_LO, cK = 1/K!, one = 1, all built with `K`.
 */
// @ts-ignore: decorator
@inline export function vexp(
  x: v128, log2e: v128, nHi: v128, nLo: v128,
  c7: v128, c6: v128, c5: v128, c4: v128, c3: v128, c2: v128, one: v128,
): v128 {
  const n = f32x4.nearest(f32x4.mul(x, log2e));
  const r = madd(n, nLo, madd(n, nHi, x));
  let p = madd(c7, r, c6);
  p = madd(p, r, c5);
  p = madd(p, r, c4);
  p = madd(p, r, c3);
  p = madd(p, r, c2);
  p = madd(p, r, one);
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.add(one, f32x4.mul(p, r)), scale);
}
