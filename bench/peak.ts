/**
 * The f32x4 peak of this machine from WebAssembly (`kernels/peak.ts`): the
 * yardstick the other benchmarks report fractions of.
 *
 * @example
 * ```ts
 * import { measurePeak } from "./peak.ts";
 * measurePeak(); // GFLOP/s of one thread
 * ```
 * @module
 */
import * as k from "../kernels/build/peak.wasm";

/** Floating-point operations per `peak_fma` iteration: 12 FMAs × 4 lanes × 2. */
const FLOPS_PER_ITER = 96;

/** GFLOP/s of one thread: the best of 7 runs of 20 M iterations each (about 40 ms apiece). */
export function measurePeak(): number {
  const iters = 20_000_000;
  let best = 0;
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    k.peak_fma(iters, 1 + r);
    const s = (performance.now() - t0) / 1000;
    best = Math.max(best, iters * FLOPS_PER_ITER / s / 1e9);
  }
  return best;
}

if (import.meta.main) console.log(`f32x4 FMA peak: ${measurePeak().toFixed(1)} GFLOP/s (one thread)`);
