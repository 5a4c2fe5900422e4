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
 * Taylor series of e^r − 1 to degree 9 in f64x2, for |r| ≤ ln2/2: the first
 * omitted term is below 2e-10 relative, far under the f32 rounding that follows.
 */
// @ts-ignore: decorator
@inline function expm1Series64(r: v128): v128 {
  let p = f64x2.splat(1.0 / 362880);
  p = f64x2.relaxed_madd(p, r, f64x2.splat(1.0 / 40320));
  p = f64x2.relaxed_madd(p, r, f64x2.splat(1.0 / 5040));
  p = f64x2.relaxed_madd(p, r, f64x2.splat(1.0 / 720));
  p = f64x2.relaxed_madd(p, r, f64x2.splat(1.0 / 120));
  p = f64x2.relaxed_madd(p, r, f64x2.splat(1.0 / 24));
  p = f64x2.relaxed_madd(p, r, f64x2.splat(1.0 / 6));
  p = f64x2.relaxed_madd(p, r, f64x2.splat(0.5));
  p = f64x2.relaxed_madd(p, r, f64x2.splat(1));
  return f64x2.mul(p, r);
}

/**
 * e^y − 1 for 0 ≤ y ≤ 19 in f64x2: y = n·ln2 + r (Cody–Waite), and
 * e^y − 1 = 2^n·expm1(r) + (2^n − 1). For y < ln2/2, n = 0 and r = y exactly,
 * so small y keep all their digits without a separate branch.
 */
// @ts-ignore: decorator
@inline function expm1Pos64(y: v128): v128 {
  const n = f64x2.nearest(f64x2.mul(y, f64x2.splat(1.4426950408889634)));
  const r = f64x2.relaxed_madd(
    n,
    f64x2.splat(-1.90821492927058770002e-10),
    f64x2.relaxed_madd(n, f64x2.splat(-6.93147180369123816490e-01), y),
  );
  const p2 = i64x2.shl(i64x2.add(i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(n)), i64x2.splat(1023)), 52);
  return f64x2.relaxed_madd(p2, expm1Series64(r), f64x2.sub(p2, f64x2.splat(1)));
}

/** tanh |x| = t/(t + 2), t = e^{2|x|} − 1, on two lanes in f64. */
// @ts-ignore: decorator
@inline function tanhAbs64(a: v128): v128 {
  const t = expm1Pos64(f64x2.add(a, a));
  return f64x2.div(t, f64x2.add(t, f64x2.splat(2)));
}

/**
 * tanh on f32x4, evaluated in f64 (two f64x2 halves) and rounded once, so
 * the result is the correctly rounded f32 in nearly every case. The f32-only
 * formula is twice as fast but ~6 ulps off near |x| = 0.3, and that error,
 * amplified by the BN layers of the network, exceeded the network fixtures'
 * tolerance on the training-mode predictions.
 */
// @ts-ignore: decorator
@inline export function vtanh(x: v128): v128 {
  const sign = v128.and(x, i32x4.splat(0x80000000));
  // tanh is 1 in f32 from |x| ≈ 9.01 on; clamping also keeps e^{2|x|} finite.
  const a = f32x4.min(f32x4.abs(x), f32x4.splat(9.5));
  const lo = tanhAbs64(f64x2.promote_low_f32x4(a));
  const hi = tanhAbs64(f64x2.promote_low_f32x4(i32x4.shuffle(a, a, 2, 3, 0, 1)));
  const y = i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
  return v128.or(y, sign);
}

/** 1/(1 + e^{−x}); e^{−x} is clamped at e^88, so far-negative x gives ~6e-39 instead of a subnormal. */
// @ts-ignore: decorator
@inline export function vsigmoid(x: v128): v128 {
  const e = vexp(f32x4.max(f32x4.min(f32x4.neg(x), f32x4.splat(88)), f32x4.splat(-87)));
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
}
