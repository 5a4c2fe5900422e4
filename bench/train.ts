/**
 * `deno task bench:train`: train steps/s (forward + backward + Adam on a batch
 * already in memory) and eval samples/s of the notebook's network family over
 * a grid of widths, batch sizes, variants and thread counts. Prints a table,
 * or with `--json` the shape ../shared/bench/pytorch_mlp.py prints:
 * `{"engine": "...", "results": [{hidden, batch, variant, threads,
 * train_steps_per_s, eval_samples_per_s}]}`.
 *
 * The fused path's cells time what the training loop runs: `fused_train_steps`
 * in calls of STEPS_PER_CALL steps (each step's checks included, the
 * JavaScript of a call shared by its steps); a lone `fusedTrainStep` call
 * costs about 0.7 µs more.
 *
 * Each cell also reports the train step's effective GFLOP/s
 * (6·batch·Σ in·out per step) as a fraction of the f32x4 peak measured by
 * bench/peak.ts at the start of the same run.
 *
 * @example
 * ```sh
 * deno task bench:train --hidden 10,256 --batch 64,1024 --threads 1
 * ```
 * @module
 */
import type { ParseArgsOptionsConfig } from "node:util";
import { ADAM_DEFAULTS } from "../src/kernels/adam.ts";
import { arena } from "../src/kernels/arena.ts";
import { parseFlags, UsageError } from "../src/cli/flags.ts";
import { BN_VARIANTS, type BnVariant, Net, parameterShapes } from "../src/net/model.ts";
import { decimalNumber } from "../src/outputs/numbers.ts";
import { Random } from "../src/net/random.ts";
import { startThreads } from "../src/kernels/threads.ts";
import { DEFAULTS, specFor, STEPS_PER_CALL, type TrainPath, trainPath } from "../src/net/train.ts";
import { measurePeak } from "./peak.ts";

/** One cell of the grid. */
export interface TrainBenchResult {
  hidden: number;
  batch: number;
  variant: BnVariant;
  threads: number;
  train_steps_per_s: number;
  eval_samples_per_s: number;
}

/** The median rate (calls/s) of `fn` over `reps` windows of `window` seconds, after a warm-up. */
function rate(fn: () => void, window: number, reps: number): number {
  const t0 = performance.now();
  while (performance.now() - t0 < Math.min(300, window * 300)) fn();
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    let n = 0;
    const start = performance.now();
    let now = start;
    do {
      fn();
      n++;
      now = performance.now();
    } while (now - start < window * 1000);
    rates.push(n / ((now - start) / 1000));
  }
  return rates.sort((a, b) => a - b)[Math.floor(reps / 2)];
}

/** One call of STEPS_PER_CALL fused training steps on the rows x, y, as the training loop makes it. */
function fusedSteps(net: Net, x: Float32Array, y: Float32Array, adam: typeof ADAM_DEFAULTS): () => void {
  const batch = x.length;
  const data = {
    xs: arena.f32([batch, 1]).set(x),
    ys: arena.f32([batch, 1]).set(y),
    order: arena.u32([STEPS_PER_CALL * batch]),
    sizes: arena.u32([STEPS_PER_CALL]).set(new Array(STEPS_PER_CALL).fill(batch)),
  };
  data.order.u32.forEach((_, i, o) => o[i] = i % batch);
  const record = { losses: arena.f64([STEPS_PER_CALL]), segments: null, norms: null };
  return () => {
    const ran = net.fusedTrainSteps(data, 0, STEPS_PER_CALL, 0, adam, record);
    if (ran.stop !== null) throw new Error(`bench: the fused steps stopped: ${ran.stop}`);
  };
}

/** Floating-point operations of one train step: 2·batch·in·out for each of the three products per Linear. */
export function trainStepFlops(hidden: number, batch: number, layers: number): number {
  const spec = specFor("none", { ...DEFAULTS, hidden, layers });
  return parameterShapes(spec)
    .filter(([name]) => name.endsWith(".weight"))
    .reduce((sum, [, [out, inF]]) => sum + 6 * batch * out * inF, 0);
}

/** Measures one cell (with the thread pool already set to `threads`). */
export function benchCell(
  hidden: number,
  batch: number,
  variant: BnVariant,
  threads: number,
  layers: number,
  window: number,
  reps: number,
  path: TrainPath = "auto",
): TrainBenchResult {
  const mark = arena.mark();
  try {
    const config = { ...DEFAULTS, hidden, layers, path };
    const net = new Net(specFor(variant, config), batch);
    net.initialize(new Random(0, "init"));
    const rng = new Random(0, "data");
    const x = net.input(batch).f32, y = net.target(batch).f32;
    for (let i = 0; i < batch; i++) {
      x[i] = rng.uniformIn(-5, 5);
      y[i] = x[i] * x[i] + rng.normal();
    }
    const adam = { ...ADAM_DEFAULTS, lr: 0.02 };
    // The fused steps gather their batches themselves (the same rows each step here); the per-layer one trains on x, y as set.
    const fused = trainPath(config) === "fused";
    const train = fused
      ? rate(fusedSteps(net, x, y, adam), window, reps) * STEPS_PER_CALL
      : rate(() => net.trainStep(batch, adam), window, reps);
    // The fused eval is one call that also sums the loss (a batch of subtractions more than a forward).
    const evals = rate(
      fused ? () => net.fusedLoss(net.input(batch), net.target(batch)) : () => net.forward(batch, false),
      window,
      reps,
    );
    return {
      hidden,
      batch,
      variant,
      threads,
      train_steps_per_s: train,
      eval_samples_per_s: evals * batch,
    };
  } finally {
    arena.release(mark);
  }
}

/** The grid's flags and defaults, shared with bench/compare.ts (the grid). */
export const GRID_OPTIONS = {
  hidden: { type: "string", default: "10,64,256,1024" },
  batch: { type: "string", default: "64,1024" },
  variants: { type: "string", default: "torch,none" },
  threads: { type: "string", default: "1,2" },
  layers: { type: "string", default: "4" },
  window: { type: "string", default: "1" },
  reps: { type: "string", default: "3" },
  path: { type: "string", default: "auto" },
} as const;

/** The bench grid, its numbers read strictly (plain decimals, each flag once), as train reads its own. */
export interface BenchGrid {
  hidden: number[];
  batch: number[];
  variants: BnVariant[];
  threads: number[];
  layers: number;
  window: number;
  reps: number;
  /** The training step (see TrainPath). */
  path: TrainPath;
}

function pathOf(raw: string): TrainPath {
  if (raw !== "auto" && raw !== "fused" && raw !== "layers") {
    throw new UsageError(`--path takes auto, fused or layers, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/** Parses `args` against {@link GRID_OPTIONS} and `extra`; prints the one-line error and exits 2 on a bad flag. */
export function parseBenchFlags(
  command: string,
  args: string[],
  extra: ParseArgsOptionsConfig,
): { grid: BenchGrid; values: Record<string, string | boolean | undefined> } {
  try {
    const values = parseFlags(args, { ...GRID_OPTIONS, ...extra }).values as Record<
      string,
      string | boolean | undefined
    >;
    const whole = (flag: string, raw: string) => {
      const v = decimalNumber(raw);
      if (v === null || !Number.isInteger(v) || v < 1) {
        throw new UsageError(`--${flag} takes whole numbers ≥ 1, got ${JSON.stringify(raw)}`);
      }
      return v;
    };
    const list = (flag: keyof typeof GRID_OPTIONS) => (values[flag] as string).split(",").map((s) => whole(flag, s));
    const variants = (values.variants as string).split(",").map((v) => {
      if (!(BN_VARIANTS as readonly string[]).includes(v)) {
        throw new UsageError(`--variants takes ${BN_VARIANTS.join(", ")}, got ${JSON.stringify(v)}`);
      }
      return v as BnVariant;
    });
    const grid: BenchGrid = {
      hidden: list("hidden"),
      batch: list("batch"),
      variants,
      threads: list("threads"),
      layers: whole("layers", values.layers as string),
      window: whole("window", values.window as string),
      reps: whole("reps", values.reps as string),
      path: pathOf(values.path as string),
    };
    return { grid, values };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${command}: ${err.message}`);
    Deno.exit(2);
  }
}

const USAGE = `Usage: deno task bench:train [--hidden 10,64,256,1024] [--batch 64,1024]
                            [--variants torch,none] [--threads 1,2] [--layers 4]
                            [--window 1] [--reps 3] [--path auto|fused|layers] [--json]`;

if (import.meta.main) {
  const { grid, values } = parseBenchFlags("bench:train", Deno.args, {
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const { layers, window, reps } = grid;
  const peak = measurePeak();
  const results: TrainBenchResult[] = [];
  if (!values.json) {
    console.log(`f32x4 peak of one thread, measured now: ${peak.toFixed(1)} GFLOP/s`);
    console.log("hidden  batch  variant  threads   train steps/s   eval samples/s   train GFLOP/s  of peak");
  }
  for (const hidden of grid.hidden) {
    for (const batch of grid.batch) {
      for (const variant of grid.variants) {
        for (const threads of grid.threads) {
          await startThreads(threads);
          const r = benchCell(hidden, batch, variant, threads, layers, window, reps, grid.path);
          results.push(r);
          if (!values.json) {
            const gflops = trainStepFlops(hidden, batch, layers) * r.train_steps_per_s / 1e9;
            console.log(
              [
                String(hidden).padStart(6),
                String(batch).padStart(6),
                variant.padEnd(7),
                String(threads).padStart(7),
                r.train_steps_per_s.toFixed(1).padStart(15),
                r.eval_samples_per_s.toFixed(0).padStart(16),
                gflops.toFixed(2).padStart(15),
                `${(100 * gflops / (peak * threads)).toFixed(0)}%`.padStart(8),
              ].join(" "),
            );
          }
        }
      }
    }
  }
  await startThreads(1);
  if (values.json) console.log(JSON.stringify({ engine: "bnlab (Deno + WebAssembly)", peak_gflops: peak, results }));
}
