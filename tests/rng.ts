/**
 * A small seeded generator for test inputs (mulberry32), so every test run
 * sees the same numbers.
 *
 * @example
 * ```ts
 * import { testRandom } from "./rng.ts";
 * const rand = testRandom(1);
 * rand.uniform(-1, 1);
 * ```
 * @module
 */

/** Seeded uniform and normal samples for tests. */
export interface TestRandom {
  /** Uniform on [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** `n` uniforms on [lo, hi). */
  array(n: number, lo: number, hi: number): number[];
}

/** mulberry32 seeded with `seed`. */
export function testRandom(seed: number): TestRandom {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * next();
  return { uniform, array: (n, lo, hi) => Array.from({ length: n }, () => uniform(lo, hi)) };
}
