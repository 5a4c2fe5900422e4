// The machine's f32x4 throughput as WebAssembly sees it: twelve independent
// fused multiply-add chains (enough to cover the FMA latency on two ports),
// each accumulating into its addend as a matmul does;
// registers only, no memory traffic. Each iteration is 12 FMAs × 4 lanes × 2
// flops = 96 floating-point operations.

import { madd } from "./lib/simd";
/** Runs `iters` iterations and returns a sum that depends on every chain (so nothing is optimised away). */
export function peak_fma(iters: i32, seed: f32): f32 {
  // Both operands derive from `seed`: a constant splat would be rematerialised by V8
  // at every use, and those extra instructions, not the FMAs, would set the pace.
  const m = f32x4.splat(seed * 0.5);
  const a = f32x4.splat(seed * 1e-7);
  let c0 = f32x4.splat(seed), c1 = f32x4.splat(seed + 1), c2 = f32x4.splat(seed + 2), c3 = f32x4.splat(seed + 3);
  let c4 = f32x4.splat(seed + 4), c5 = f32x4.splat(seed + 5), c6 = f32x4.splat(seed + 6), c7 = f32x4.splat(seed + 7);
  let c8 = f32x4.splat(seed + 8), c9 = f32x4.splat(seed + 9), c10 = f32x4.splat(seed + 10);
  let c11 = f32x4.splat(seed + 11);
  for (let i = 0; i < iters; i++) {
    c0 = madd(m, a, c0);
    c1 = madd(m, a, c1);
    c2 = madd(m, a, c2);
    c3 = madd(m, a, c3);
    c4 = madd(m, a, c4);
    c5 = madd(m, a, c5);
    c6 = madd(m, a, c6);
    c7 = madd(m, a, c7);
    c8 = madd(m, a, c8);
    c9 = madd(m, a, c9);
    c10 = madd(m, a, c10);
    c11 = madd(m, a, c11);
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)), f32x4.add(f32x4.add(c4, c5), f32x4.add(c6, c7))),
    f32x4.add(f32x4.add(c8, c9), f32x4.add(c10, c11)),
  );
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}
