// Helpers shared by the kernel modules; compiled into each module that
// imports them (this file is not an entry point of its own).
//
// Every tensor in the arena is followed by at least 16 bytes of padding
// (src/arena.ts), so a full f32x4 load that starts inside a tensor never leaves
// memory. Row tails shorter than four lanes are therefore handled by masked
// vector loads and stores, never by a scalar column loop.

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

/**
 * Stores the lanes of `v` selected by `mask` at `p` and leaves the other three
 * lanes of memory as they were (read-modify-write of the neighbours).
 */
// @ts-ignore: decorator
@inline export function storeMasked(p: usize, v: v128, mask: v128): void {
  v128.store(p, v128.bitselect(v, v128.load(p), mask));
}

/** [Σa, Σb, Σc, Σd]: the four horizontal sums, by two rounds of pairwise adds. */
// @ts-ignore: decorator
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(f32x4.shuffle(a, b, 0, 4, 1, 5), f32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(f32x4.shuffle(c, d, 0, 4, 1, 5), f32x4.shuffle(c, d, 2, 6, 3, 7));
  return f32x4.add(f32x4.shuffle(ab, cd, 0, 1, 4, 5), f32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/** Stores a full vector, or only its first `remaining` lanes when fewer than four are left. */
// @ts-ignore: decorator
@inline export function storeTail(p: usize, v: v128, remaining: i32): void {
  if (remaining >= 4) v128.store(p, v);
  else storeMasked(p, v, tailMask(remaining));
}
