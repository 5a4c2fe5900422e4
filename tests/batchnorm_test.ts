// Properties of batch normalisation that hold for any input.
import assert from "node:assert/strict";
import { arena } from "../src/kernels/arena.ts";
import { batchnorm_eval_forward, batchnorm_forward, type BnSemantics } from "../src/kernels/batchnorm.ts";
import { testRandom } from "./rng.ts";

const SEMANTICS: BnSemantics[] = ["torch", "mybn"];

/** Mean and biased variance, in f64. */
function moments(v: number[]): [number, number] {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return [mean, v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length];
}

for (const semantics of SEMANTICS) {
  Deno.test(`training mode with γ=1, β=0 gives every column mean 0 and variance 1 (${semantics})`, () => {
    const mark = arena.mark();
    try {
      const r = testRandom(10);
      const [N, C] = [64, 7];
      // Column c has offset 10^(c-3) and spread 10^(c-3): from 1e-3 to 1e3.
      const values = r.array(N * C, -1, 1).map((v, i) => 10 ** ((i % C) - 3) * (v + 1));
      const x = arena.f32([N, C]).set(values);
      const gamma = arena.f32([C]).set(new Array(C).fill(1)), beta = arena.f32([C]);
      const y = arena.f32([N, C]);
      batchnorm_forward(
        y,
        arena.f64([C]),
        arena.f64([C]),
        arena.f32([C]),
        arena.f32([C]),
        x,
        gamma,
        beta,
        1e-5,
        0.5,
        semantics,
      );
      for (let c = 0; c < C; c++) {
        const col = (t: Float32Array) => Array.from({ length: N }, (_, n) => t[n * C + c]);
        const [mean, variance] = moments(col(y.f32));
        // The output variance is var/(var + eps): 1 up to eps/var, which matters
        // for the 1e-3 column. Both bounds are f32 rounding of y (~1e-7 each).
        const [, xVar] = moments(col(x.f32));
        assert.ok(Math.abs(mean) < 1e-6, `column ${c}: mean ${mean}`);
        assert.ok(Math.abs(variance - xVar / (xVar + 1e-5)) < 1e-5, `column ${c}: variance ${variance}`);
      }
    } finally {
      arena.release(mark);
    }
  });
}

Deno.test("eval mode leaves the running statistics untouched, bit for bit", () => {
  const mark = arena.mark();
  try {
    const r = testRandom(11);
    const [N, C] = [16, 5];
    const x = arena.f32([N, C]).set(r.array(N * C, -4, 4));
    const gamma = arena.f32([C]).set(r.array(C, 0.5, 2)), beta = arena.f32([C]).set(r.array(C, -1, 1));
    const rm = arena.f32([C]).set(r.array(C, -1, 1)), rv = arena.f32([C]).set(r.array(C, 0.1, 3));
    const before = [rm.f32.slice(), rv.f32.slice()];
    batchnorm_eval_forward(arena.f32([N, C]), x, gamma, beta, rm, rv, 1e-5);
    assert.deepEqual([rm.f32, rv.f32], before);
  } finally {
    arena.release(mark);
  }
});

for (const semantics of SEMANTICS) {
  Deno.test(`a one-row batch in training mode is refused with PyTorch's message, not a NaN (${semantics})`, () => {
    const mark = arena.mark();
    try {
      const C = 3;
      const y = arena.f32([1, C]).set([7, 7, 7]);
      const rm = arena.f32([C]), rv = arena.f32([C]).set([1, 1, 1]);
      assert.throws(
        () =>
          batchnorm_forward(
            y,
            arena.f64([C]),
            arena.f64([C]),
            rm,
            rv,
            arena.f32([1, C]).set([1, 2, 3]),
            arena.f32([C]).set([1, 1, 1]),
            arena.f32([C]),
            1e-5,
            0.5,
            semantics,
          ),
        /expected more than 1 value per channel when training, got input size \[1,3\]/,
      );
      // Nothing was written: no NaN reached the output or the running statistics.
      assert.deepEqual([...y.f32, ...rm.f32, ...rv.f32], [7, 7, 7, 0, 0, 0, 1, 1, 1]);
    } finally {
      arena.release(mark);
    }
  });
}

Deno.test("the running statistics follow each variant's convention", () => {
  const mark = arena.mark();
  try {
    // Column [1, 3, 5]: mean 3, biased variance 8/3, unbiased 4.
    const x = arena.f32([3, 1]).set([1, 3, 5]);
    const one = arena.f32([1]).set([1]), zero = arena.f32([1]);
    const run = (semantics: BnSemantics, m0: number, v0: number, momentum: number) => {
      const rm = arena.f32([1]).set([m0]), rv = arena.f32([1]).set([v0]);
      batchnorm_forward(
        arena.f32([3, 1]),
        arena.f64([1]),
        arena.f64([1]),
        rm,
        rv,
        x,
        one,
        zero,
        1e-5,
        momentum,
        semantics,
      );
      return [rm.f32[0], rv.f32[0]];
    };
    // PyTorch: running = (1 − m)·running + m·batch, unbiased variance; from 0/1 with m = 0.1.
    assert.deepEqual(run("torch", 0, 1, 0.1), [Math.fround(0.3), Math.fround(0.9 + 0.4)]);
    // MyBN: moving = m·moving + (1 − m)·batch, biased variance; from 0/0 with m = 0.9.
    assert.deepEqual(run("mybn", 0, 0, 0.9), [Math.fround(0.1 * 3), Math.fround(0.1 * 8 / 3)]);
  } finally {
    arena.release(mark);
  }
});
