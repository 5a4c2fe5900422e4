import assert from "node:assert/strict";
import { arena } from "../src/kernels/arena.ts";
import { Random } from "../src/net/random.ts";

/** `below` as first written, with `%`: the draws must not change, or every shuffle (and every loss) would. */
function belowByModulo(rng: Random, n: number): number {
  const limit = 4294967296 - (4294967296 % n);
  let x: number;
  do x = rng.nextUint32(); while (x >= limit);
  return x % n;
}

Deno.test("below(n) draws exactly what x % n rejection sampling draws, for small, odd, power-of-two and 2³²-sized n", () => {
  const sizes = [1, 2, 3, 7, 64, 1000, 65_537, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 3_000_000_019, 2 ** 32 - 1, 2 ** 32];
  for (const n of sizes) {
    const a = new Random(n, "shuffle"), b = new Random(n, "shuffle");
    for (let i = 0; i < 2000; i++) assert.equal(a.below(n), belowByModulo(b, n), `n = ${n}, draw ${i}`);
  }
});

Deno.test("shuffle is a permutation, and the same seed and stream give the same one", () => {
  const shuffled = (seed: number) =>
    new Random(seed, "shuffle").shuffle(Uint32Array.from({ length: 1000 }, (_, i) => i));
  const a = shuffled(5);
  assert.deepEqual(a, shuffled(5));
  assert.notDeepEqual(a, shuffled(6));
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
});

Deno.test("shuffleTensor (in wasm) gives shuffle's permutation and leaves the generator where shuffle does", () => {
  const mark = arena.mark();
  try {
    const scratch = arena.u32([4]);
    // Sizes around the rejection thresholds' structure: 1, 2, primes, powers of two, and the notebook's 1000.
    for (const n of [0, 1, 2, 3, 7, 64, 100, 257, 1000, 4096, 65537]) {
      for (const seed of [0, 1, 42, 0xffffffff]) {
        const js = new Random(seed, "shuffle"), wasm = new Random(seed, "shuffle");
        const t = arena.u32([n]);
        const a = Array.from({ length: n }, (_, i) => i);
        for (let round = 0; round < 3; round++) {
          t.u32.set(a);
          js.shuffle(a);
          wasm.shuffleTensor(t, scratch);
          // The first difference, not deepEqual: node's diff of two 65537-element arrays that differ takes gigabytes.
          const got = t.u32, at = a.findIndex((v, i) => got[i] !== v);
          assert.equal(at, -1, `n ${n}, seed ${seed}, round ${round}: first difference at index ${at}`);
        }
        assert.equal(wasm.nextUint32(), js.nextUint32(), `state after n ${n}, seed ${seed}`);
      }
    }
  } finally {
    arena.release(mark);
  }
});
