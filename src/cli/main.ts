/**
 * `deno task train`: the notebook experiment end to end. Trains every
 * requested BN variant on the same data, init and shuffles — over several
 * seeds and the product of swept settings when asked — prints the BN sanity
 * check, each run's test losses and a summary table, and writes into the
 * output directory `losses.csv`, `predictions.csv`, SVG charts with their
 * vega-lite specs, the per-layer diagnostics, each group's final weights
 * (`model-<variant>.safetensors`) and `index.html`, a self-contained report.
 *
 * @example
 * ```sh
 * deno task train --epochs 5 --variants torch,none --seeds 10 --out runs/quick
 * ```
 * @module
 */
import type { TopLevelSpec } from "vega-lite";
import { arena } from "../kernels/arena.ts";
import { batchnorm_forward, type BnSemantics } from "../kernels/batchnorm.ts";
import {
  fitSpec,
  gradNormsSpec,
  layerHistogramsSpec,
  renderSvg,
  testLossSpec,
  trainingDataSpec,
} from "../outputs/charts.ts";
import { encodeModel } from "../outputs/checkpoint.ts";
import { gradNormsCsv, histogramsCsv, lossesCsv, predictionsCsv } from "../outputs/csv.ts";
import { notebookData, type Samples, TEST_SIZE, TRAIN_SIZE } from "../net/dataset.ts";
import { type Diagnostics, LayerRecorder } from "../net/diagnostics.ts";
import { writeFileAtomic } from "../outputs/files.ts";
import { formatBytes } from "../outputs/numbers.ts";
import { gemmScratchBytes } from "../kernels/matmul.ts";
import { MAX_PAGES, PAGE_BYTES } from "../kernels/memory.ts";
import { type BnVariant, defaultEps } from "../net/model.ts";
import {
  baseConfig,
  defaultThreads,
  MAX_DIAGNOSED_GROUPS,
  parseOptions,
  type TrainOptions,
  USAGE,
  UsageError,
} from "./options.ts";
import { StopRequests, type StopSignal } from "./lifeline.ts";
import { type ReportChart, reportHtml } from "../outputs/report.ts";
import {
  bestEpoch,
  formatLoss,
  groupsJson,
  type GroupSummary,
  summarize,
  summaryRows,
  summaryTable,
} from "../experiment/summary.ts";
import { type Configuration, configurations, type Group, groups, type SweepKey } from "../experiment/sweep.ts";
import { startThreads, stopThreads } from "../kernels/threads.ts";
import { batchProblem, trainBytes, type TrainConfig, type TrainResult, trainVariant } from "../net/train.ts";

/** The notebook's BN sanity check: [[1,2],[3,4],[5,6]] through one training-mode BN with γ = 1, β = 0. */
export function bnSanityCheck(semantics: BnSemantics, momentum: number): number[][] {
  const mark = arena.mark();
  try {
    const x = arena.f32([3, 2]).set([1, 2, 3, 4, 5, 6]);
    const y = arena.f32([3, 2]);
    const runningVar = arena.f32([2]).set(semantics === "torch" ? [1, 1] : [0, 0]);
    const gamma = arena.f32([2]).set([1, 1]);
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

function timestamp(): string {
  return new Date().toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z");
}

/** `base`, or `base-2`, `base-3`, … when runs started within the same second already took it. */
async function freshRunDir(base: string): Promise<string> {
  for (let k = 1;; k++) {
    const dir = k === 1 ? base : `${base}-${k}`;
    try {
      await Deno.stat(dir);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotCapable) return dir;
      throw err;
    }
  }
}

/** Refuses an output directory that cannot be written, or that holds files (unless --force). */
async function checkOutDir(out: string, force: boolean): Promise<void> {
  const write = await Deno.permissions.query({ name: "write", path: out });
  const read = await Deno.permissions.query({ name: "read", path: out });
  if (write.state !== "granted" || read.state !== "granted") {
    throw new UsageError(
      `--out ${out}: this task may write only under runs/; to write elsewhere run ` +
        `deno run --allow-read=${out} --allow-write=${out} src/cli/main.ts …`,
    );
  }
  try {
    const info = await Deno.stat(out);
    if (!info.isDirectory) throw new UsageError(`--out ${out} exists and is not a directory`);
    if (!force) {
      for await (const _ of Deno.readDir(out)) {
        throw new UsageError(`--out ${out} is not empty; choose another directory or add --force`);
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Exit codes besides 0 (success), 1 (failure) and 2 (bad usage). */
export const EXIT = { diverged: 3, SIGINT: 130, SIGTERM: 143 } as const;

/** One training run: a group's variant and configuration on one seed. */
interface Run extends TrainResult {
  group: Group;
  seed: number;
  /** Recorded for the first seed of each group (null otherwise, or with --no-diagnostics). */
  diagnostics: Diagnostics | null;
}

/** The run's outcome as one JSON object (`--json`). */
function summaryJson(
  out: string,
  opts: TrainOptions,
  runCount: number,
  threads: number,
  runs: readonly Run[],
  summaries: GroupSummary[],
): string {
  const base = baseConfig(opts);
  const config = {
    variants: opts.variants,
    epochs: opts.epochs,
    batch_size: opts.grid.batchSize.length > 1 ? opts.grid.batchSize : base.batchSize,
    drop_last: opts.dropLast,
    lr: opts.grid.lr.length > 1 ? opts.grid.lr : base.lr,
    hidden: opts.grid.hidden.length > 1 ? opts.grid.hidden : base.hidden,
    layers: opts.grid.layers.length > 1 ? opts.grid.layers : base.layers,
    activation: opts.grid.activation.length > 1 ? opts.grid.activation : base.activation,
    momentum: opts.grid.momentum.length > 1 ? opts.grid.momentum : base.momentum,
    seed: opts.seed,
    seeds: opts.seeds,
    runs: runCount,
    threads,
  };
  return JSON.stringify({
    out,
    config,
    groups: groupsJson(summaries),
    results: runs.map((r) => {
      const best = bestEpoch(r.testLoss);
      return {
        variant: r.variant,
        swept: Object.fromEntries(r.group.configuration.swept),
        seed: r.seed,
        final_test_loss: r.stopped ? null : r.testLoss.at(-1),
        best_epoch: best >= 0 ? best : null,
        best_test_loss: best >= 0 ? r.testLoss[best] : null,
        training_ms: r.millis,
        test_loss: r.testLoss,
        train_loss: r.trainLoss,
        stopped: r.stopped,
      };
    }),
  });
}

/** The stderr progress line of a terminal: redrawn in place, ten times a second. */
class Progress {
  readonly #enabled: boolean;
  #shown = false;
  constructor(enabled: boolean) {
    this.#enabled = enabled && Deno.stderr.isTerminal();
  }
  show(text: string): void {
    if (!this.#enabled) return;
    Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[2K${text}`));
    this.#shown = true;
  }
  clear(): void {
    if (this.#shown) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[2K"));
    this.#shown = false;
  }
}

/**
 * Refuses, before anything is allocated, a configuration whose largest
 * variant would not fit in a wasm32 memory (4 GiB) or would need more than
 * --max-memory (by default half of the machine's RAM, where the process may
 * read it; else the 4 GiB).
 */
function checkMemory(
  configs: readonly Configuration[],
  variants: readonly BnVariant[],
  maxMemory: number | null,
  threads: number,
  trainSize: number,
  testSize: number,
): void {
  const cost = (c: Configuration) => Math.max(...variants.map((v) => trainBytes(v, c.config, trainSize, testSize)));
  const largest = configs.reduce((a, b) => cost(b) > cost(a) ? b : a);
  const need = arena.used + cost(largest) + threads * gemmScratchBytes() + 4096;
  const wasm32 = MAX_PAGES * PAGE_BYTES;
  const { hidden, layers, batchSize } = largest.config;
  const what = `--hidden ${hidden} × --layers ${layers} with --batch-size ${batchSize}`;
  if (need > wasm32) {
    throw new UsageError(
      `${what} needs ${formatBytes(need)}; WebAssembly memory holds at most 4 GiB: use smaller sizes`,
    );
  }
  let limit = maxMemory;
  if (limit === null) {
    // Asking first: a call without the permission would prompt on a terminal.
    const allowed = Deno.permissions.querySync({ name: "sys", kind: "systemMemoryInfo" }).state === "granted";
    limit = allowed ? Math.floor(Deno.systemMemoryInfo().total / 2) : wasm32;
  }
  if (need > limit) {
    throw new UsageError(
      `${what} needs ${formatBytes(need)}, more than the ${formatBytes(limit)} allowed` +
        (maxMemory === null ? " (half of the RAM; raise it with --max-memory)" : " by --max-memory"),
    );
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** `model-torch.safetensors`, or `model-torch-lr=0.01-hidden=64.safetensors` in a sweep. */
export function modelFileName(group: Group): string {
  return `model-${[group.variant, ...group.configuration.swept.map(([f, v]) => `${f}=${v}`)].join("-")}.safetensors`;
}

async function run(opts: TrainOptions): Promise<number> {
  const out = opts.out ?? await freshRunDir(`runs/${timestamp()}`);
  await checkOutDir(out, opts.force);
  const trainSize = TRAIN_SIZE, testSize = TEST_SIZE;
  const configs = configurations(opts.grid, baseConfig(opts));
  const groupList = groups(configs, opts.variants);
  const runCount = groupList.length * opts.seeds;
  const counted = `${plural(runCount, "run")} (${plural(configs.length, "configuration")} × ${
    plural(opts.seeds, "seed")
  } × ${plural(opts.variants.length, "variant")})`;
  if (runCount > opts.maxRuns) {
    throw new UsageError(`${counted} is more than --max-runs ${opts.maxRuns}; shorten the lists or raise --max-runs`);
  }
  if (opts.seed + opts.seeds - 1 > 2 ** 32 - 1) {
    throw new UsageError(`--seed ${opts.seed} with --seeds ${opts.seeds} runs past seed 4294967295`);
  }
  if (opts.variants.some((v) => v !== "none")) {
    for (const c of configs) {
      const problem = batchProblem(trainSize, c.config);
      if (problem) throw new UsageError(problem);
    }
  }
  let threads = opts.threads ?? Math.max(...configs.map((c) => defaultThreads(c.config.hidden)));
  checkMemory(configs, opts.variants, opts.maxMemory, threads, trainSize, testSize);
  const diagnose = opts.diagnostics ?? groupList.length <= MAX_DIAGNOSED_GROUPS;
  const seeds = Array.from({ length: opts.seeds }, (_, i) => opts.seed + i);
  const data = new Map(seeds.map((s) => [s, notebookData(s, trainSize, testSize)]));
  // With --json, stdout carries only the summary object.
  const say = opts.json ? () => {} : (line = "") => console.log(line);

  say(counted);
  if (opts.diagnostics === null && !diagnose) {
    say(
      `(no per-layer diagnostics for ${groupList.length} groups, more than ${MAX_DIAGNOSED_GROUPS}: add --diagnostics)`,
    );
  }
  say("BN sanity check: x = [[1, 2], [3, 4], [5, 6]], training mode, γ = 1, β = 0");
  for (const semantics of ["mybn", "torch"] as const) {
    const y = bnSanityCheck(semantics, opts.grid.momentum[0]).map((row) =>
      `[${row.map((v) => v.toFixed(4)).join(", ")}]`
    );
    say(`  ${semantics.padEnd(5)} (eps ${defaultEps(semantics).toExponential(0)}): [${y.join(", ")}]`);
  }
  const list = (key: SweepKey) => opts.grid[key].join(",");
  say(
    `\nTraining ${opts.variants.join(", ")}: ${opts.epochs} epochs, batch ${list("batchSize")}, lr ${list("lr")}, ` +
      `${list("layers")}×${list("hidden")} ${list("activation")}, momentum ${list("momentum")}, ` +
      (opts.seeds > 1 ? `seeds ${seeds[0]}–${seeds.at(-1)}` : `seed ${opts.seed}`) +
      (threads > 1 ? `, ${threads} threads` : ""),
  );

  // Threads start before anything is written: a failure leaves nothing behind.
  try {
    await startThreads(threads);
  } catch (err) {
    const why = `cannot start ${threads} threads (${err instanceof Error ? err.message : String(err)})`;
    // A bundled build has no worker module beside it: a default thread count falls back to one.
    if (opts.threads !== null) {
      throw new Error(`${why}; use --threads 1, or allow reading src/ and kernels/build/ (deno task train does)`);
    }
    console.error(`train: ${why}; continuing on one thread`);
    threads = 1;
  }
  await Deno.mkdir(out, { recursive: true });
  const runs: Run[] = [];
  const models: string[] = [];
  // losses.csv is rewritten (through a temporary file) after every epoch, so
  // an interrupted or diverged run keeps every epoch it completed.
  const saveLosses = (current?: TrainResult & { group: Group; seed: number }) =>
    writeFileAtomic(
      `${out}/losses.csv`,
      lossesCsv([...runs, ...(current ? [current] : [])].map((r) => ({ ...r, swept: r.group.configuration.swept }))),
    );

  // Listening until the last output is written: a stop asked for then is reported as one during training is.
  const stops = new StopRequests();
  try {
    const progress = new Progress(!opts.quiet);
    const labelWidth = Math.max(...groupList.map((g) => g.label.length));
    let interrupted: Run | null = null;
    try {
      training: for (const group of groupList) {
        for (const seed of seeds) {
          const first = seed === seeds[0];
          const config = { ...group.configuration.config, seed };
          const recorder = diagnose && first
            ? new LayerRecorder(config.layers, config.activation, config.epochs)
            : null;
          const name = opts.seeds > 1 ? `${group.label} seed ${seed}` : group.label;
          const r = await trainVariant(group.variant, data.get(seed)!, config, {
            ...recorder?.hooks(),
            onEpoch: (partial) => saveLosses({ ...partial, group, seed }),
            onProgress: (epoch, step, steps, rate, testLoss) => {
              const where = `epoch ${epoch + 1}/${config.epochs}, step ${step}/${steps}`;
              const how = `test loss ${formatLoss(testLoss)}, ${rate.toFixed(0)} steps/s`;
              progress.show(`run ${runs.length + 1}/${runCount}, ${name}: ${where}, ${how}`);
            },
            stopRequested: () => stops.signal,
            onTrained: async (net) => {
              if (!first) return;
              const file = modelFileName(group);
              await writeFileAtomic(`${out}/${file}`, encodeModel(net, modelMetadata(config, group)));
              models.push(file);
            },
          });
          progress.clear();
          const done: Run = { ...r, group, seed, diagnostics: recorder?.result() ?? null };
          runs.push(done);
          await saveLosses();
          say(
            `  ${group.label.padEnd(labelWidth)}${opts.seeds > 1 ? ` seed ${seed}` : ""} test loss per epoch: ` +
              r.testLoss.map(formatLoss).join(" "),
          );
          if (r.stopped?.reason === "diverged") {
            console.error(
              `train: ${name} diverged at epoch ${r.stopped.epoch}, step ${r.stopped.step} (${r.stopped.detail}); ` +
                `losses.csv keeps its ${r.trainLoss.length} completed epochs`,
            );
          }
          if (r.stopped?.reason === "interrupted") {
            interrupted = done;
            break training;
          }
        }
      }
    } finally {
      stopThreads();
    }
    const summaries = summarize(groupList, runs);
    if (interrupted?.stopped) {
      if (stops.starterGone) console.error(`train: ${stops.starterGone} went away; stopping as on SIGTERM`);
      const { epoch, step, detail } = interrupted.stopped;
      console.error(
        `train: ${detail} during ${interrupted.group.label}, epoch ${epoch}, step ${step}; ${out}/losses.csv keeps ` +
          `every completed epoch (${interrupted.trainLoss.length} of ${interrupted.group.label}); no predictions or charts`,
      );
      if (opts.json) console.log(summaryJson(out, opts, runCount, threads, runs, summaries));
      return EXIT[detail as "SIGINT" | "SIGTERM"] ?? 1;
    }

    say("");
    for (const line of summaryTable(summaries)) say(line);
    const written = await writeOutputs(out, data.get(seeds[0])!, runs, summaries, models, {
      title: `bnlab: ${opts.variants.join(", ")} on y = x² + N(0, 1)`,
      configuration: reportConfiguration(opts, threads, counted),
      logY: opts.logY,
    }, () => stops.signal);
    if (written.stoppedBy) {
      if (stops.starterGone) console.error(`train: ${stops.starterGone} went away; stopping as on SIGTERM`);
      console.error(
        `train: ${written.stoppedBy} while writing the outputs, after every run completed; ${out}/losses.csv keeps ` +
          `every epoch; written: ${written.files.join(", ")}; not written: ${written.missing.join(", ")}`,
      );
      if (opts.json) console.log(summaryJson(out, opts, runCount, threads, runs, summaries));
      return EXIT[written.stoppedBy];
    }
    say(`\nWrote ${out}/: ${written.files.join(", ")}`);
    if (opts.json) console.log(summaryJson(out, opts, runCount, threads, runs, summaries));
    return runs.some((r) => r.stopped) ? EXIT.diverged : 0;
  } finally {
    stops.close();
  }
}

/**
 * Writes everything but losses.csv and the model files (already written as
 * the runs went): predictions, diagnostics CSVs, each chart as SVG and
 * vega-lite spec, then index.html; returns the names of all the run's files.
 * The fitted curves and diagnostics are the first seed's (`firstData`), of
 * the groups that completed it. When `stopRequested` answers a signal, it
 * writes no further file and says which were and were not written.
 */
async function writeOutputs(
  out: string,
  firstData: { train: Samples; test: Samples },
  runs: readonly Run[],
  summaries: readonly GroupSummary[],
  models: readonly string[],
  report: { title: string; configuration: [string, string][]; logY: boolean },
  stopRequested: () => StopSignal | null,
): Promise<{ files: string[]; missing: string[]; stoppedBy: StopSignal | null }> {
  const firstSeed = runs[0]?.seed;
  const firstRuns = runs.filter((r) => r.seed === firstSeed);
  const fitted = firstRuns.filter((r) => r.stopped === null)
    .map((r) => ({ label: r.group.label, predictions: r.predictions }));
  const diagnosed = firstRuns.filter((r) => r.diagnostics !== null).map((r) => ({
    variant: r.variant,
    swept: r.group.configuration.swept,
    seed: r.seed,
    label: r.group.label,
    diagnostics: r.diagnostics!,
  }));
  const files: [string, string][] = [["predictions.csv", predictionsCsv(firstData.test.x, firstData.test.y, fitted)]];
  const charts: [string, TopLevelSpec][] = [
    ["training-data", trainingDataSpec(firstData.train, firstData.test)],
    ["test-loss", testLossSpec(summaries.map((s) => ({ label: s.group.label, runs: s.runs })), report.logY)],
    ["fit", fitSpec(firstData.test, fitted)],
  ];
  if (diagnosed.length > 0) {
    files.push(["histograms.csv", histogramsCsv(diagnosed)], ["grad-norms.csv", gradNormsCsv(diagnosed)]);
    charts.push(["layer-histograms", layerHistogramsSpec(diagnosed)], ["grad-norms", gradNormsSpec(diagnosed)]);
  }
  const pending = [
    ...files.map(([n]) => n),
    ...charts.flatMap(([n]) => [`${n}.svg`, `${n}.vl.json`]),
    "index.html",
  ];
  const written = ["losses.csv", ...models];
  const stopped = () => ({ files: written, missing: pending, stoppedBy: stopRequested() });
  const rendered: ReportChart[] = [];
  for (const [name, spec] of charts) {
    if (stopRequested()) return stopped();
    const svg = await renderSvg(spec);
    rendered.push({ name, title: chartTitle(spec), svg });
    files.push([`${name}.svg`, svg], [`${name}.vl.json`, JSON.stringify(spec, null, 1) + "\n"]);
  }
  const listed = ["losses.csv", ...files.map(([n]) => n), ...models];
  const html = reportHtml({ ...report, summary: summaryRows(summaries), charts: rendered, files: listed });
  files.push(["index.html", html]);
  for (const [name, text] of files) {
    if (stopRequested()) return stopped();
    await writeFileAtomic(`${out}/${name}`, text);
    written.push(name);
    pending.splice(pending.indexOf(name), 1);
  }
  return { files: [...listed, "index.html"], missing: [], stoppedBy: null };
}

/** A vega-lite spec's title text. */
function chartTitle(spec: TopLevelSpec): string {
  const t = (spec as { title?: string | { text: string } }).title;
  return typeof t === "string" ? t : t?.text ?? "";
}

/** The training configuration, for a model file's `__metadata__`. */
function modelMetadata(config: TrainConfig, group: Group): Record<string, string | number | boolean> {
  return {
    epochs: config.epochs,
    batch_size: config.batchSize,
    drop_last: config.dropLast,
    lr: config.lr,
    seed: config.seed,
    optimizer: "Adam(betas=(0.9, 0.999), eps=1e-8)",
    data: "y = x^2 + N(0, 1), x = linspace(-5, 5, 1000)",
    group: group.label,
  };
}

/** The report's configuration table. */
function reportConfiguration(opts: TrainOptions, threads: number, counted: string): [string, string][] {
  const list = (key: SweepKey) => opts.grid[key].join(", ");
  return [
    ["runs", counted],
    ["variants", opts.variants.join(", ")],
    ["epochs", String(opts.epochs)],
    ["batch size", list("batchSize") + (opts.dropLast ? " (last partial batch dropped)" : "")],
    ["learning rate (Adam)", list("lr")],
    ["hidden layers × width", `${list("layers")} × ${list("hidden")}`],
    ["activation", list("activation")],
    ["BN momentum", list("momentum")],
    ["seeds", opts.seeds > 1 ? `${opts.seed} … ${opts.seed + opts.seeds - 1}` : String(opts.seed)],
    ["threads", String(threads)],
    ["written", new Date().toISOString()],
  ];
}

/** Runs the train command with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let opts: TrainOptions;
  try {
    opts = parseOptions(args);
    if (opts.help) {
      console.log(USAGE);
      return 0;
    }
    return await run(opts);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`train: ${err.message}`);
      return 2;
    }
    console.error(`train: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
