// Every backward against central finite differences of its forward.
//
// The scalar probed is L = Σ w·y with fixed random weights w (so dy = w),
// summed in f64 from the kernels' f32 outputs; each input element is moved by
// ±h and the difference divided by the step actually taken in f32. With
// h = 1e-2 the truncation error (O(h²)·f''') and the f32 rounding of L
// (~1e-7·Σ|w·y| / 2h) both stay near 1e-4 of the largest gradient, so
// |numeric − analytic| ≤ 2e-3·max|analytic| passes a correct backward with
// margin and fails any wrong term, sign or scale (those err by O(1)).
import assert from "node:assert/strict";
import { type Activation, activation_backward, activation_forward } from "../src/kernels/activations.ts";
import { arena, type Tensor } from "../src/kernels/arena.ts";
import {
  batchnorm_backward,
  batchnorm_eval_backward,
  batchnorm_eval_forward,
  batchnorm_forward,
  batchnormSumsLength,
  type BnSemantics,
} from "../src/kernels/batchnorm.ts";
import { linear_backward, linear_forward } from "../src/kernels/linear.ts";
import { mse_backward, mse_forward } from "../src/kernels/loss.ts";
import { type BnPosition, type BnVariant, Net, type NetSpec, NOISE } from "../src/net/model.ts";
import { testRandom } from "./rng.ts";
import { withArena } from "./scoped.ts";

const H = 1e-2;
const TOL = 2e-3;

/**
 * Central differences of `loss` with respect to every element of `input`, at
 * H and H/2 combined by Richardson extrapolation, (4·D(H/2) − D(H))/3: the
 * O(H²) error of one difference cancels, which matters where the loss bends
 * sharply (a Linear weight near 0 before BN, where only eps keeps the output
 * from being scale-free).
 */
function numericGrad(input: Tensor, loss: () => number): Float64Array {
  const x = input.f32;
  const g = new Float64Array(x.length);
  const at = (i: number, h: number) => {
    const orig = x[i];
    x[i] = orig + h;
    const up = x[i];
    const lPlus = loss();
    x[i] = orig - h;
    const down = x[i];
    const lMinus = loss();
    x[i] = orig;
    return (lPlus - lMinus) / (up - down);
  };
  for (let i = 0; i < x.length; i++) g[i] = (4 * at(i, H / 2) - at(i, H)) / 3;
  return g;
}

/** |analytic − numeric| ≤ TOL·scale, scale defaulting to max|analytic| of this tensor. */
function assertGradClose(
  what: string,
  analytic: ArrayLike<number>,
  numeric: ArrayLike<number>,
  scale = Math.max(...Array.from(analytic, Math.abs)),
): void {
  let worst = 0, at = -1;
  for (let i = 0; i < numeric.length; i++) {
    const e = Math.abs(analytic[i] - numeric[i]);
    if (e > worst) [worst, at] = [e, i];
  }
  assert.ok(scale > 0, `${what}: the analytic gradient is all zero, nothing is checked`);
  assert.ok(
    worst <= TOL * scale,
    `${what}[${at}]: analytic ${analytic[at]} vs numeric ${numeric[at]} (|Δ| ${worst.toExponential(2)} > ${
      (TOL * scale).toExponential(2)
    })`,
  );
}

/** Σ w·y in f64. */
function weightedSum(y: Tensor, w: Tensor): number {
  const a = y.f32, b = w.f32;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function tensor(shape: number[], values: number[]): Tensor {
  return arena.f32(shape).set(values);
}

Deno.test(
  "linear_backward matches finite differences for dx, dW and db",
  withArena(() => {
    const r = testRandom(1);
    const [N, I, O] = [8, 5, 3];
    const x = tensor([N, I], r.array(N * I, -2, 2));
    const W = tensor([O, I], r.array(O * I, -1, 1));
    const b = tensor([O], r.array(O, -1, 1));
    const w = tensor([N, O], r.array(N * O, -1, 1));
    const y = arena.f32([N, O]);
    const wt = arena.f32([O * I]);
    const loss = () => (linear_forward(y, x, W, b, wt), weightedSum(y, w));
    const dx = arena.f32([N, I]), dW = arena.f32([O, I]), db = arena.f32([O]);
    loss();
    linear_backward(dx, dW, db, w, x, W);
    assertGradClose("dx", dx.f32, numericGrad(x, loss));
    assertGradClose("dW", dW.f32, numericGrad(W, loss));
    assertGradClose("db", db.f32, numericGrad(b, loss));
  }),
);

for (const semantics of ["torch", "mybn"] as BnSemantics[]) {
  Deno.test(
    `batchnorm_backward (${semantics}, training) matches finite differences for dx, dγ and dβ`,
    withArena(() => {
      const r = testRandom(2);
      const [N, C] = [8, 5];
      // Columns of different scales and offsets; the spread keeps var ≫ eps.
      const x = tensor([N, C], r.array(N * C, -1, 1).map((v, i) => 3 * v * (1 + (i % C)) + (i % C) - 2));
      const gamma = tensor([C], r.array(C, 0.5, 1.5)), beta = tensor([C], r.array(C, -1, 1));
      const rm = arena.f32([C]), rv = arena.f32([C]);
      const mean = arena.f64([C]), rstd = arena.f64([C]);
      const w = tensor([N, C], r.array(N * C, -1, 1));
      const y = arena.f32([N, C]);
      const eps = semantics === "mybn" ? 1e-6 : 1e-5;
      const loss = () => {
        batchnorm_forward(y, mean, rstd, rm, rv, x, gamma, beta, eps, 0.5, semantics);
        return weightedSum(y, w);
      };
      loss();
      const dx = arena.f32([N, C]), dgamma = arena.f32([C]), dbeta = arena.f32([C]);
      batchnorm_backward(dx, dgamma, dbeta, arena.f64([batchnormSumsLength(C)]), w, x, gamma, mean, rstd);
      assertGradClose("dx", dx.f32, numericGrad(x, loss));
      assertGradClose("dgamma", dgamma.f32, numericGrad(gamma, loss));
      assertGradClose("dbeta", dbeta.f32, numericGrad(beta, loss));
    }),
  );
}

Deno.test(
  "batchnorm_eval_backward matches finite differences for dx, dγ and dβ",
  withArena(() => {
    const r = testRandom(3);
    const [N, C] = [6, 4];
    const x = tensor([N, C], r.array(N * C, -3, 3));
    const gamma = tensor([C], r.array(C, 0.5, 1.5)), beta = tensor([C], r.array(C, -1, 1));
    const rm = tensor([C], r.array(C, -1, 1)), rv = tensor([C], r.array(C, 0.5, 2));
    const w = tensor([N, C], r.array(N * C, -1, 1));
    const y = arena.f32([N, C]);
    const loss = () => (batchnorm_eval_forward(y, x, gamma, beta, rm, rv, 1e-5), weightedSum(y, w));
    const dx = arena.f32([N, C]), dgamma = arena.f32([C]), dbeta = arena.f32([C]);
    batchnorm_eval_backward(dx, dgamma, dbeta, w, x, gamma, rm, rv, 1e-5);
    assertGradClose("dx", dx.f32, numericGrad(x, loss));
    assertGradClose("dgamma", dgamma.f32, numericGrad(gamma, loss));
    assertGradClose("dbeta", dbeta.f32, numericGrad(beta, loss));
  }),
);

for (const act of ["tanh", "sigmoid", "relu"] as Activation[]) {
  Deno.test(
    `${act}_backward matches finite differences`,
    withArena(() => {
      const r = testRandom(4);
      // For relu, keep every input at least 0.1 away from the kink at 0.
      const values = r.array(21, -3, 3).map((v) => act === "relu" && Math.abs(v) < 0.1 ? v + 0.2 : v);
      const x = tensor([7, 3], values), w = tensor([7, 3], r.array(21, -1, 1)), y = arena.f32([7, 3]);
      const loss = () => (activation_forward(act, y, x), weightedSum(y, w));
      loss();
      const dx = arena.f32([7, 3]);
      activation_backward(act, dx, w, y);
      assertGradClose("dx", dx.f32, numericGrad(x, loss));
    }),
  );
}

Deno.test(
  "mse_backward matches finite differences",
  withArena(() => {
    const r = testRandom(5);
    const pred = tensor([9, 2], r.array(18, -2, 2)), target = tensor([9, 2], r.array(18, -2, 2));
    const dpred = arena.f32([9, 2]);
    mse_backward(dpred, pred, target);
    assertGradClose("dpred", dpred.f32, numericGrad(pred, () => mse_forward(pred, target)));
  }),
);

const NETS: [BnVariant, Activation, BnPosition][] = [
  ["torch", "tanh", "before"],
  ["mybn", "tanh", "before"],
  ["noisy", "tanh", "before"],
  ["none", "tanh", "before"],
  ["torch", "sigmoid", "before"],
  ["torch", "tanh", "after"],
  ["noisy", "tanh", "after"],
  ["mybn", "sigmoid", "after"],
];
for (const [bn, activation, bnPosition] of NETS) {
  Deno.test(
    `Net.backward (${bn} BN ${bnPosition} ${activation}) matches finite differences for every parameter`,
    withArena(() => {
      const r = testRandom(6);
      const spec: NetSpec = {
        inputs: 1,
        hidden: 6,
        layers: 3,
        outputs: 1,
        activation,
        bn,
        eps: bn === "mybn" ? 1e-6 : 1e-5,
        momentum: 0.5,
        bnPosition,
      };
      const N = 16;
      const net = new Net(spec, N);
      for (const name of net.parameterNames) {
        const p = net.param(name);
        if (!name.startsWith("bn")) p.set(r.array(p.size, -0.8, 0.8));
      }
      // The noisy variant: one step's perturbation (training's ranges), held fixed while the differences are taken.
      net.noise?.scale.set(r.array(net.noise.scale.size, NOISE.scaleLo, NOISE.scaleHi));
      net.noise?.shift.set(r.array(net.noise.shift.size, -NOISE.shift, NOISE.shift));
      net.input(N).set(r.array(N, -2, 2));
      net.target(N).set(r.array(N, -1, 1));
      const loss = () => mse_forward(net.forward(N, true), net.target(N));
      net.lossAndGrad(N);
      // With BN, the biases before it have a zero gradient (BN removes any
      // shift) and fc0.weight (one input) nearly so (BN removes its scale, only
      // eps is left): as in the fixtures README, such tensors are compared
      // against the largest gradient of the whole network.
      const global = bn === "none" ? undefined : Math.max(...Array.from(net.grads.f32, Math.abs));
      for (const name of net.parameterNames) {
        const analytic = net.grad(name).f32.slice();
        assertGradClose(name, analytic, numericGrad(net.param(name), loss), global);
      }
    }),
  );
}
