// Table-free elementary functions. AssemblyScript's Math/Mathf exp, tanh and
// pow read lookup tables from the module's data segment, i.e. from low
// addresses of the imported memory, which the arena and the other kernel
// modules share: their tables would be overwritten. These versions use
// registers only, in f64, so rounding the result to f32 is (nearly always)
// the correctly rounded f32 value.

// ln 2 split so that k·LN2_HI is exact for |k| < 2^20 (Cody–Waite reduction).
const LN2_HI: f64 = 6.93147180369123816490e-01;
const LN2_LO: f64 = 1.90821492927058770002e-10;
const LOG2E: f64 = 1.44269504088896338700e+00;

/** 2^k for integer k in [-1022, 1023], by building the exponent bits. */
// @ts-ignore: decorator
@inline function pow2(k: i64): f64 {
  return reinterpret<f64>((k + 1023) << 52);
}

/** Taylor series of e^r − 1 to degree 12 (Horner); |error| < 2e-15·|e^r − 1| for |r| ≤ 0.35. */
// @ts-ignore: decorator
@inline function expm1Poly(r: f64): f64 {
  let p: f64 = 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  return p * r;
}

/** e^x: x = k·ln2 + r with |r| ≤ ln2/2, e^x = 2^k·e^r. */
export function exp64(x: f64): f64 {
  if (x != x) return x;
  if (x > 709.782712893384) return Infinity;
  if (x < -745.1332191019412) return 0;
  const kf = Math.round(x * LOG2E);
  const r = (x - kf * LN2_HI) - kf * LN2_LO;
  const er = 1.0 + expm1Poly(r);
  let k = <i64>kf;
  if (k > 1023) return er * pow2(1023) * pow2(k - 1023);
  if (k < -1022) return er * pow2(-1022) * pow2(k + 1022);
  return er * pow2(k);
}

/** e^x − 1, accurate near 0 (the series) and by exp64 elsewhere. */
export function expm1_64(x: f64): f64 {
  if (Math.abs(x) <= 0.34) return expm1Poly(x);
  return exp64(x) - 1.0;
}

/** tanh x = (e^{2x} − 1)/(e^{2x} + 1), through expm1 so that small x keeps its digits. */
export function tanh64(x: f64): f64 {
  const a = Math.abs(x);
  // Past 20, tanh is 1 to 17 digits; the formula would also overflow near 355.
  if (a > 20) return x > 0 ? 1.0 : -1.0;
  const t = expm1_64(2 * a);
  const y = t / (t + 2.0);
  return x < 0 ? -y : y;
}

/** b^n for integer n ≥ 0 by repeated squaring (Adam's β^t without a pow table). */
export function powi(b: f64, n: i32): f64 {
  let result: f64 = 1;
  let base = b;
  let e = n;
  while (e > 0) {
    if (e & 1) result *= base;
    base *= base;
    e >>= 1;
  }
  return result;
}
