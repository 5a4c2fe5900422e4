// `deno bench bench/kernels_bench.ts` (deno task bench): every kernel through
// its wrapper, one bench per case of bench/cases.ts. Each name carries the
// work of one call, so GFLOP/s (or GB/s) is that work over Deno's time per
// iteration; `deno task bench:kernels` prints the same cases with the rates
// worked out and the measured f32x4 peak beside them.
import { kernelCases } from "./cases.ts";

/** 2150000000 → "2.15 GFLOP", 12800 → "12.8 kFLOP". */
function amount(n: number, unit: string): string {
  const [scale, prefix] = n >= 1e9 ? [1e9, "G"] : n >= 1e6 ? [1e6, "M"] : n >= 1e3 ? [1e3, "k"] : [1, ""];
  return `${(n / scale).toPrecision(3)} ${prefix}${unit}`;
}

for (const c of kernelCases()) {
  const work = c.flops ? amount(c.flops, "FLOP") : amount(c.bytes, "B");
  Deno.bench({ name: `${c.name} (${work})`, fn: c.setup() });
}
