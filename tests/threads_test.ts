// Worker threads split the large kernels by disjoint output ranges, so the
// results must be bit-identical to one thread's.
import assert from "node:assert/strict";
import { ADAM_DEFAULTS } from "../src/adam.ts";
import { arena } from "../src/arena.ts";
import { type BnVariant, Net } from "../src/model.ts";
import { Random } from "../src/random.ts";
import { part, startThreads, stopThreads, threadPool } from "../src/threads.ts";
import { DEFAULTS, specFor } from "../src/train.ts";

/** Three Adam steps of a net big enough for every kernel to be split; returns params and losses. */
function train(variant: BnVariant): { params: Float32Array; losses: number[] } {
  const mark = arena.mark();
  try {
    // Width 132 and batch 522 are not multiples of the split alignments (6 rows, 4 columns).
    const N = 522;
    const net = new Net(specFor(variant, { ...DEFAULTS, hidden: 132, layers: 3 }), N);
    net.initialize(new Random(5, "init"));
    const rng = new Random(5, "data");
    const x = net.input(N).f32, y = net.target(N).f32;
    for (let i = 0; i < N; i++) {
      x[i] = rng.uniformIn(-5, 5);
      y[i] = x[i] * x[i] + rng.normal();
    }
    const losses = [0, 1, 2].map(() => net.trainStep(N, { ...ADAM_DEFAULTS, lr: 0.02 }));
    losses.push(net.loss(N));
    return { params: net.params.f32.slice(), losses };
  } finally {
    arena.release(mark);
  }
}

for (const variant of ["torch", "mybn", "none"] as BnVariant[]) {
  Deno.test(`two threads train bit-identically to one (${variant})`, async () => {
    try {
      await startThreads(1);
      const one = train(variant);
      await startThreads(2);
      assert.equal(threadPool()?.size, 2);
      const two = train(variant);
      // Per step: 3 hidden + 1 output Linear forwards, and BN/activation forwards, were split.
      assert.ok(threadPool()!.jobs >= 3 * 6, `only ${threadPool()!.jobs} jobs went to the threads`);
      assert.deepEqual(two.losses, one.losses);
      assert.deepEqual(two.params, one.params);
    } finally {
      stopThreads();
    }
  });
}

Deno.test("parts cover the range once, in multiples of the alignment", () => {
  for (const [total, align, n] of [[1024, 6, 2], [10, 4, 2], [7, 4, 3], [0, 4, 2], [5, 6, 2]]) {
    const parts = Array.from({ length: n }, (_, t) => part(total, align, n, t));
    assert.equal(parts[0][0], 0);
    assert.equal(parts[n - 1][1], total);
    for (let t = 1; t < n; t++) assert.equal(parts[t][0], parts[t - 1][1]);
    for (const [lo] of parts) assert.ok(lo % align === 0 || lo === total);
  }
});
