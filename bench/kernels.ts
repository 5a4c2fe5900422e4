/**
 * `deno task bench:kernels`: every kernel's throughput (GFLOP/s for the
 * matmuls, GB/s for the memory-bound kernels), the matmuls also as a fraction
 * of the f32x4 peak measured by `bench/peak.ts` in the same process.
 *
 * @example
 * ```sh
 * deno task bench:kernels
 * ```
 * @module
 */
import { kernelCases } from "./cases.ts";
import { measurePeak } from "./peak.ts";
import { arena } from "../src/kernels/arena.ts";

/** Runs `fn` for at least `seconds` after a warm-up and returns its median rate in calls/s over 5 windows. */
export function callsPerSecond(fn: () => void, seconds = 0.2): number {
  const warm = performance.now();
  while (performance.now() - warm < 50) fn();
  const rates: number[] = [];
  for (let w = 0; w < 5; w++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < seconds * 1000) {
      fn();
      n++;
      t = performance.now();
    }
    rates.push(n / ((t - t0) / 1000));
  }
  return rates.sort((a, b) => a - b)[2];
}

if (import.meta.main) {
  const peak = measurePeak();
  console.log(`f32x4 peak (12 independent FMA chains, no memory traffic): ${peak.toFixed(1)} GFLOP/s\n`);
  console.log("kernel                                 calls/s     GFLOP/s  of peak       GB/s");
  for (const c of kernelCases()) {
    const mark = arena.mark();
    const rate = callsPerSecond(c.setup());
    arena.release(mark);
    const gflops = c.flops * rate / 1e9;
    const cells = [
      c.name.padEnd(36),
      rate.toFixed(0).padStart(10),
      c.flops ? gflops.toFixed(2).padStart(11) : "".padStart(11),
      c.flops ? `${(100 * gflops / peak).toFixed(0)}%`.padStart(9) : "".padStart(9),
      (c.bytes * rate / 1e9).toFixed(2).padStart(10),
    ];
    console.log(cells.join(" "));
  }
}
