// kernels/adam.ts: one loop over every parameter, PyTorch's Adam step by step
// (L2 weight decay into the gradient, bias corrections, eps after the
// correction, AMSGrad's running maximum), against an f64 evaluation of the
// same formulas.
import assert from "node:assert/strict";
import { ADAM_DEFAULTS, adam_update, type AdamOptions } from "../src/kernels/adam.ts";
import { arena } from "../src/kernels/arena.ts";
import { testRandom } from "./rng.ts";
import { withArena } from "./scoped.ts";

/** PyTorch's Adam in f64 for `steps` steps; returns the parameters after each. */
function reference(p0: number[], grads: number[][], o: AdamOptions): number[][] {
  const p = [...p0], m = p.map(() => 0), v = p.map(() => 0), vmax = p.map(() => 0);
  const [b1, b2] = o.betas;
  return grads.map((grad, s) => {
    const t = s + 1;
    for (let i = 0; i < p.length; i++) {
      const g = Math.fround(grad[i]) + o.weight_decay * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      vmax[i] = Math.max(vmax[i], v[i]);
      const denom = Math.sqrt(o.amsgrad ? vmax[i] : v[i]) / Math.sqrt(1 - b2 ** t) + o.eps;
      p[i] -= o.lr / (1 - b1 ** t) * m[i] / denom;
    }
    return [...p];
  });
}

for (
  const [what, o] of [
    ["defaults at lr 0.02", { ...ADAM_DEFAULTS, lr: 0.02 }],
    ["weight decay 0.01", { ...ADAM_DEFAULTS, lr: 1e-3, weight_decay: 0.01 }],
    ["AMSGrad", { ...ADAM_DEFAULTS, lr: 0.02, amsgrad: true }],
  ] as const
) {
  Deno.test(
    `adam_update follows PyTorch's Adam over five steps (${what}); 37 parameters cross the vector tail`,
    withArena(() => {
      const r = testRandom(37);
      const p0 = r.array(37, -1, 1).map(Math.fround);
      // Gradients from 1e-6 to 10 in size, with signs that flip between steps (AMSGrad's maximum matters then).
      const grads = [0, 1, 2, 3, 4].map((s) =>
        r.array(37, -1, 1).map((g, i) => g * 10 ** ((i % 8) - 6) * (s % 2 ? -1 : 1))
      );
      const n = p0.length;
      const params = arena.f32([n]).set(p0), g = arena.f32([n]);
      const m = arena.f32([n]), v = arena.f32([n]), vmax = arena.f32([n]);
      const want = reference(p0, grads, o);
      grads.forEach((grad, s) => {
        g.set(grad);
        adam_update(params, g, m, v, vmax, o, s + 1);
        // f32 state: a few roundings per step on values of order lr; 1e-6 relative and absolute is far past them.
        for (let i = 0; i < n; i++) {
          const err = Math.abs(params.f32[i] - want[s][i]);
          assert.ok(
            err <= 1e-6 * (1 + Math.abs(want[s][i])),
            `step ${s + 1}, parameter ${i}: ${params.f32[i]} vs ${want[s][i]}`,
          );
        }
      });
    }),
  );
}
