// Helpers shared by the kernel modules; compiled into each module that
// imports them (this file is not an entry point of its own).
//
// Every tensor in the arena is followed by at least 32 bytes of padding
// (src/arena.ts), so a load of two f32x4 that starts inside a tensor never
// leaves memory. Row tails shorter than a vector are therefore handled by full
// vector loads (the extra lanes are computed on and dropped) and lane-exact
// stores, never by a scalar column loop.

/**
 * Stores a full vector, or only its first `remaining` lanes (1…3) when fewer
 * than four are left, lane by lane: memory past them is never written, not even
 * rewritten with its own value, so two threads may own neighbouring elements.
 */
// @ts-ignore: decorator
@inline export function storeTail(p: usize, v: v128, remaining: i32): void {
  if (remaining >= 4) {
    v128.store(p, v);
    return;
  }
  if (remaining <= 0) return;
  v128.store32_lane(p, v, 0);
  if (remaining > 1) v128.store32_lane(p, v, 1, 4);
  if (remaining > 2) v128.store32_lane(p, v, 2, 8);
}

/** Four f32 lanes as two f64x2 halves: [lanes 0–1], [lanes 2–3]. */
// @ts-ignore: decorator
@inline export function lo64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
// @ts-ignore: decorator
@inline export function hi64(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
}
/**
 * The f32 pairs at p and p + 8 promoted to f64x2: two 8-byte loads instead of
 * a 16-byte load and a shuffle, which keeps the shuffle port (also busy with
 * the conversions) free in the row loops.
 */
// @ts-ignore: decorator
@inline export function lo64At(p: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p));
}
// @ts-ignore: decorator
@inline export function hi64At(p: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p, 8));
}

/**
 * a·b + c on four f32 lanes: one fused multiply-add where the engine has
 * relaxed SIMD (the default build), a multiply then an add in the build for
 * engines without it (the web "compat" flavour; results there may differ in
 * the last bit). The choice is made when compiling: no branch is left.
 */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** {@link madd} on two f64 lanes. */
// @ts-ignore: decorator
@inline export function madd64(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f64x2.relaxed_madd(a, b, c);
  return f64x2.add(f64x2.mul(a, b), c);
}
