// kernels/activations.ts: tanh, sigmoid and relu forward, and their
// backward from the forward output, against f64.
import assert from "node:assert/strict";
import { activation_backward, activation_forward, ACTIVATIONS } from "../src/kernels/activations.ts";
import { arena } from "../src/kernels/arena.ts";
import { testRandom } from "./rng.ts";
import { withArena } from "./scoped.ts";

const EXACT = { tanh: Math.tanh, sigmoid: (x: number) => 1 / (1 + Math.exp(-x)), relu: (x: number) => Math.max(0, x) };
const SLOPE = {
  tanh: (y: number) => 1 - y * y,
  sigmoid: (y: number) => y * (1 - y),
  relu: (y: number) => y > 0 ? 1 : 0,
};

for (const act of ACTIVATIONS) {
  Deno.test(
    `${act}: forward within a few f32 ulps of f64, backward dx = dy·${act}'(y) from the output`,
    withArena(() => {
      const r = testRandom(act.length);
      // Saturating ends, the region around 0 (relu's kink exactly at 0), and a 37-element tail.
      const xs = [...r.array(37, -6, 6), -100, -20, -1e-8, 0, 1e-8, 20, 100].map(Math.fround);
      const x = arena.f32([xs.length]).set(xs), y = arena.f32([xs.length]);
      activation_forward(act, y, x);
      xs.forEach((v, i) => {
        const want = EXACT[act](v);
        // The kernels' exp and tanh are polynomial approximations accurate to a few ulps (4·2⁻²⁴ relative, 1e-7 absolute near 0).
        assert.ok(
          Math.abs(y.f32[i] - want) <= 4 * 2 ** -24 * Math.abs(want) + 1e-7,
          `${act}(${v}) = ${y.f32[i]}, not ${want}`,
        );
      });
      const dys = r.array(xs.length, -2, 2).map(Math.fround);
      const dy = arena.f32([xs.length]).set(dys), dx = arena.f32([xs.length]);
      activation_backward(act, dx, dy, y);
      xs.forEach((_, i) => {
        const want = dys[i] * SLOPE[act](y.f32[i]);
        assert.ok(
          Math.abs(dx.f32[i] - want) <= 2 ** -22 * Math.abs(dys[i]) + 1e-30,
          `${act}' at ${xs[i]}: ${dx.f32[i]} vs ${want}`,
        );
      });
    }),
  );
}
