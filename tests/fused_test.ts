// kernels/fused.ts: the one-call training step against the per-layer kernels.
// Every step of two epochs starts both paths from the same state (the
// per-layer path's), and the loss, the prediction, every gradient, the running
// statistics and the parameters after Adam must agree within the fixture
// tolerances (../shared/fixtures/README.md). Trajectories are not compared:
// with BN, a Linear bias before BN has a true gradient of zero, so both paths
// (and PyTorch) see only rounding noise there, which Adam turns into steps of
// up to ±lr with either sign; from then on the runs differ, as any two
// implementations do.
import assert from "node:assert/strict";
import { ADAM_DEFAULTS } from "../src/kernels/adam.ts";
import { arena } from "../src/kernels/arena.ts";
import { gather_rows } from "../src/kernels/data.ts";
import { TOL } from "../src/conformance/conformance.ts";
import { notebookData } from "../src/net/dataset.ts";
import { type BnVariant, Net, notebookSpec } from "../src/net/model.ts";
import { Random } from "../src/net/random.ts";
import { withArena } from "./scoped.ts";

/** The largest |a − b| over |b| + `floor` of two arrays. */
function worst(a: ArrayLike<number>, b: ArrayLike<number>, scale: (i: number) => number): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / scale(i));
  return w;
}

for (const variant of ["torch", "mybn", "none"] as BnVariant[]) {
  for (const activation of ["tanh", "sigmoid", "relu"] as const) {
    Deno.test(
      `fused and per-layer steps agree within the fixtures' tolerances, step by step over two epochs (${variant}, ${activation})`,
      withArena(() => {
        const spec = { ...notebookSpec(variant), activation };
        const ref = new Net(spec, 64), fused = new Net(spec, 64);
        ref.initialize(new Random(3, "init"));
        const data = notebookData(3);
        const xs = arena.f32([1000, 1]).set(data.train.x), ys = arena.f32([1000, 1]).set(data.train.y);
        const order = arena.u32([1000]);
        const shuffle = new Random(3, "shuffle");
        const opts = { ...ADAM_DEFAULTS, lr: 0.02 };
        const bn = variant !== "none";
        for (let epoch = 0; epoch < 2; epoch++) {
          order.u32.forEach((_, i, o) => o[i] = i);
          shuffle.shuffle(order.u32);
          // 15 full batches and the last of 40 rows: a batch that is not a multiple of the vector width too.
          for (let from = 0; from < 1000; from += 64) {
            const n = Math.min(64, 1000 - from), what = `epoch ${epoch}, rows ${from}+${n}`;
            for (const name of [...ref.parameterNames, ...ref.bufferNames]) {
              const get = name.includes("running") ? "buffer" : "param";
              fused[get](name).f32.set(ref[get](name).f32);
            }
            fused.adamM.f32.set(ref.adamM.f32);
            fused.adamV.f32.set(ref.adamV.f32);
            fused.step = ref.step;
            gather_rows(ref.input(n), xs, order, from);
            gather_rows(ref.target(n), ys, order, from);
            const refLoss = ref.lossAndGrad(n);
            const loss = fused.fusedTrainStep(xs, ys, order, from, n, opts);
            assert.ok(Math.abs(loss - refLoss) <= TOL.exact.rtol * refLoss, `${what}: loss ${loss} vs ${refLoss}`);
            const pred = ref.prediction(n).f32, predMax = Math.max(...Array.from(pred, Math.abs));
            const predTol = bn ? TOL.networkBnPred : TOL.exact;
            assert.ok(
              worst(
                fused.fusedPrediction(n).f32,
                pred,
                (i) => predTol.atolRel * predMax + predTol.rtol * Math.abs(pred[i]),
              ) <= 1,
              `${what}: predictions`,
            );
            // Gradients: per element for `none`; against the step's global max |grad| G with BN.
            const g = ref.grads.f32, G = Math.max(...Array.from(g, Math.abs));
            const gradScale = bn
              ? () => TOL.networkGradRel * G
              : (i: number) => TOL.exact.atolRel * G + TOL.exact.rtol * Math.abs(g[i]);
            assert.ok(worst(fused.grads.f32, g, gradScale) <= 1, `${what}: gradients`);
            const rb = ref.buffers.f32;
            assert.ok(
              worst(fused.buffers.f32, rb, (i) => TOL.bn.rtol * Math.abs(rb[i]) + 1e-6) <= 1,
              `${what}: running statistics`,
            );
            ref.optimizerStep(opts);
            const p = ref.params.f32;
            // Adam: 1e-5 where the gradient is not tiny; near-zero gradients may move by up to 2·lr (README).
            const small = (i: number) => Math.abs(g[i]) < 1e-3 * G;
            assert.ok(
              worst(fused.params.f32, p, (i) => small(i) && bn ? 2 * opts.lr : 1e-5 + 1e-5 * Math.abs(p[i])) <= 1,
              `${what}: parameters after Adam`,
            );
            assert.equal(fused.step, ref.step);
          }
        }
      }),
    );
  }
}

for (const variant of ["torch", "mybn", "none"] as BnVariant[]) {
  for (const activation of ["tanh", "sigmoid", "relu"] as const) {
    Deno.test(
      `the fused eval agrees with the per-layer eval: loss, predictions and every block's activations (${variant}, ${activation})`,
      withArena(() => {
        // A trained state: running statistics away from their start, weights away from the init.
        const net = new Net({ ...notebookSpec(variant), activation }, 100);
        net.initialize(new Random(4, "init"));
        const data = notebookData(4);
        const xs = arena.f32([1000, 1]).set(data.train.x), ys = arena.f32([1000, 1]).set(data.train.y);
        const order = arena.u32([1000]);
        order.u32.forEach((_, i, o) => o[i] = i);
        new Random(4, "shuffle").shuffle(order.u32);
        for (let from = 0; from + 64 <= 1000; from += 64) net.fusedTrainStep(xs, ys, order, from, 64, ADAM_DEFAULTS);
        const tol = variant === "none" ? TOL.exact : TOL.networkBnPred;
        const close = (got: Float32Array, want: Float32Array, what: string) => {
          const max = Math.max(...Array.from(want, Math.abs));
          assert.ok(worst(got, want, (i) => tol.atolRel * max + tol.rtol * Math.abs(want[i])) <= 1, what);
        };
        // 100 rows (the test set) and 37 (a stride with padding).
        for (const n of [100, 37]) {
          net.input(n).f32.set(data.test.x.subarray(0, n));
          net.target(n).f32.set(data.test.y.subarray(0, n));
          const want = net.loss(n);
          const wantPred = net.prediction(n).f32.slice();
          const wantLayers = Array.from({ length: net.spec.layers }, (_, l) => {
            const { preActivation, activation } = net.layerOutputs(n, l);
            return { u: preActivation.f32.slice(), h: activation.f32.slice() };
          });
          const buffers = net.buffers.f32.slice();
          // The fused eval reads the samples where they are, not from the network's input rows.
          const x = arena.f32([n, 1]).set(data.test.x.subarray(0, n));
          const y = arena.f32([n, 1]).set(data.test.y.subarray(0, n));
          net.input(n).f32.fill(NaN);
          net.target(n).f32.fill(NaN);
          const got = net.fusedLoss(x, y);
          assert.ok(Math.abs(got - want) <= tol.rtol * want, `${n} rows: loss ${got} vs ${want}`);
          close(net.prediction(n).f32, wantPred, `${n} rows: predictions`);
          wantLayers.forEach((w, l) => {
            const { preActivation, activation } = net.layerOutputs(n, l);
            close(preActivation.f32, w.u, `${n} rows: block ${l}'s activation input`);
            close(activation.f32, w.h, `${n} rows: block ${l}'s output`);
          });
          assert.deepEqual(net.buffers.f32, buffers, "an eval leaves the running statistics alone");
        }
      }),
    );
  }
}

Deno.test(
  "the fused step refuses a network it does not take, and a one-row BN batch",
  withArena(() => {
    const wide = new Net({ ...notebookSpec("torch"), hidden: 65 }, 8);
    const xs = arena.f32([8, 1]), ys = arena.f32([8, 1]), order = arena.u32([8]);
    assert.throws(() => wide.fusedTrainStep(xs, ys, order, 0, 8, ADAM_DEFAULTS), /width 1…64/);
    const net = new Net(notebookSpec("torch"), 8);
    assert.throws(() => net.fusedTrainStep(xs, ys, order, 0, 1, ADAM_DEFAULTS), /at least 2 rows/);
    assert.throws(() => net.fusedTrainStep(xs, ys, order, 4, 8, ADAM_DEFAULTS), /rows 4\.\.12 of a 8-entry index/);
  }),
);
