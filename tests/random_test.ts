import assert from "node:assert/strict";
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
