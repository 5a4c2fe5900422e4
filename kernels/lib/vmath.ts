// Elementary functions on f32x4, for the activations. No lookup tables (see
// lib/math.ts for why), fused multiply-adds for the polynomials.

const LOG2E: f32 = 1.44269504;
// ln 2 split in two so that n·LN2_HI is exact for |n| ≤ 128 (Cody–Waite).
const LN2_HI: f32 = 0.693145752;
const LN2_LO: f32 = 1.42860677e-6;

/** a·b + c (one rounding where the machine fuses it). */
// @ts-ignore: decorator
@inline function fma(a: v128, b: v128, c: v128): v128 {
  return f32x4.relaxed_madd(a, b, c);
}

/**
 * Taylor series of e^r − 1 to degree 7, for |r| ≤ 0.5: the first omitted
 * term is below r·2e-7, i.e. about 2 ulps relative to the result.
 */
// @ts-ignore: decorator
@inline function expm1Series(r: v128): v128 {
  let p = f32x4.splat(<f32>(1.0 / 5040));
  p = fma(p, r, f32x4.splat(<f32>(1.0 / 720)));
  p = fma(p, r, f32x4.splat(<f32>(1.0 / 120)));
  p = fma(p, r, f32x4.splat(<f32>(1.0 / 24)));
  p = fma(p, r, f32x4.splat(<f32>(1.0 / 6)));
  p = fma(p, r, f32x4.splat(0.5));
  p = fma(p, r, f32x4.splat(1));
  return f32x4.mul(p, r);
}

/**
 * e^x for x in [−87, 88] (callers clamp): x = n·ln2 + r with |r| ≤ ln2/2,
 * e^x = 2^n·(1 + expm1(r)), 2^n built in the exponent bits.
 */
// @ts-ignore: decorator
@inline export function vexp(x: v128): v128 {
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  const r = fma(n, f32x4.splat(-LN2_LO), fma(n, f32x4.splat(-LN2_HI), x));
  const p = f32x4.add(f32x4.splat(1), expm1Series(r));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

/**
 * tanh on f32x4 in two pieces, each within about one f32 ulp:
 * - |x| < 0.625: x + x³·P(x²), P of degree 5 fitted (weighted least squares
 *   towards minimax) to (tanh x − x)/x³; relative error 7e-10 before rounding,
 *   and x³·P is under 0.13·x, so its rounding costs a fraction of an ulp;
 * - |x| ≥ 0.625: 1 − 2/(e^{2|x|} + 1); the error of e^{2|x|} is damped by the
 *   subtraction, whose result is at least 0.55.
 * Both pieces are computed and blended, as SIMD lanes cannot branch.
 */
// @ts-ignore: decorator
@inline export function vtanh(x: v128): v128 {
  const sign = v128.and(x, i32x4.splat(0x80000000));
  // tanh is 1 in f32 from |x| ≈ 9.01 on; clamping also keeps e^{2|x|} finite.
  const a = f32x4.min(f32x4.abs(x), f32x4.splat(9.5));
  const t = f32x4.mul(a, a);
  let p = f32x4.splat(0.002225214656385687);
  p = fma(p, t, f32x4.splat(-0.0082687034181068));
  p = fma(p, t, f32x4.splat(0.021738363093416205));
  p = fma(p, t, f32x4.splat(-0.05395381264414088));
  p = fma(p, t, f32x4.splat(0.1333326372498234));
  p = fma(p, t, f32x4.splat(-0.3333333235081095));
  const small = fma(f32x4.mul(a, t), p, a);
  const e = vexp(f32x4.add(a, a));
  const large = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1))));
  return v128.or(v128.bitselect(small, large, f32x4.lt(a, f32x4.splat(0.625))), sign);
}

/** 1/(1 + e^{−x}); e^{−x} is clamped at e^88, so far-negative x gives ~6e-39 instead of a subnormal. */
// @ts-ignore: decorator
@inline export function vsigmoid(x: v128): v128 {
  const e = vexp(f32x4.max(f32x4.min(f32x4.neg(x), f32x4.splat(88)), f32x4.splat(-87)));
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
}
