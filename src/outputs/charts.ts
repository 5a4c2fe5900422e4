/**
 * The run's charts, as vega-lite specs rendered to SVG headlessly by vega
 * (no DOM, no canvas, no network). Each spec carries its data inline, so the
 * `.vl.json` file written beside each SVG can be restyled and re-rendered on its
 * own (e.g. in the vega editor).
 *
 * @example
 * ```ts
 * import { renderSvg, testLossSpec } from "./charts.ts";
 * const spec = testLossSpec([{ label: "none", runs: [{ testLoss: [60, 58] }] }], false);
 * const svg = await renderSvg(spec);
 * ```
 * @module
 */
import type { TopLevelSpec } from "vega-lite";
// @ts-types="./vega.ts"
import { compile, parse, View } from "./vega.bundle.js";
import type { Samples } from "../net/dataset.ts";
import type { Diagnostics } from "../net/diagnostics.ts";
import { spreadAtEach } from "../experiment/stats.ts";
import type { ProbeRecords } from "../experiment/probes.ts";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** One colour per series, the same in every chart (Tableau 10). */
const SERIES_COLORS: Readonly<Record<string, string>> = {
  mybn: "#4c78a8",
  torch: "#f58518",
  noisy: "#54a24b",
  none: "#e45756",
  "test points": "#9d9d9d",
};

/**
 * A colour scale for `series`: each variant's own colour from
 * {@link SERIES_COLORS}; in a sweep, where labels repeat variants, vega's
 * 20-colour scheme.
 */
function seriesScale(series: readonly string[]) {
  if (series.every((s) => s in SERIES_COLORS)) {
    return {
      domain: [...series],
      range: series.map((s) => SERIES_COLORS[s]),
    };
  }
  return { domain: [...series], scheme: "tableau20" as const };
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

/** A series of the loss chart: a group's runs, one per seed. */
export interface LossSeries {
  /** Legend name: a variant, or a group of a sweep. */
  label: string;
  /** The group's runs, one per seed. */
  runs: readonly { testLoss: readonly number[] }[];
}

/**
 * Test loss at the start of each epoch (and the final one): one line per
 * series through the median over its seeds, in a band from the first to the
 * third quartile (a single seed draws the line alone). Runs that stopped early
 * count at the epochs they reached.
 */
export function testLossSpec(series: readonly LossSeries[], logY: boolean): TopLevelSpec {
  const values = series.flatMap((s) => {
    return spreadAtEach(s.runs.map((r) => r.testLoss)).map((at, epoch) => ({
      epoch,
      median: at.median,
      q1: at.q1,
      q3: at.q3,
      seeds: at.n,
      series: s.label,
    }));
  });
  const seeds = Math.max(0, ...series.map((s) => s.runs.length));
  const x = { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } } as const;
  const color = {
    field: "series",
    type: "nominal",
    title: seeds > 1 ? "median, IQR band" : "variant",
    scale: seriesScale(series.map((s) => s.label)),
  } as const;
  const yTitle = `test MSE${seeds > 1 ? `, median of ${seeds} seeds` : ""}${logY ? " (log scale)" : ""}`;
  const scale = { type: logY ? "log" : "linear" } as const;
  return {
    $schema: SCHEMA,
    title: seeds > 1
      ? `Test loss (eval mode) at the start of each epoch: median and interquartile range over ${seeds} seeds`
      : "Test loss (eval mode) at the start of each epoch",
    ...SIZE,
    data: { values },
    layer: [
      {
        mark: { type: "area", opacity: 0.2 },
        encoding: {
          x,
          y: { field: "q1", type: "quantitative", title: yTitle, scale },
          y2: { field: "q3" },
          color,
        },
      },
      {
        mark: { type: "line", point: true },
        encoding: { x, y: { field: "median", type: "quantitative", title: yTitle, scale }, color },
      },
    ],
  };
}

/** The trained networks' eval-mode predictions against the test points. */
export function fitSpec(
  test: Samples,
  runs: readonly { label: string; predictions: ArrayLike<number> }[],
): TopLevelSpec {
  const series = ["test points", ...runs.map((r) => r.label)];
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
          values: runs.flatMap((r) => Array.from(test.x, (x, i) => ({ x, y: r.predictions[i], series: r.label }))),
        },
        mark: { type: "line", strokeWidth: 2 },
        encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" }, color },
      },
    ],
  };
}

/** A group's diagnostics, as the two diagnostics charts need them. */
export interface DiagnosedSeries {
  /** Legend name: a variant, or a group of a sweep. */
  label: string;
  /** What the first seed's run recorded. */
  diagnostics: Diagnostics;
}

/** Snapshot epochs from light to dark: the first, middle and last (a fourth shade spare). */
const EPOCH_COLORS = ["#c6dbef", "#9ecae1", "#4292c6", "#08306b"];

/**
 * Small multiples of the hidden layers' value distributions on the test set:
 * a row per layer; for each series a column of pre-activations (the
 * activation's input) and one of post-activations; one step line per snapshot
 * epoch. Saturated tanh units pile up in the outer bins.
 */
export function layerHistogramsSpec(series: readonly DiagnosedSeries[]): TopLevelSpec {
  const values = series.flatMap((s) =>
    s.diagnostics.histograms.flatMap((h) => {
      const total = h.counts.reduce((a, b) => a + b, 0) || 1;
      const width = (h.bins.hi - h.bins.lo) / h.bins.count;
      const kind = h.kind === "pre" ? "pre-activation" : "post-activation";
      return h.counts.map((count, b) => ({
        panel: `${s.label} · ${kind}`,
        kind,
        layer: `layer ${h.layer}`,
        epoch: `epoch ${h.epoch}`,
        value: h.bins.lo + (b + 0.5) * width,
        fraction: count / total,
      }));
    })
  );
  const epochs = [...new Set(series.flatMap((s) => s.diagnostics.snapshots))].map((e) => `epoch ${e}`);
  return {
    $schema: SCHEMA,
    title: {
      text:
        "Hidden-layer values on the test set: pre-activation (BN output, or Linear output without BN) and post-activation",
      subtitle: "fraction of the layer's values per bin; the outer bins also hold everything beyond them",
    },
    data: { values },
    facet: {
      row: { field: "layer", type: "nominal", title: null },
      column: {
        field: "panel",
        type: "nominal",
        title: null,
        sort: series.flatMap((s) => [`${s.label} · pre-activation`, `${s.label} · post-activation`]),
      },
    },
    spec: {
      width: 150,
      height: 80,
      mark: { type: "line", interpolate: "step", strokeWidth: 1.5 },
      encoding: {
        x: { field: "value", type: "quantitative", title: "value" },
        y: { field: "fraction", type: "quantitative", title: "fraction", axis: { format: ".0%" } },
        color: {
          field: "epoch",
          type: "nominal",
          title: "after epochs",
          sort: epochs,
          scale: { domain: epochs, range: EPOCH_COLORS.slice(-epochs.length) },
        },
      },
    },
    resolve: { scale: { x: "independent" } },
  };
}

/**
 * The mean norm of each layer's weight gradient per epoch, one panel per
 * weight, one line per series, on a log scale: without BN the gradients of the
 * early layers shrink towards zero.
 */
export function gradNormsSpec(series: readonly DiagnosedSeries[]): TopLevelSpec {
  const values = series.flatMap((s) =>
    s.diagnostics.gradNorms.flatMap((norms, epoch) =>
      norms.map((norm, i) => ({ epoch, weight: s.diagnostics.weights[i], norm, series: s.label }))
        .filter((v) => v.norm > 0) // a log scale has no place for an exact zero
    )
  );
  // Groups of a --layers sweep have different weights: every name once, in network order.
  const weights = [...new Set(series.flatMap((s) => s.diagnostics.weights))]
    .sort((a, b) => weightOrder(a) - weightOrder(b));
  return {
    $schema: SCHEMA,
    title: {
      text: "Gradient norm of each layer's weight, mean over each epoch's steps",
      subtitle: "L2 norm of ∂loss/∂W, log scale: without BN it collapses in the early layers",
    },
    data: { values },
    facet: { column: { field: "weight", type: "nominal", title: null, sort: weights } },
    spec: {
      width: 130,
      height: 180,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } },
        y: { field: "norm", type: "quantitative", title: "gradient norm", scale: { type: "log" } },
        color: {
          field: "series",
          type: "nominal",
          title: "variant",
          scale: seriesScale(series.map((s) => s.label)),
        },
      },
    },
  };
}

/** One point of the learning-rate robustness chart: a group's final test losses over its seeds. */
export interface LrPoint {
  /** The series: the variant, with the other swept settings. */
  label: string;
  /** The group's learning rate. */
  lr: number;
  /** Median, smallest and largest final test loss over the seeds. */
  median: number;
  /** See `median`. */
  min: number;
  /** See `median`. */
  max: number;
}

/** Final test loss against the learning rate (log scale): per series, the median over seeds in a min–max band. */
export function lrRobustnessSpec(points: readonly LrPoint[]): TopLevelSpec {
  const color = {
    field: "series",
    type: "nominal",
    title: "variant",
    scale: seriesScale([...new Set(points.map((p) => p.label))]),
  } as const;
  const x = { field: "lr", type: "quantitative", title: "learning rate (log scale)", scale: { type: "log" } } as const;
  return {
    $schema: SCHEMA,
    title: {
      text: "Final test loss against the learning rate",
      subtitle: "median over seeds, band from the smallest to the largest (log scales)",
    },
    ...SIZE,
    data: { values: points.map((p) => ({ ...p, series: p.label })) },
    layer: [
      {
        mark: { type: "area", opacity: 0.25 },
        encoding: { x, y: { field: "min", type: "quantitative", scale: { type: "log" } }, y2: { field: "max" }, color },
      },
      {
        mark: { type: "line", point: true },
        encoding: {
          x,
          y: { field: "median", type: "quantitative", title: "final test loss", scale: { type: "log" } },
          color,
        },
      },
    ],
  } as TopLevelSpec;
}

/** One series' probe measurements (src/experiment/probes.ts). */
export interface ProbedSeries {
  /** Legend label: the variant, or the group in a sweep. */
  label: string;
  /** What its prober measured. */
  probes: ProbeRecords;
}

/**
 * Ioffe & Szegedy's Fig. 1: the 15th, 50th and 85th percentile of unit 0's
 * input to the nonlinearity over training, one panel per hidden layer.
 */
export function percentilesSpec(series: readonly ProbedSeries[]): TopLevelSpec {
  const names = ["15th", "50th", "85th"];
  const values = series.flatMap((s) =>
    s.probes.percentiles.flatMap((p) =>
      p.values.map((value, i) => ({
        step: p.step,
        layer: `layer ${p.layer}`,
        percentile: names[i],
        value,
        series: s.label,
      }))
    )
  );
  return {
    $schema: SCHEMA,
    title: {
      text: "Input to the nonlinearity of one unit per layer: 15th, 50th, 85th percentile over the step's batch",
      subtitle: "Ioffe & Szegedy (2015), Fig. 1: with BN the distribution stays put; without it, it drifts",
    },
    data: { values },
    facet: { column: { field: "layer", type: "nominal", title: null } },
    spec: {
      width: 150,
      height: 200,
      mark: { type: "line" },
      encoding: {
        x: { field: "step", type: "quantitative", title: "training step" },
        y: { field: "value", type: "quantitative", title: "unit 0's input" },
        color: { field: "series", type: "nominal", title: "variant", scale: seriesScale(series.map((s) => s.label)) },
        strokeDash: { field: "percentile", type: "nominal", title: "percentile", sort: names },
        detail: { field: "percentile", type: "nominal" },
      },
    },
    resolve: { scale: { y: "independent" } },
  };
}

/**
 * Santurkar et al.'s Fig. 4, three panels over training: the range of the
 * loss along the gradient (a band from its smallest to its largest value over
 * the probed points), the range of the gradient's change there, and the
 * effective β-smoothness.
 */
export function landscapeSpec(series: readonly ProbedSeries[]): TopLevelSpec {
  const rows = series.flatMap((s) =>
    s.probes.landscape.map((l) => {
      const losses = [l.loss, ...l.points.map((p) => p.loss)], changes = l.points.map((p) => p.gradChange);
      return {
        step: l.step,
        series: s.label,
        lossLo: Math.min(...losses),
        lossHi: Math.max(...losses),
        changeLo: Math.min(...changes),
        changeHi: Math.max(...changes),
        smoothness: l.smoothness,
      };
    })
  );
  const color = {
    field: "series",
    type: "nominal",
    title: "variant",
    scale: seriesScale(series.map((s) => s.label)),
  } as const;
  const x = { field: "step", type: "quantitative", title: "training step" } as const;
  const band = (lo: string, hi: string, title: string) => ({
    width: 220,
    height: 200,
    layer: [
      {
        mark: { type: "area", opacity: 0.3 },
        encoding: {
          x,
          y: { field: lo, type: "quantitative", title, scale: { type: "log" } },
          y2: { field: hi },
          color,
        },
      },
      { mark: { type: "line" }, encoding: { x, y: { field: hi, type: "quantitative" }, color } },
    ],
  });
  return {
    $schema: SCHEMA,
    title: {
      text: "The loss landscape along the gradient at each probed step (Santurkar et al. 2018, Fig. 4)",
      subtitle:
        "Points θ − η·g up to 4× as far as the step went; bands: smallest to largest over the points (log scale)",
    },
    data: { values: rows },
    hconcat: [
      band("lossLo", "lossHi", "loss along the gradient"),
      band("changeLo", "changeHi", "‖∇L(θ) − ∇L(θ − ηg)‖"),
      {
        width: 220,
        height: 200,
        mark: { type: "line", point: true },
        encoding: {
          x,
          y: { field: "smoothness", type: "quantitative", title: "effective β-smoothness", scale: { type: "log" } },
          color,
        },
      },
    ],
  } as TopLevelSpec;
}

/**
 * Internal covariate shift as Santurkar et al. define it (Def. 2.1): per
 * hidden layer from 1, how far its weight gradient moves when only the layers
 * below it take the step's update: the L2 distance (top) and the cosine (bottom).
 */
export function icsSpec(series: readonly ProbedSeries[]): TopLevelSpec {
  const values = series.flatMap((s) =>
    s.probes.ics.flatMap((c) => [
      { step: c.step, layer: `layer ${c.layer}`, measure: "‖G − G′‖", value: c.l2, series: s.label },
      { step: c.step, layer: `layer ${c.layer}`, measure: "cos(G, G′)", value: c.cosine, series: s.label },
    ])
  );
  return {
    $schema: SCHEMA,
    title: {
      text: "Internal covariate shift: layer i's weight gradient before and after the layers below take their step",
      subtitle: "Santurkar et al. (2018), Def. 2.1: distance (top) and cosine (bottom) between the two gradients",
    },
    data: { values },
    facet: {
      row: { field: "measure", type: "nominal", title: null, sort: ["‖G − G′‖", "cos(G, G′)"] },
      column: { field: "layer", type: "nominal", title: null },
    },
    spec: {
      width: 180,
      height: 150,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "step", type: "quantitative", title: "training step" },
        y: { field: "value", type: "quantitative", title: null },
        color: { field: "series", type: "nominal", title: "variant", scale: seriesScale(series.map((s) => s.label)) },
      },
    },
    resolve: { scale: { y: "independent" } },
  };
}

/** fc0.weight … fcN.weight, then predict.weight. */
function weightOrder(name: string): number {
  return name.startsWith("fc") ? parseInt(name.slice(2)) : Infinity;
}

/** Renders a vega-lite spec to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
