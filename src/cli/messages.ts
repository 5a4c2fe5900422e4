/**
 * What the layers below report as data, worded for the train command with
 * its flag names: a plan that cannot run, an output directory that cannot be
 * used. Each is one line; the command exits 2.
 *
 * @example
 * ```ts
 * import { planMessage } from "./messages.ts";
 * planMessage({ kind: "seed-range", seed: 4294967295, seeds: 2 });
 * // "--seed 4294967295 with --seeds 2 runs past seed 4294967295"
 * ```
 * @module
 */
import { MAX_SEED, type PlanProblem } from "../experiment/plan.ts";
import type { BatchProblem } from "../net/train.ts";
import { formatBytes } from "../outputs/numbers.ts";
import { LOCK_FILE, type OutDirProblem } from "../outputs/outdir.ts";

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** "8 runs (4 configurations × 1 seed × 2 variants)". */
export function runCount(runs: number, configurations: number, seeds: number, variants: number): string {
  return `${plural(runs, "run")} (${plural(configurations, "configuration")} × ${plural(seeds, "seed")} × ${
    plural(variants, "variant")
  })`;
}

function batchMessage(p: BatchProblem): string {
  if (p.kind === "no-batch") {
    return `--batch-size ${p.batchSize} with --drop-last leaves no batch of the ${p.samples} training samples`;
  }
  const which = p.batchSize === 1 ? "every batch has" : `the last batch of the ${p.samples} training samples has`;
  return `BN needs at least 2 rows per batch in training, but with --batch-size ${p.batchSize} ${which} 1 row;` +
    " use --drop-last or another --batch-size";
}

/** A {@link PlanProblem} in the train command's words. */
export function planMessage(p: PlanProblem): string {
  switch (p.kind) {
    case "too-many-runs":
      return `${runCount(p.runs, p.configurations, p.seeds, p.variants)} is more than --max-runs ${p.maxRuns}; ` +
        "shorten the lists or raise --max-runs";
    case "seed-range":
      return `--seed ${p.seed} with --seeds ${p.seeds} runs past seed ${MAX_SEED}`;
    case "batch":
      return batchMessage(p.problem);
    case "path":
      return `--path fused takes --hidden 1…${p.maxWidth}, got ${p.hidden}; use --path auto or layers`;
    case "path-noisy":
      return "--path fused has no noisy variant (the per-layer kernels train it); use --path auto or layers";
    case "path-after":
      return "--path fused has no --bn-position after (the per-layer kernels train it); use --path auto or layers";
    case "memory": {
      const { hidden, layers, batchSize } = p.config;
      const what = `--hidden ${hidden} × --layers ${layers} with --batch-size ${batchSize} needs ${
        formatBytes(p.need)
      }`;
      if (p.limitFrom === "wasm32") return `${what}; WebAssembly memory holds at most 4 GiB: use smaller sizes`;
      return `${what}, more than the ${formatBytes(p.limit)} allowed` +
        (p.limitFrom === "ram" ? " (half of the RAM; raise it with --max-memory)" : " by --max-memory");
    }
  }
}

/** An {@link OutDirProblem} in the train command's words. */
export function outDirMessage(p: OutDirProblem): string {
  switch (p.kind) {
    case "symlink":
      return `--out ${p.path} passes through the symbolic link ${p.link}; give a path without links`;
    case "not-directory":
      return `--out ${p.path} exists and is not a directory`;
    case "locked":
      return `--out ${p.path} is being written by another bnlab run (pid ${p.holder || "unknown"}); ` +
        `if that run is gone, remove ${p.path}/${LOCK_FILE}`;
    case "not-empty":
      return `--out ${p.path} is not empty; choose another directory or add --force`;
  }
}
