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
 * 1.5·2²³ + 127: v + SHIFTER rounds v to an integer n (f32 has no fraction
 * bits from 2²³ on; the 1.5 keeps negative v in the same binade) and leaves
 * n + 127 in the low mantissa bits, which shifted left by 23 are the bits of
 * 2^n for −126 ≤ n ≤ 127: the rounding and 2^n in two instructions, where
 * `nearest`, a saturating conversion and the bias took eight.
 */
export const SHIFTER: f32 = 12583039;
// e^s ≈ 1 + s + Σ E_k·s^k for |s| ≤ ln2/2: minimax coefficients (linear
// programming on 4001 points, then rounded to f32), relative error 4.4e-9.
export const E2: f32 = 0.4999999403953552;
export const E3: f32 = 0.1666651964187622;
export const E4: f32 = 0.04166839271783829;
export const E5: f32 = 0.008368780836462975;
export const E6: f32 = 0.0013814467238262296;

/**
 * e^{s·x} for s = 1 or 2 and s·x in [−87, 88] (callers clamp), from
 * constants the caller builds with `K` for its s: toN = s·LOG2E, nHi =
 * −LN2_HI/s, nLo = −LN2_LO/s, c1 = s, d_k = s^k·E_k, shifter = SHIFTER, one
 * = 1 (the halvings and doublings are exact). s·x = n·ln2 + s·u with
 * n = round(s·x·log2 e) (the shifter) and u = x − n·ln2/s in two Cody–Waite
 * steps, so |s·u| ≤ ln2/2; e^{s·u} = 1 + c1·u + Σ d_k·u^k in Estrin's form
 * (three FMA levels instead of Horner's six: these loops are bound by one
 * vector's chain of latencies), times 2^n built from the shifter's bits.
 */
// @ts-ignore: decorator
@inline export function vexp(
  x: v128, toN: v128, shifter: v128, nHi: v128, nLo: v128,
  c1: v128, d2: v128, d3: v128, d4: v128, d5: v128, d6: v128, one: v128,
): v128 {
  const j = madd(x, toN, shifter);
  const n = f32x4.sub(j, shifter);
  const u = madd(n, nLo, madd(n, nHi, x));
  const u2 = f32x4.mul(u, u);
  let h = madd(d6, u2, madd(d5, u, d4));
  h = madd(h, u2, madd(d3, u, d2));
  return f32x4.mul(madd(h, u2, madd(c1, u, one)), i32x4.shl(j, 23));
}
