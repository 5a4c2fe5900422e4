/**
 * The run's CSV files. Numbers are written with JavaScript's shortest
 * round-trip form, so a reader gets back exactly the value that was computed.
 *
 * @example
 * ```ts
 * import { lossesHeader, lossRow } from "./csv.ts";
 * const run = { variant: "none", seed: 0 };
 * [lossesHeader(run), lossRow(run, 0, 60, 70), lossRow(run, 1, 58)].join("\n");
 * // "variant,seed,epoch,test_loss,train_loss\nnone,0,0,60,70\nnone,0,1,58,"
 * ```
 * @module
 */
import type { ProbeRecords } from "../experiment/probes.ts";
import type { Diagnostics } from "../net/diagnostics.ts";

/** What names a run in the CSV files: its variant, the swept settings' values and its seed. */
export interface RunKey {
  /** `mybn`, `torch` or `none`. */
  variant: string;
  /** `[flag, value]` for each swept setting, the same flags in every run of a file. */
  swept?: readonly (readonly [string, string])[];
  /** The run's seed. */
  seed: number;
}

/** The leading header cells that name a run: variant, each swept flag (as a column name), seed. */
function keyHeader(first: RunKey | undefined): string[] {
  return ["variant", ...(first?.swept ?? []).map(([flag]) => flag.replace(/-/g, "_")), "seed"];
}

function keyCells(r: RunKey): (string | number)[] {
  return [r.variant, ...(r.swept ?? []).map(([, v]) => v), r.seed];
}

/**
 * `losses.csv`'s header: the cells that name a run (variant, a column per
 * swept flag, seed), then epoch, test_loss, train_loss. Its rows
 * ({@link lossRow}): per run, epochs 0…E−1 with the test loss at the epoch's
 * start and the epoch's mean training loss, then epoch E with the final test
 * loss and an empty train_loss.
 */
export function lossesHeader(first: RunKey): string {
  return [...keyHeader(first), "epoch", "test_loss", "train_loss"].join(",");
}

/** One row of `losses.csv` (see {@link lossesHeader}); no train loss for the final row. */
export function lossRow(run: RunKey, epoch: number, testLoss: number, trainLoss?: number): string {
  return [...keyCells(run), epoch, testLoss, trainLoss ?? ""].join(",");
}

/** A run's per-layer diagnostics, as the two diagnostics CSVs need them. */
export interface DiagnosedRun extends RunKey {
  /** What the run's recorder saw. */
  diagnostics: Diagnostics;
}

/**
 * `histograms.csv`: one row per run, epoch, hidden layer, kind (pre or post
 * activation) and bin, with the bin's edges, count and fraction of the
 * layer's values. The outer bins are open: their outer edge is ±Infinity.
 */
export function histogramsCsv(runs: readonly DiagnosedRun[]): string {
  const rows = [[...keyHeader(runs[0]), "epoch", "layer", "kind", "bin_lo", "bin_hi", "count", "fraction"].join(",")];
  for (const r of runs) {
    const key = keyCells(r);
    for (const h of r.diagnostics.histograms) {
      const total = h.counts.reduce((a, b) => a + b, 0);
      const width = (h.bins.hi - h.bins.lo) / h.bins.count;
      h.counts.forEach((count, b) => {
        const lo = b === 0 ? -Infinity : h.bins.lo + b * width;
        const hi = b === h.bins.count - 1 ? Infinity : h.bins.lo + (b + 1) * width;
        rows.push([...key, h.epoch, h.layer, h.kind, lo, hi, count, total ? count / total : 0].join(","));
      });
    }
  }
  return rows.join("\n") + "\n";
}

/** `grad-norms.csv`: one row per run, epoch and weight, with the epoch's mean ‖∇W‖₂. */
export function gradNormsCsv(runs: readonly DiagnosedRun[]): string {
  const rows = [[...keyHeader(runs[0]), "epoch", "weight", "grad_norm"].join(",")];
  for (const r of runs) {
    const key = keyCells(r);
    r.diagnostics.gradNorms.forEach((norms, epoch) =>
      norms.forEach((norm, i) => rows.push([...key, epoch, r.diagnostics.weights[i], norm].join(",")))
    );
  }
  return rows.join("\n") + "\n";
}

/** A run's probe measurements, as the three probe CSVs need them. */
export interface ProbedRun extends RunKey {
  /** What the run's prober measured. */
  probes: ProbeRecords;
}

/** `percentiles.csv`: per run, probed step and hidden layer, unit 0's 15th, 50th and 85th percentile. */
export function percentilesCsv(runs: readonly ProbedRun[]): string {
  const rows = [[...keyHeader(runs[0]), "step", "layer", "p15", "p50", "p85"].join(",")];
  for (const r of runs) {
    const key = keyCells(r);
    for (const p of r.probes.percentiles) rows.push([...key, p.step, p.layer, ...p.values].join(","));
  }
  return rows.join("\n") + "\n";
}

/**
 * `landscape.csv`: per run, probed step and point θ − η·g, the point's scale
 * (η·‖g‖ over the length of the step's update; 0 is θ itself), the loss there,
 * ‖∇L(θ) − ∇L(θ − η·g)‖ and that over ‖η·g‖ (empty at θ).
 */
export function landscapeCsv(runs: readonly ProbedRun[]): string {
  const rows = [[...keyHeader(runs[0]), "step", "scale", "loss", "grad_change", "smoothness"].join(",")];
  for (const r of runs) {
    const key = keyCells(r);
    for (const l of r.probes.landscape) {
      rows.push([...key, l.step, 0, l.loss, 0, ""].join(","));
      for (const p of l.points) rows.push([...key, l.step, p.scale, p.loss, p.gradChange, p.smoothness].join(","));
    }
  }
  return rows.join("\n") + "\n";
}

/** `ics.csv`: per run, probed step and hidden layer from 1, ‖G − G′‖ and cos(G, G′) (src/experiment/probes.ts). */
export function icsCsv(runs: readonly ProbedRun[]): string {
  const rows = [[...keyHeader(runs[0]), "step", "layer", "l2", "cosine"].join(",")];
  for (const r of runs) {
    const key = keyCells(r);
    for (const c of r.probes.ics) rows.push([...key, c.step, c.layer, c.l2, c.cosine].join(","));
  }
  return rows.join("\n") + "\n";
}

/** `predictions.csv`: x, y, then one column of eval-mode predictions per series (a variant, or a group of a sweep). */
export function predictionsCsv(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  columns: readonly { label: string; predictions: ArrayLike<number> }[],
): string {
  const rows = [["x", "y", ...columns.map((c) => c.label)].join(",")];
  for (let i = 0; i < x.length; i++) rows.push([x[i], y[i], ...columns.map((c) => c.predictions[i])].join(","));
  return rows.join("\n") + "\n";
}

/** Splits simple CSV text (no quoting, as bnlab writes it) into a header and rows of cells. */
export function parseCsv(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split("\n").filter((l) => l.length > 0);
  return { header: lines[0]?.split(",") ?? [], rows: lines.slice(1).map((l) => l.split(",")) };
}
