// kernels/linear.ts: y = x·Wᵀ + b with PyTorch's [out, in] weight, and its
// backward, against f64 at the network's small shapes (the large products are
// in matmul_test.ts).
import assert from "node:assert/strict";
import { arena } from "../src/kernels/arena.ts";
import { linear_backward, linear_forward } from "../src/kernels/linear.ts";
import { testRandom } from "./rng.ts";
import { withArena } from "./scoped.ts";

Deno.test(
  "forward, dx = dy·W, dW += dyᵀ·x and db += Σdy at 1→10, 10→10 and 10→1, without a bias too",
  withArena(() => {
    const r = testRandom(10);
    for (const [N, I, O] of [[64, 1, 10], [7, 10, 10], [5, 10, 1]]) {
      const xs = r.array(N * I, -2, 2), ws = r.array(O * I, -1, 1), bs = r.array(O, -1, 1), dys = r.array(N * O, -1, 1);
      const x = arena.f32([N, I]).set(xs), W = arena.f32([O, I]).set(ws), b = arena.f32([O]).set(bs);
      const y = arena.f32([N, O]), yNoBias = arena.f32([N, O]), wt = arena.f32([I * O]);
      linear_forward(y, x, W, b, wt);
      linear_forward(yNoBias, x, W, null, wt);
      const dy = arena.f32([N, O]).set(dys),
        dx = arena.f32([N, I]),
        dW = arena.f32([O, I]).set(ws),
        db = arena.f32([O]).set(bs);
      linear_backward(dx, dW, db, dy, x, W);
      const x32 = x.f32, w32 = W.f32, dy32 = dy.f32;
      // Sums of at most 64 f32 products of values below 2: within 64·2⁻²⁴·Σ|terms| of f64, so 1e-5 absolute.
      const close = (got: number, want: number, what: string) =>
        assert.ok(Math.abs(got - want) <= 1e-5, `${what}: ${got} vs ${want}`);
      for (let n = 0; n < N; n++) {
        for (let o = 0; o < O; o++) {
          let dot = 0;
          for (let i = 0; i < I; i++) dot += x32[n * I + i] * w32[o * I + i];
          close(y.f32[n * O + o], dot + b.f32[o], `y[${n},${o}]`);
          close(yNoBias.f32[n * O + o], dot, `y without bias [${n},${o}]`);
        }
        for (let i = 0; i < I; i++) {
          let sum = 0;
          for (let o = 0; o < O; o++) sum += dy32[n * O + o] * w32[o * I + i];
          close(dx.f32[n * I + i], sum, `dx[${n},${i}]`);
        }
      }
      for (let o = 0; o < O; o++) {
        let dbias = Math.fround(bs[o]);
        for (let n = 0; n < N; n++) dbias += dy32[n * O + o];
        close(db.f32[o], dbias, `db[${o}] (added to what it held)`);
        for (let i = 0; i < I; i++) {
          let sum = Math.fround(ws[o * I + i]);
          for (let n = 0; n < N; n++) sum += dy32[n * O + o] * x32[n * I + i];
          close(dW.f32[o * I + i], sum, `dW[${o},${i}] (added to what it held)`);
        }
      }
    }
  }),
);
