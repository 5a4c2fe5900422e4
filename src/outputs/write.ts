/**
 * The files of a finished experiment, written once into its {@link OutDir}:
 * `predictions.csv`, the diagnostics CSVs, each chart as SVG and vega-lite
 * spec, and `index.html`. (`losses.csv` and the model files are written while
 * the runs go: {@link LossesWriter}, {@link writeModel}.) The fitted curves
 * and diagnostics are the first seed's, of the groups that completed it.
 *
 * @example
 * ```ts
 * import { writeOutputs } from "./write.ts";
 * const written = await writeOutputs(dir, plan, results, summaries, () => null);
 * written.files; // ["losses.csv", "predictions.csv", …, "index.html"]
 * ```
 * @module
 */
import type { TopLevelSpec } from "vega-lite";
import type { Plan, PlannedRun } from "../experiment/plan.ts";
import type { RunResult } from "../experiment/run.ts";
import { planSettings, runSettings, settingText } from "../experiment/settings.ts";
import { type GroupSummary, summaryRows } from "../experiment/summary.ts";
import type { Group } from "../experiment/sweep.ts";
import { notebookData } from "../net/dataset.ts";
import type { NetSnapshot } from "../net/model.ts";
import {
  fitSpec,
  gradNormsSpec,
  icsSpec,
  landscapeSpec,
  layerHistogramsSpec,
  type LrPoint,
  lrRobustnessSpec,
  percentilesSpec,
  renderSvg,
  testLossSpec,
  trainingDataSpec,
} from "./charts.ts";
import { encodeModel } from "./checkpoint.ts";
import { gradNormsCsv, histogramsCsv, icsCsv, landscapeCsv, percentilesCsv, predictionsCsv } from "./csv.ts";
import { runKey } from "./losses.ts";
import type { OutDir } from "./outdir.ts";
import { type ReportChart, reportHtml } from "./report.ts";

/** `model-torch.safetensors`, or `model-torch-lr=0.01-hidden=64.safetensors` in a sweep. */
export function modelFileName(group: Group): string {
  return `model-${[group.variant, ...group.configuration.swept.map(([f, v]) => `${f}=${v}`)].join("-")}.safetensors`;
}

/** The bytes of a run's model file: its weights, with the run's settings and group in the metadata. */
export function modelBytes(run: PlannedRun, model: NetSnapshot): Uint8Array {
  return encodeModel(
    model,
    Object.fromEntries([...runSettings(run.config, run.group.variant), ["group", run.group.label]]),
  );
}

/** Writes a run's kept model as its group's model file; returns the file's name. */
export async function writeModel(dir: OutDir, run: PlannedRun, model: NetSnapshot): Promise<string> {
  const name = modelFileName(run.group);
  await dir.writeFile(name, modelBytes(run, model));
  return name;
}

/**
 * The charts of a run, in the order the report shows them; two only with
 * diagnostics, three only with probes, the last only when `--lr` is swept.
 */
const CHARTS = [
  "training-data",
  "test-loss",
  "fit",
  "layer-histograms",
  "grad-norms",
  "percentiles",
  "landscape",
  "ics",
  "lr-robustness",
] as const;
/** One of {@link CHARTS}: writeOutputs names its charts by these, so no chart goes unlisted in the manifest. */
type ChartName = typeof CHARTS[number];
const PROBE_CHARTS: readonly ChartName[] = ["percentiles", "landscape", "ics"];

/** What the report says under a chart: what it measures and what to look for. */
const ABOUT: Partial<Record<ChartName, string>> = {
  percentiles: "Ioffe & Szegedy (2015, Fig. 1) followed the 15th, 50th and 85th percentile of one unit's input " +
    "to the sigmoid over training: without BN it wandered, with BN it held still. Here unit 0 of each hidden " +
    "layer, on the batch each probed step trained on. Look for lines that stay flat and near 0 with BN, and " +
    "drift or spread out (into tanh's flat tails beyond ±2) without it.",
  landscape: "Santurkar et al. (2018, Fig. 4) argue BN helps because it makes the loss smoother, not because it " +
    "fixes distributions. At each probed step the parameters are moved along the gradient by ½ to 4 times the " +
    "length of the step Adam took; the bands span the smallest to the largest loss (left) and gradient change " +
    "(middle) over those points, and the right panel is the largest gradient change per unit moved, the " +
    "effective β-smoothness. Lower and narrower means a landscape the optimizer can trust.",
  "lr-robustness": "Santurkar et al. (2018) and the BN paper report that BN makes training work over a wider " +
    "range of learning rates. Each point is one learning rate of the sweep: the median final test loss over the " +
    "seeds, in a band from the smallest to the largest. A flat, low curve is a variant that does not care much " +
    "which rate it gets.",
  ics: "Internal covariate shift as Santurkar et al. define it (Def. 2.1): how much layer i's weight gradient " +
    "changes when only the layers below it take the step's update. Distance near 0 and cosine near 1 mean the " +
    "layer's inputs moved in a way that does not disturb what it should learn. BN was introduced to reduce this; " +
    "the paper found it does not always.",
};

/**
 * Every file `plan` may write, in a fixed order: listed in the directory's
 * manifest before the runs start, so that the manifest is the same bytes
 * whatever order parallel runs finish in, and a crash leaves no unlisted file.
 */
export function plannedFiles(plan: Plan): string[] {
  const models = plan.groups.map(modelFileName);
  const probed = plan.request.probes !== null;
  const lrSwept = plan.request.grid.lr.length > 1;
  const charts = CHARTS.filter((c) => (probed || !PROBE_CHARTS.includes(c)) && (lrSwept || c !== "lr-robustness"))
    .flatMap((c) => [`${c}.svg`, `${c}.vl.json`]);
  const csvs = ["losses.csv", "predictions.csv", "histograms.csv", "grad-norms.csv"];
  if (probed) csvs.push("percentiles.csv", "landscape.csv", "ics.csv");
  return [...csvs, ...charts, ...models, "index.html"];
}

/** Each group with complete runs as a point of the lr chart, its series the variant and the other swept settings. */
function lrPoints(summaries: readonly GroupSummary[]): LrPoint[] {
  return summaries.filter((s) => s.final.n > 0).map((s) => {
    const others = s.group.configuration.swept.filter(([flag]) => flag !== "lr").map(([f, v]) => `${f}=${v}`);
    return {
      label: [s.group.variant, ...others].join(" "),
      lr: s.group.configuration.config.lr,
      median: s.final.median,
      min: s.final.min,
      max: s.final.max,
    };
  });
}

/** What {@link writeOutputs} wrote, and what a stop kept it from writing. */
export interface Written {
  /** The run's files, in the order the report lists them. */
  files: string[];
  /** Files not written because of a stop. */
  missing: string[];
  /** The stop that cut the writing short, or null. */
  stoppedBy: string | null;
}

/**
 * The report's configuration table, from the plan's one description of its
 * settings. It leaves out the runs at once, which change nothing in the
 * results, so that the page is the same bytes whatever `--jobs` is (the
 * summary leaves out the training times for the same reason).
 */
function reportConfiguration(plan: Plan): [string, string][] {
  const seeds = plan.seeds.length > 1 ? `${plan.seeds[0]} … ${plan.seeds.at(-1)}` : String(plan.seeds[0]);
  return planSettings(plan).filter((s) => s.key !== "seeds" && s.key !== "jobs")
    .map((s): [string, string] => s.key === "seed" ? ["seeds", seeds] : [s.label, settingText(s.value)]);
}

/** A vega-lite spec's title text. */
function chartTitle(spec: TopLevelSpec): string {
  const t = (spec as { title?: string | { text: string } }).title;
  return typeof t === "string" ? t : t?.text ?? "";
}

/**
 * Writes everything but losses.csv and the model files (`models`, already
 * written): predictions, diagnostics CSVs, each chart as SVG and spec, then
 * index.html. When `stopRequested` answers, it writes no further file and
 * says which were and were not written.
 */
export async function writeOutputs(
  dir: OutDir,
  plan: Plan,
  results: readonly RunResult[],
  summaries: readonly GroupSummary[],
  models: readonly string[],
  options: { logY: boolean },
  stopRequested: () => string | null,
): Promise<Written> {
  const firstData = notebookData(plan.seeds[0], plan.trainSize, plan.testSize);
  const firstRuns = results.filter((r) => r.run.seed === plan.seeds[0]);
  const fitted = firstRuns.filter((r) => r.stopped === null)
    .map((r) => ({ label: r.run.group.label, predictions: r.predictions }));
  const diagnosed = firstRuns.filter((r) => r.diagnostics !== null)
    .map((r) => ({ ...runKey(r.run), label: r.run.group.label, diagnostics: r.diagnostics! }));
  const files: [string, string][] = [["predictions.csv", predictionsCsv(firstData.test.x, firstData.test.y, fitted)]];
  const charts: [ChartName, TopLevelSpec][] = [
    ["training-data", trainingDataSpec(firstData.train, firstData.test)],
    ["test-loss", testLossSpec(summaries.map((s) => ({ label: s.group.label, runs: s.runs })), options.logY)],
    ["fit", fitSpec(firstData.test, fitted)],
  ];
  if (diagnosed.length > 0) {
    files.push(["histograms.csv", histogramsCsv(diagnosed)], ["grad-norms.csv", gradNormsCsv(diagnosed)]);
    charts.push(["layer-histograms", layerHistogramsSpec(diagnosed)], ["grad-norms", gradNormsSpec(diagnosed)]);
  }
  // Probes: every seed in the CSVs, the first seed's runs in the charts.
  const probed = results.filter((r) => r.probes !== null)
    .map((r) => ({
      ...runKey(r.run),
      label: r.run.group.label,
      probes: r.probes!,
      first: r.run.seed === plan.seeds[0],
    }));
  if (probed.length > 0) {
    files.push(["percentiles.csv", percentilesCsv(probed)], ["landscape.csv", landscapeCsv(probed)]);
    files.push(["ics.csv", icsCsv(probed)]);
    const firsts = probed.filter((r) => r.first);
    charts.push(["percentiles", percentilesSpec(firsts)], ["landscape", landscapeSpec(firsts)]);
    charts.push(["ics", icsSpec(firsts)]);
  }
  if (plan.request.grid.lr.length > 1) charts.push(["lr-robustness", lrRobustnessSpec(lrPoints(summaries))]);
  const pending = [...files.map(([n]) => n), ...charts.flatMap(([n]) => [`${n}.svg`, `${n}.vl.json`]), "index.html"];
  const written = ["losses.csv", ...models];
  const stopped = (): Written => ({ files: written, missing: pending, stoppedBy: stopRequested() });
  const rendered: ReportChart[] = [];
  for (const [name, spec] of charts) {
    if (stopRequested()) return stopped();
    const svg = await renderSvg(spec);
    rendered.push({ name, title: chartTitle(spec), svg, about: ABOUT[name] });
    files.push([`${name}.svg`, svg], [`${name}.vl.json`, JSON.stringify(spec, null, 1) + "\n"]);
  }
  const listed = ["losses.csv", ...files.map(([n]) => n), ...models];
  const title = `bnlab: ${plan.request.variants.join(", ")} on y = x² + N(0, 1)`;
  const configuration = reportConfiguration(plan);
  files.push([
    "index.html",
    reportHtml({ title, configuration, summary: summaryRows(summaries, false), charts: rendered, files: listed }),
  ]);
  for (const [name, text] of files) {
    if (stopRequested()) return stopped();
    await dir.writeFile(name, text);
    written.push(name);
    pending.splice(pending.indexOf(name), 1);
  }
  return { files: [...listed, "index.html"], missing: [], stoppedBy: null };
}
