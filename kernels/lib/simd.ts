// Helpers shared by the kernel modules; compiled into each module that
// imports them (this file is not an entry point of its own).
//
// Every tensor in the arena is followed by at least 32 bytes of padding
// (src/arena.ts), so a load of two f32x4 that starts inside a tensor never
// leaves memory. Row tails shorter than a vector are therefore handled by
// masked loads and lane stores, never by a scalar column loop.

/** All-ones in lanes `0 .. r-1` (r in 1..4), zero elsewhere. */
// @ts-ignore: decorator
@inline export function tailMask(r: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(r));
}

/** Loads four f32 at `p` and zeroes the lanes outside `mask`. */
// @ts-ignore: decorator
@inline export function loadMasked(p: usize, mask: v128): v128 {
  return v128.and(v128.load(p), mask);
}

/** [Σa, Σb, Σc, Σd]: the four horizontal sums, by two rounds of pairwise adds. */
// @ts-ignore: decorator
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(f32x4.shuffle(a, b, 0, 4, 1, 5), f32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(f32x4.shuffle(c, d, 0, 4, 1, 5), f32x4.shuffle(c, d, 2, 6, 3, 7));
  return f32x4.add(f32x4.shuffle(ab, cd, 0, 1, 4, 5), f32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

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
