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
