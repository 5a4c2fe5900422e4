// Table-free scalar math. AssemblyScript's Math/Mathf exp, tanh and pow read
// lookup tables from the module's data segment, i.e. from low addresses of
// the imported memory, which the arena and the other kernel modules share:
// their tables would be overwritten. (The vector functions are in vmath.ts.)

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
