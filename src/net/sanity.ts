/**
 * The notebook's BN sanity check: `[[1, 2], [3, 4], [5, 6]]` through one
 * training-mode BN layer with γ = 1, β = 0, under each semantics. The notebook
 * printed ±1.2247 for its MyBN (and ±1.1071 / ±1.1810 for PyTorch's layer of
 * the time, whose γ started uniform in [0, 1)).
 *
 * @example
 * ```ts
 * import { bnSanityCheck } from "./sanity.ts";
 * bnSanityCheck("torch", 0.5); // [[-1.2247…, -1.2247…], [0, 0], [1.2247…, 1.2247…]]
 * ```
 * @module
 */
import { arena } from "../kernels/arena.ts";
import { batchnorm_forward, type BnSemantics } from "../kernels/batchnorm.ts";
import { type BnInit, defaultEps, legacyGamma } from "./model.ts";
import { Random } from "./random.ts";

/** The three output rows of the check under `semantics` with BN momentum `momentum` (and γ, 1 by default). */
export function bnSanityCheck(semantics: BnSemantics, momentum: number, gammaValues = [1, 1]): number[][] {
  const mark = arena.mark();
  try {
    const x = arena.f32([3, 2]).set([1, 2, 3, 4, 5, 6]);
    const y = arena.f32([3, 2]);
    const runningVar = arena.f32([2]).set(semantics === "torch" ? [1, 1] : [0, 0]);
    const gamma = arena.f32([2]).set(gammaValues);
    const eps = defaultEps(semantics);
    batchnorm_forward(
      y,
      arena.f64([2]),
      arena.f64([2]),
      arena.f32([2]),
      runningVar,
      x,
      gamma,
      arena.f32([2]),
      eps,
      momentum,
      semantics,
    );
    return [0, 1, 2].map((r) => [y.f32[2 * r], y.f32[2 * r + 1]]);
  } finally {
    arena.release(mark);
  }
}

/** A row of the check, as the notebook printed it: four decimals. */
function rowsText(rows: number[][]): string {
  return `[${rows.map((row) => `[${row.map((v) => v.toFixed(4)).join(", ")}]`).join(", ")}]`;
}

/**
 * The check as the train command prints it (and the browser page shows it):
 * a heading, a line per semantics, and with `bnInit` "legacy" what a γ drawn
 * ~ U(0, 1) from `seed`'s init stream does to it.
 */
export function sanityLines(momentum: number, bnInit: BnInit, seed: number): string[] {
  const lines = ["BN sanity check: x = [[1, 2], [3, 4], [5, 6]], training mode, γ = 1, β = 0"];
  for (const semantics of ["mybn", "torch"] as const) {
    const eps = defaultEps(semantics).toExponential(0);
    lines.push(`  ${semantics.padEnd(5)} (eps ${eps}): ${rowsText(bnSanityCheck(semantics, momentum))}`);
  }
  if (bnInit === "legacy") {
    // The notebook printed ±1.1071 / ±1.1810 for PyTorch's layer: its γ started ~ U(0, 1), as here.
    const gamma = new Float32Array(2);
    legacyGamma(new Random(seed, "init"), gamma);
    lines.push(
      `  --bn-init legacy: γ ~ U(0, 1), e.g. [${[...gamma].map((g) => g.toFixed(4)).join(", ")}]: torch gives ` +
        `${rowsText(bnSanityCheck("torch", momentum, [...gamma]))}, not ±1.2247 ` +
        "(the notebook's ±1.1071 / ±1.1810 came from such a γ)",
    );
  }
  return lines;
}
