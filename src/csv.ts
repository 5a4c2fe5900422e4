/**
 * The run's CSV files. Numbers are written with JavaScript's shortest
 * round-trip form, so a reader gets back exactly the value that was computed.
 *
 * @example
 * ```ts
 * import { lossesCsv } from "./csv.ts";
 * lossesCsv([{ variant: "none", testLoss: [60, 58], trainLoss: [70] }]);
 * // "variant,epoch,test_loss,train_loss\nnone,0,60,70\nnone,1,58,\n"
 * ```
 * @module
 */

/** The losses of one variant, as {@link lossesCsv} needs them. */
export interface LossHistory {
  variant: string;
  /** `epochs + 1` values: the start of each epoch, then the final one. */
  testLoss: readonly number[];
  /** `epochs` values. */
  trainLoss: readonly number[];
}

/** Header of `losses.csv`. */
export const LOSSES_HEADER = "variant,epoch,test_loss,train_loss";

/**
 * `losses.csv`: one row per variant and epoch 0…E−1 with the test loss at the
 * epoch's start and the epoch's mean training loss, then a row for epoch E with
 * the final test loss and an empty train_loss.
 */
export function lossesCsv(runs: readonly LossHistory[]): string {
  const rows = [LOSSES_HEADER];
  for (const r of runs) {
    r.testLoss.forEach((t, epoch) => rows.push(`${r.variant},${epoch},${t},${r.trainLoss[epoch] ?? ""}`));
  }
  return rows.join("\n") + "\n";
}

/** `predictions.csv`: x, y, then one column of eval-mode predictions per variant. */
export function predictionsCsv(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  columns: readonly { variant: string; predictions: ArrayLike<number> }[],
): string {
  const rows = [["x", "y", ...columns.map((c) => c.variant)].join(",")];
  for (let i = 0; i < x.length; i++) rows.push([x[i], y[i], ...columns.map((c) => c.predictions[i])].join(","));
  return rows.join("\n") + "\n";
}

/** Splits simple CSV text (no quoting, as bnlab writes it) into a header and rows of cells. */
export function parseCsv(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split("\n").filter((l) => l.length > 0);
  return { header: lines[0]?.split(",") ?? [], rows: lines.slice(1).map((l) => l.split(",")) };
}
