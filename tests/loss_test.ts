// kernels/loss.ts: the mean squared error and its gradient, against f64.
import assert from "node:assert/strict";
import { arena } from "../src/kernels/arena.ts";
import { mse_backward, mse_forward } from "../src/kernels/loss.ts";
import { testRandom } from "./rng.ts";
import { withArena } from "./scoped.ts";

Deno.test(
  "mse is mean((pred − target)²) and its gradient 2·(pred − target)/n in f32, at every tail length",
  withArena(() => {
    const r = testRandom(3);
    for (const n of [1, 2, 3, 4, 5, 63, 64, 1000]) {
      const p = r.array(n, -10, 10).map(Math.fround), t = r.array(n, -10, 10).map(Math.fround);
      const pred = arena.f32([n, 1]).set(p), target = arena.f32([n, 1]).set(t), dpred = arena.f32([n, 1]);
      const want = p.reduce((sum, v, i) => sum + (v - t[i]) ** 2, 0) / n;
      // Sums of n squares of values below 400: f32 accumulation errs by at most n·2⁻²⁴ of the sum.
      assert.ok(Math.abs(mse_forward(pred, target) - want) <= n * 2 ** -24 * want + 1e-12, `n = ${n}`);
      mse_backward(dpred, pred, target);
      // In f32, as PyTorch's float32 autograd does: (pred − target) rounded, times 2/n rounded, rounded.
      const scale = Math.fround(2 / n);
      p.forEach((v, i) => {
        assert.equal(dpred.f32[i], Math.fround(Math.fround(v - t[i]) * scale), `n = ${n}, i = ${i}`);
      });
    }
  }),
);
