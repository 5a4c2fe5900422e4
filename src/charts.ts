/**
 * The run's charts, as vega-lite specs rendered to SVG headlessly by vega
 * (no DOM, no canvas, no network). Each spec carries its data inline, so the
 * `.vl.json` file written beside each SVG can be restyled and re-rendered on its
 * own (e.g. in the vega editor).
 *
 * @example
 * ```ts
 * import { renderSvg, testLossSpec } from "./charts.ts";
 * const spec = testLossSpec([{ variant: "none", testLoss: [60, 58], trainLoss: [70] }], false);
 * const svg = await renderSvg(spec);
 * ```
 * @module
 */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { LossHistory } from "./csv.ts";
import type { Samples } from "./data.ts";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** One colour per series, the same in every chart (Tableau 10). */
export const SERIES_COLORS: Readonly<Record<string, string>> = {
  mybn: "#4c78a8",
  torch: "#f58518",
  none: "#e45756",
  "test points": "#9d9d9d",
};

/** A colour scale that gives each of `series` its colour from {@link SERIES_COLORS}. */
function seriesScale(series: readonly string[]) {
  return { domain: [...series], range: series.map((s) => SERIES_COLORS[s] ?? "#72b7b2") };
}
const SIZE = { width: 560, height: 340 };

/** Scatter of the training points (and the test points) of y = x² + N(0, 1). */
export function trainingDataSpec(train: Samples, test: Samples): TopLevelSpec {
  const points = (s: Samples, set: string) => Array.from(s.x, (x, i) => ({ x, y: s.y[i], set }));
  return {
    $schema: SCHEMA,
    title: "Training data: y = x² + N(0, 1)",
    ...SIZE,
    data: { values: [...points(train, "train"), ...points(test, "test")] },
    mark: { type: "point", filled: true, size: 12, opacity: 0.6 },
    encoding: {
      x: { field: "x", type: "quantitative", title: "x" },
      y: { field: "y", type: "quantitative", title: "y" },
      color: { field: "set", type: "nominal", title: "points", sort: ["train", "test"] },
    },
  };
}

/** Test loss at the start of each epoch (and the final one), one line per variant. */
export function testLossSpec(runs: readonly LossHistory[], logY: boolean): TopLevelSpec {
  const values = runs.flatMap((r) => r.testLoss.map((loss, epoch) => ({ epoch, loss, variant: r.variant })));
  return {
    $schema: SCHEMA,
    title: "Test loss (eval mode) at the start of each epoch",
    ...SIZE,
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } },
      y: {
        field: "loss",
        type: "quantitative",
        title: logY ? "test MSE (log scale)" : "test MSE",
        scale: { type: logY ? "log" : "linear" },
      },
      color: { field: "variant", type: "nominal", title: "variant", scale: seriesScale(runs.map((r) => r.variant)) },
    },
  };
}

/** The trained networks' eval-mode predictions against the test points. */
export function fitSpec(
  test: Samples,
  runs: readonly { variant: string; predictions: ArrayLike<number> }[],
): TopLevelSpec {
  const series = ["test points", ...runs.map((r) => r.variant)];
  const color = { field: "series", type: "nominal", title: "series", scale: seriesScale(series) } as const;
  return {
    $schema: SCHEMA,
    title: "Fitted curves against the test points",
    ...SIZE,
    layer: [
      {
        data: { values: Array.from(test.x, (x, i) => ({ x, y: test.y[i], series: "test points" })) },
        mark: { type: "point", filled: true, size: 20 },
        encoding: {
          x: { field: "x", type: "quantitative", title: "x" },
          y: { field: "y", type: "quantitative", title: "y" },
          color,
        },
      },
      {
        data: {
          values: runs.flatMap((r) => Array.from(test.x, (x, i) => ({ x, y: r.predictions[i], series: r.variant }))),
        },
        mark: { type: "line", strokeWidth: 2 },
        encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" }, color },
      },
    ],
  };
}

/** Renders a vega-lite spec to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
