// kernels/data.ts: gathering a mini-batch by index, and the whole-tensor
// scans (non-finite count, sum of squares) the training loop and the
// diagnostics use.
import assert from "node:assert/strict";
import { arena } from "../src/kernels/arena.ts";
import { count_nonfinite, gather_rows, sum_squares } from "../src/kernels/data.ts";
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
