/**
 * Seeded randomness: xoshiro128** (Blackman & Vigna, 2018), a 32-bit generator
 * with a 2¹²⁸ − 1 period, whose state is filled by SplitMix32 from a
 * (seed, stream) pair so that independent uses of one seed (data noise, weight
 * init, shuffling) draw from independent streams.
 *
 * Uniform doubles take 53 random bits from two draws; normal samples use the
 * Box–Muller transform (both outputs of a pair are used). Everything is integer
 * arithmetic plus `Math.log`, `Math.sqrt`, `Math.cos` and `Math.sin`, so one seed
 * gives bit-identical numbers on a machine.
 *
 * @example
 * ```ts
 * import { Random } from "./random.ts";
 * const rng = new Random(0, "shuffle");
 * rng.uniform();      // in [0, 1)
 * rng.normal();       // N(0, 1)
 * rng.shuffle([1, 2, 3]);
 * ```
 * @module
 */

import type { Tensor } from "../kernels/arena.ts";
import { shuffle_u32 } from "../kernels/data.ts";

/** Uses of randomness that get streams of their own (`noise`: the `noisy` variant's perturbation). */
export type Stream = "data" | "init" | "shuffle" | "noise";

const STREAM_ID: Record<Stream, number> = { data: 1, init: 2, shuffle: 3, noise: 4 };

/** A seeded xoshiro128** generator. */
export class Random {
  #s = new Uint32Array(4);
  #spare: number | null = null;

  /** A generator for `stream` of `seed` (an integer; only its low 32 bits are used). */
  constructor(seed: number, stream: Stream) {
    // SplitMix32 over seed and stream, the recommended way to fill xoshiro's state.
    let x = (Math.imul(seed >>> 0, 0x9e3779b9) ^ Math.imul(STREAM_ID[stream], 0x85ebca6b)) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1; // the one state xoshiro cannot leave
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform on [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5, lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform on [lo, hi). */
  uniformIn(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** An integer uniform on 0 … n−1 (n ≤ 2³²), without modulo bias (rejection). */
  below(n: number): number {
    const limit = 4294967296 - remainder(4294967296, n);
    let x: number;
    do x = this.nextUint32(); while (x >= limit);
    return remainder(x, n);
  }

  /** A standard normal sample (Box–Muller; the pair's second value is kept for the next call). */
  normal(): number {
    if (this.#spare !== null) {
      const z = this.#spare;
      this.#spare = null;
      return z;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log(u1) stays finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.#spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Shuffles `a` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /**
   * {@link Random.shuffle} of a u32 tensor in one kernel call
   * (src/kernels/data.ts `shuffle_u32`): the same draws, so the same
   * permutation and the same state after. The training loop shuffles with it:
   * the JavaScript loop runs about 1 µs an element until V8 has optimized it,
   * which took the first 15 epochs of the default experiment (15 ms).
   * `scratch` is a u32 tensor of 4 in the arena that holds the state meanwhile.
   */
  shuffleTensor(t: Tensor, scratch: Tensor): void {
    scratch.u32.set(this.#s);
    shuffle_u32(t, scratch);
    this.#s.set(scratch.u32);
  }
}

/**
 * x mod n for integers 0 ≤ x ≤ 2³², 1 ≤ n ≤ 2³², exactly as `x % n` (which V8
 * computes with a slow floating-point remainder): every value stays below
 * 2⁵³, so x − q·n is exact, and a quotient rounded up by one is corrected.
 */
function remainder(x: number, n: number): number {
  const r = x - Math.floor(x / n) * n;
  return r < 0 ? r + n : r;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
