// Worker threads split the large kernels by disjoint output ranges, so the
// results must be bit-identical to one thread's.
import assert from "node:assert/strict";
import { ADAM_DEFAULTS } from "../src/kernels/adam.ts";
import { arena } from "../src/kernels/arena.ts";
import { type BnVariant, Net } from "../src/net/model.ts";
import { Random } from "../src/net/random.ts";
import { memory } from "../src/kernels/memory.ts";
import { part, startThreads, stopThreads, ThreadPool, threadPool } from "../src/kernels/threads.ts";
import { DEFAULTS, specFor } from "../src/net/train.ts";

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

Deno.test("pools start, run and stop 200 times with 2–4 threads; every job is done and no memory is kept", async () => {
  // The start race this guards against: a job published before a new worker
  // first read the job counter was missed, and both sides waited forever (the
  // old protocol hung within the first 50 of these cycles every time).
  const n = 1031, x = arena.f32([n]), y = arena.f32([n]);
  for (let i = 0; i < n; i++) x.f32[i] = i % 7 - 3;
  const top = arena.used;
  try {
    for (let cycle = 0; cycle < 200; cycle++) {
      await startThreads(2 + cycle % 3);
      const pool = threadPool()!;
      for (let job = 0; job < 3; job++) {
        y.f32.fill(NaN);
        // The first job goes out right after the start, when the race was likeliest.
        pool.run("relu_forward", n, 4, -1, y.ptr, x.ptr);
        for (let i = 0; i < n; i++) {
          if (y.f32[i] !== Math.max(0, x.f32[i])) assert.fail(`cycle ${cycle}, job ${job}: y[${i}] = ${y.f32[i]}`);
        }
      }
      stopThreads();
      assert.equal(arena.used, top, `cycle ${cycle}: the pool's control block and scratch were not given back`);
    }
  } finally {
    stopThreads();
  }
});

Deno.test("a worker that never takes its job fails the job with a message instead of hanging", async () => {
  const pool = await ThreadPool.start(2, {
    worker: new URL("./silent_worker.ts", import.meta.url),
    takeDeadlineMs: 300,
  });
  const x = arena.f32([64]);
  const started = performance.now();
  assert.throws(() => pool.run("relu_forward", 64, 4, -1, x.ptr, x.ptr), /thread pool stuck: .*relu_forward/);
  assert.throws(() => pool.run("relu_forward", 64, 4, -1, x.ptr, x.ptr), /the thread pool is stuck/);
  pool.stop();
  assert.ok(performance.now() - started < 10_000, "the stuck pool was not reported promptly");
});

Deno.test("a part that traps on a worker fails the job, and the pool goes on working", async () => {
  const pool = await ThreadPool.start(2);
  try {
    // 1024 floats end exactly at the end of the memory: the worker's half of a
    // 2048-element job reads and writes past it, the calling thread's does not.
    const end = memory.buffer.byteLength;
    const ptr = end - 4096;
    assert.throws(() => pool.run("relu_forward", 2048, 4, -1, ptr, ptr), /relu_forward failed on worker thread 1/);
    const x = arena.f32([8]).set([-1, 2, -3, 4, -5, 6, -7, 8]);
    pool.run("relu_forward", 8, 4, -1, x.ptr, x.ptr);
    assert.deepEqual([...x.f32], [0, 2, 0, 4, 0, 6, 0, 8]);
  } finally {
    pool.stop();
  }
});
