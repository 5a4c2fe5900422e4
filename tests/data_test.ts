// kernels/data.ts: gathering a mini-batch by index, and the whole-tensor
// scans (non-finite count, sum of squares) the training loop and the
// diagnostics use.
import assert from "node:assert/strict";
import { arena } from "../src/kernels/arena.ts";
import {
  count_nonfinite,
  gather_rows,
  histogram,
  histogram_blocks,
  sum_squares,
  transpose,
} from "../src/kernels/data.ts";
import { testRandom } from "./rng.ts";
import { assertUntouched, guardAfter, withArena } from "./scoped.ts";

Deno.test(
  "gather_rows copies row index[from + r] of src into row r of dst, for one and for several columns",
  withArena(() => {
    for (const cols of [1, 3, 5]) {
      const rows = 11;
      const src = arena.f32([rows, cols]).set(Array.from({ length: rows * cols }, (_, i) => i + 0.5));
      const index = arena.u32([7]).set([10, 0, 3, 3, 9, 2, 7]);
      const dst = arena.f32([4, cols]);
      dst.f32.fill(NaN);
      gather_rows(dst, src, index, 2);
      const want = [3, 3, 9, 2].flatMap((r) => Array.from({ length: cols }, (_, c) => r * cols + c + 0.5));
      assert.deepEqual([...dst.f32], want, `${cols} columns`);
    }
  }),
);

Deno.test(
  "gather_rows refuses an index range past its end and rows of another width",
  withArena(() => {
    const src = arena.f32([5, 2]), index = arena.u32([5]), dst = arena.f32([3, 2]);
    assert.throws(() => gather_rows(dst, src, index, 3), /rows 3\.\.6 of a 5-entry u32 index/);
    assert.throws(() => gather_rows(arena.f32([2, 3]), src, index, 0), /rows of 3 f32 expected/);
    assert.throws(() => gather_rows(dst, src, arena.f32([5]), 0), /index/);
  }),
);

Deno.test(
  "sum_squares is Σx² in f64 at every tail length, and counts what count_nonfinite counts",
  withArena(() => {
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 13, 1001]) {
      const t = arena.f32([n]);
      t.f32.forEach((_, i, a) => a[i] = Math.sin(i * 1.7) * 10 ** ((i % 7) - 3));
      const guard = guardAfter();
      let expected = 0;
      for (const v of t.f32) expected += v * v;
      // Both sides sum exact f64 squares of f32 values in another order: at most n·2⁻⁵³ ≈ 1.1e-13 apart
      // relative for n = 1001; 1e-12 leaves a margin.
      assert.ok(Math.abs(sum_squares(t) - expected) <= 1e-12 * expected, `n ${n}: ${sum_squares(t)} vs ${expected}`);
      assertUntouched(guard, "sum_squares");
      if (n > 2) {
        t.f32[1] = NaN;
        t.f32[n - 1] = -Infinity;
        assert.equal(count_nonfinite(t), 2);
        assert.ok(Number.isNaN(sum_squares(t)));
      }
    }
  }),
);

Deno.test(
  "histogram counts every value once; the outer bins take what lies beyond (±∞ too); NaN counts nowhere",
  withArena(() => {
    const bins = { lo: -1, hi: 1, count: 4 };
    // The kernel bins four values at a time (a group holding a NaN one at a time): ±∞ in a group without NaN, NaN in a group and in the tail.
    const values = [-100, -1, -0.5, -0.01, 0, 0.49, 0.5, 1, -Infinity, 100, Infinity, -0.75, 0.25, NaN, -0.5, 2, NaN];
    assert.deepEqual(histogram(arena.f32([values.length]).set(values), bins), [4, 3, 3, 5]);
    assert.deepEqual(histogram(arena.f32([0]), { lo: -6, hi: 6, count: 24 }), new Array(24).fill(0));
    // Against the definition, floor((x − lo)·count/(hi − lo)) clamped, on values spread past both ends.
    const xs = Array.from({ length: 1001 }, (_, i) => Math.fround(-7 + 14 * i / 1000));
    const want = new Array(24).fill(0);
    for (const x of xs) want[Math.min(23, Math.max(0, Math.floor((x + 6) * 24 / 12)))]++;
    assert.deepEqual(histogram(arena.f32([xs.length]).set(xs), { lo: -6, hi: 6, count: 24 }), want);
    assert.throws(() => histogram(arena.f32([1]), { lo: 1, hi: 1, count: 3 }), /3 bins over \[1, 1\]/);
  }),
);

Deno.test(
  "histogram_blocks counts each block's rows as histogram counts them gathered, and refuses a layout past the tensor",
  withArena(() => {
    const r = testRandom(11);
    const bins = { lo: -2, hi: 2, count: 9 };
    const values = r.array(600, -3, 3).map(Math.fround);
    const t = arena.f32([values.length]).set(values);
    for (
      const at of [
        { first: 3, blocks: 4, blockStride: 130, rows: 10, rowStride: 12, cols: 9 },
        { first: 0, blocks: 1, blockStride: 0, rows: 1, rowStride: 0, cols: 600 },
        { first: 7, blocks: 3, blockStride: 40, rows: 5, rowStride: 8, cols: 8 },
      ]
    ) {
      const want = Array.from({ length: at.blocks }, (_, b) => {
        const picked = [];
        for (let row = 0; row < at.rows; row++) {
          const start = at.first + b * at.blockStride + row * at.rowStride;
          picked.push(...values.slice(start, start + at.cols));
        }
        return histogram(arena.f32([picked.length]).set(picked), bins);
      });
      assert.deepEqual(histogram_blocks(t, at, bins), want, JSON.stringify(at));
    }
    const past = { first: 1, blocks: 2, blockStride: 300, rows: 1, rowStride: 0, cols: 300 };
    assert.throws(() => histogram_blocks(t, past, bins), /does not lie within 600 values/);
    assert.deepEqual(histogram_blocks(t, { ...past, cols: 0 }, bins), [new Array(9).fill(0), new Array(9).fill(0)]);
  }),
);

Deno.test(
  "transpose turns the first columns of a [rows, stride] block into [columns, rows]",
  withArena(() => {
    const src = arena.f32([3, 8]).set(Array.from({ length: 24 }, (_, i) => i));
    const dst = arena.f32([5, 3]);
    transpose(dst, src, 5);
    assert.deepEqual(Array.from(dst.f32), [0, 8, 16, 1, 9, 17, 2, 10, 18, 3, 11, 19, 4, 12, 20]);
    assert.throws(() => transpose(arena.f32([9, 3]), src, 9), /9 columns/);
  }),
);
