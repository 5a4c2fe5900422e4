/**
 * `deno task train`: the notebook experiment end to end. Trains every
 * requested BN variant on the same data, init and shuffles, prints the BN
 * sanity check, each variant's test losses and a summary table, and writes
 * `losses.csv`, `predictions.csv` and three SVG charts with their vega-lite
 * specs into the output directory.
 *
 * @example
 * ```sh
 * deno task train --epochs 5 --variants torch,none --out runs/quick
 * ```
 * @module
 */
import { arena } from "./arena.ts";
import { batchnorm_forward, type BnSemantics } from "./batchnorm.ts";
import { fitSpec, renderSvg, testLossSpec, trainingDataSpec } from "./charts.ts";
import { lossesCsv, predictionsCsv } from "./csv.ts";
import { notebookData, TEST_SIZE, TRAIN_SIZE } from "./data.ts";
import { writeFileAtomic } from "./files.ts";
import { defaultEps } from "./model.ts";
import { defaultThreads, parseOptions, type TrainOptions, USAGE, UsageError } from "./options.ts";
import { startThreads, stopThreads } from "./threads.ts";
import { batchProblem, trainBytes, type TrainResult, trainVariant } from "./train.ts";
import { gemmScratchBytes } from "./matmul.ts";
import { MAX_PAGES, PAGE_BYTES } from "./memory.ts";

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

/** A loss for the terminal: fixed-point, or exponent form when very large or small. */
function fmt(v: number): string {
  return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toFixed(4);
}

function timestamp(): string {
  return new Date().toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z");
}

/** Refuses an output directory that cannot be written, or that holds files (unless --force). */
async function checkOutDir(out: string, force: boolean): Promise<void> {
  const write = await Deno.permissions.query({ name: "write", path: out });
  const read = await Deno.permissions.query({ name: "read", path: out });
  if (write.state !== "granted" || read.state !== "granted") {
    throw new UsageError(
      `--out ${out}: this task may write only under runs/; to write elsewhere run ` +
        `deno run --allow-read=${out} --allow-write=${out} src/main.ts …`,
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

/** Index of the lowest test loss (the first, on ties). */
function bestEpoch(r: TrainResult): number {
  return r.testLoss.reduce((b, v, i) => v < r.testLoss[b] ? i : b, 0);
}

function summaryTable(results: readonly TrainResult[]): string[] {
  const rows = [["variant", "final test loss", "best epoch", "best test loss", "training time"]];
  for (const r of results) {
    const best = bestEpoch(r);
    const final = r.stopped ? `${r.stopped.reason} at epoch ${r.stopped.epoch}` : fmt(r.testLoss.at(-1)!);
    const bestLoss = r.testLoss.length ? fmt(r.testLoss[best]) : "–";
    rows.push([r.variant, final, r.testLoss.length ? String(best) : "–", bestLoss, `${r.millis.toFixed(0)} ms`]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) =>
    row.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join("  ")
  );
}

/** The run's outcome as one JSON object (`--json`). */
function summaryJson(out: string, opts: TrainOptions, threads: number, results: readonly TrainResult[]): string {
  const config = {
    variants: opts.variants,
    epochs: opts.epochs,
    batch_size: opts.batchSize,
    drop_last: opts.dropLast,
    lr: opts.lr,
    hidden: opts.hidden,
    layers: opts.layers,
    activation: opts.activation,
    momentum: opts.momentum,
    seed: opts.seed,
    threads,
  };
  return JSON.stringify({
    out,
    config,
    results: results.map((r) => ({
      variant: r.variant,
      final_test_loss: r.stopped ? null : r.testLoss.at(-1),
      best_epoch: r.testLoss.length ? bestEpoch(r) : null,
      best_test_loss: r.testLoss.length ? r.testLoss[bestEpoch(r)] : null,
      training_ms: r.millis,
      test_loss: r.testLoss,
      train_loss: r.trainLoss,
      stopped: r.stopped,
    })),
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

/** 1536 → "1.5 KiB". */
function bytes(n: number): string {
  const [scale, unit] = n >= 2 ** 30 ? [2 ** 30, "GiB"] : n >= 2 ** 20 ? [2 ** 20, "MiB"] : [2 ** 10, "KiB"];
  return `${(n / scale).toFixed(1)} ${unit}`;
}

/**
 * Refuses, before anything is allocated, a configuration whose largest
 * variant would not fit in a wasm32 memory (4 GiB) or would need more than
 * --max-memory (by default half of the machine's RAM, where the process may
 * read it; else the 4 GiB).
 */
function checkMemory(opts: TrainOptions, threads: number, trainSize: number, testSize: number): void {
  const largest = Math.max(...opts.variants.map((v) => trainBytes(v, opts, trainSize, testSize)));
  const need = arena.used + largest + threads * gemmScratchBytes() + 4096;
  const wasm32 = MAX_PAGES * PAGE_BYTES;
  const what = `--hidden ${opts.hidden} × --layers ${opts.layers} with --batch-size ${opts.batchSize}`;
  if (need > wasm32) {
    throw new UsageError(`${what} needs ${bytes(need)}; WebAssembly memory holds at most 4 GiB: use smaller sizes`);
  }
  let limit = opts.maxMemory;
  if (limit === null) {
    // Asking first: a call without the permission would prompt on a terminal.
    const allowed = Deno.permissions.querySync({ name: "sys", kind: "systemMemoryInfo" }).state === "granted";
    limit = allowed ? Math.floor(Deno.systemMemoryInfo().total / 2) : wasm32;
  }
  if (need > limit) {
    throw new UsageError(
      `${what} needs ${bytes(need)}, more than the ${bytes(limit)} allowed` +
        (opts.maxMemory === null ? " (half of the RAM; raise it with --max-memory)" : " by --max-memory"),
    );
  }
}

async function run(opts: TrainOptions): Promise<number> {
  const out = opts.out ?? `runs/${timestamp()}`;
  await checkOutDir(out, opts.force);
  const trainSize = TRAIN_SIZE, testSize = TEST_SIZE;
  if (opts.variants.some((v) => v !== "none")) {
    const problem = batchProblem(trainSize, opts);
    if (problem) throw new UsageError(problem);
  }
  let threads = opts.threads ?? defaultThreads(opts.hidden);
  checkMemory(opts, threads, trainSize, testSize);
  const data = notebookData(opts.seed, trainSize, testSize);
  // With --json, stdout carries only the summary object.
  const say = opts.json ? () => {} : (line = "") => console.log(line);

  say("BN sanity check: x = [[1, 2], [3, 4], [5, 6]], training mode, γ = 1, β = 0");
  for (const semantics of ["mybn", "torch"] as const) {
    const y = bnSanityCheck(semantics, opts.momentum).map((row) => `[${row.map((v) => v.toFixed(4)).join(", ")}]`);
    say(`  ${semantics.padEnd(5)} (eps ${defaultEps(semantics).toExponential(0)}): [${y.join(", ")}]`);
  }
  say(
    `\nTraining ${opts.variants.join(", ")}: ${opts.epochs} epochs, batch ${opts.batchSize}, lr ${opts.lr}, ` +
      `${opts.layers}×${opts.hidden} ${opts.activation}, momentum ${opts.momentum}, seed ${opts.seed}` +
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
  const results: TrainResult[] = [];
  // losses.csv is rewritten (through a temporary file) after every epoch, so
  // an interrupted or diverged run keeps every epoch it completed.
  const saveLosses = (current?: TrainResult) =>
    writeFileAtomic(`${out}/losses.csv`, lossesCsv(current ? [...results, current] : results));

  let signal: "SIGINT" | "SIGTERM" | null = null;
  const listeners = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const listener = () => signal ??= name;
    Deno.addSignalListener(name, listener);
    return [name, listener] as const;
  });
  const progress = new Progress(!opts.quiet);
  let interrupted: TrainResult | null = null;
  try {
    for (const variant of opts.variants) {
      const r = await trainVariant(variant, data, opts, {
        onEpoch: (partial) => saveLosses(partial),
        onProgress: (epoch, step, steps, rate, testLoss) =>
          progress.show(
            `${variant}: epoch ${epoch + 1}/${opts.epochs}, step ${step}/${steps}, ` +
              `test loss ${fmt(testLoss)}, ${rate.toFixed(0)} steps/s`,
          ),
        stopRequested: () => signal,
      });
      progress.clear();
      results.push(r);
      await saveLosses();
      say(`  ${variant.padEnd(5)} test loss per epoch: ${r.testLoss.map(fmt).join(" ")}`);
      if (r.stopped?.reason === "diverged") {
        console.error(
          `train: ${variant} diverged at epoch ${r.stopped.epoch}, step ${r.stopped.step} (${r.stopped.detail}); ` +
            `losses.csv keeps its ${r.trainLoss.length} completed epochs`,
        );
      }
      if (r.stopped?.reason === "interrupted") {
        interrupted = r;
        break;
      }
    }
  } finally {
    stopThreads();
    for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
  }
  if (interrupted?.stopped) {
    const { epoch, step, detail } = interrupted.stopped;
    console.error(
      `train: ${detail} during ${interrupted.variant}, epoch ${epoch}, step ${step}; ${out}/losses.csv keeps ` +
        `every completed epoch (${interrupted.trainLoss.length} of ${interrupted.variant}); no predictions or charts`,
    );
    if (opts.json) console.log(summaryJson(out, opts, threads, results));
    return EXIT[detail as "SIGINT" | "SIGTERM"] ?? 1;
  }

  say("");
  for (const line of summaryTable(results)) say(line);
  const complete = results.filter((r) => r.stopped === null);
  const files: [string, string][] = [["predictions.csv", predictionsCsv(data.test.x, data.test.y, complete)]];
  const charts = {
    "training-data": trainingDataSpec(data.train, data.test),
    "test-loss": testLossSpec(results, opts.logY),
    "fit": fitSpec(data.test, complete),
  };
  for (const [name, spec] of Object.entries(charts)) {
    files.push([`${name}.svg`, await renderSvg(spec)], [`${name}.vl.json`, JSON.stringify(spec, null, 1) + "\n"]);
  }
  for (const [name, text] of files) await writeFileAtomic(`${out}/${name}`, text);
  say(`\nWrote ${out}/: losses.csv, ${files.map(([n]) => n).join(", ")}`);
  if (opts.json) console.log(summaryJson(out, opts, threads, results));
  return results.some((r) => r.stopped) ? EXIT.diverged : 0;
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
