// kernels/matmul.ts: the register-blocked product behind every Linear layer,
// reached through the linear wrappers, against an f64 reference across every
// tile, column panel and k block.
import assert from "node:assert/strict";
import { arena } from "../src/kernels/arena.ts";
import { linear_backward, linear_forward } from "../src/kernels/linear.ts";
import { testRandom } from "./rng.ts";

Deno.test("the linear layer's three products match an f64 reference at sizes that cross every tile, panel and k block", () => {
  // K > 2 k-blocks with a tail, N past several column panels with a 5-column tail, M leaving a
  // 4-row and a 1-row remainder after the 6-row strips; and one small product (no packing).
  // forward: y = A·Bᵀ + bias (M×N, sum over K); backward: dx = A·B with B as [K, N] (M×N, over K)
  // and dW += Aᵀ·X (K×N, over M) with dy = A.
  for (const [M, N, K] of [[29, 1029, 517], [11, 13, 7]]) {
    const mark = arena.mark();
    try {
      const r = testRandom(M + N + K);
      const a = r.array(M * K, -1, 1), b = r.array(N * K, -1, 1), bias = r.array(N, -1, 1);
      const xs = r.array(M * N, -1, 1), c0 = r.array(K * N, -1, 1);
      const A = arena.f32([M, K]).set(a), B = arena.f32([N, K]).set(b), Bt = arena.f32([K, N]);
      Bt.f32.forEach((_, i, v) => v[i] = B.f32[(i % N) * K + Math.floor(i / N)]);
      const X = arena.f32([M, N]).set(xs);
      const y = arena.f32([M, N]), dx = arena.f32([M, N]), dW = arena.f32([K, N]).set(c0), db = arena.f32([K]);
      linear_forward(y, A, B, arena.f32([N]).set(bias), arena.f32([K * N]));
      linear_backward(dx, dW, db, A, X, Bt);
      let worst = 0;
      const check = (got: number, want: number, mag: number, terms: number) => {
        // f32 sums of `terms` products, each step one FMA rounding: |error| ≤ terms·2⁻²⁴·(Σ|a·b| + the start value).
        worst = Math.max(worst, Math.abs(got - want) / (terms * 2 ** -24 * (mag + 1) + 1e-30));
      };
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let dot = 0, mag = 0;
          for (let k = 0; k < K; k++) {
            const p = A.f32[i * K + k] * B.f32[j * K + k];
            dot += p;
            mag += Math.abs(p);
          }
          check(y.f32[i * N + j], dot + Math.fround(bias[j]), mag, K);
          check(dx.f32[i * N + j], dot, mag, K);
        }
      }
      for (let k = 0; k < K; k++) {
        for (let j = 0; j < N; j++) {
          let dot = Math.fround(c0[k * N + j]), mag = 0;
          for (let i = 0; i < M; i++) {
            const p = A.f32[i * K + k] * X.f32[i * N + j];
            dot += p;
            mag += Math.abs(p);
          }
          check(dW.f32[k * N + j], dot, mag, M);
        }
      }
      assert.ok(worst <= 1, `${M}×${N}×${K}: worst error ${worst.toFixed(3)} of the bound`);
    } finally {
      arena.release(mark);
    }
  }
});
