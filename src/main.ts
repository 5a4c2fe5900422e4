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
import { notebookData } from "./data.ts";
import { writeFileAtomic } from "./files.ts";
import { defaultEps } from "./model.ts";
import { defaultThreads, parseOptions, type TrainOptions, USAGE, UsageError } from "./options.ts";
import { startThreads, stopThreads } from "./threads.ts";
import { batchProblem, type TrainResult, trainVariant } from "./train.ts";

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

function summaryTable(results: readonly TrainResult[]): string[] {
  const rows = [["variant", "final test loss", "best epoch", "best test loss", "training time"]];
  for (const r of results) {
    const best = r.testLoss.reduce((b, v, i) => v < r.testLoss[b] ? i : b, 0);
    rows.push([r.variant, fmt(r.testLoss.at(-1)!), String(best), fmt(r.testLoss[best]), `${r.millis.toFixed(0)} ms`]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) =>
    row.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join("  ")
  );
}

async function run(opts: TrainOptions): Promise<void> {
  const out = opts.out ?? `runs/${timestamp()}`;
  await checkOutDir(out, opts.force);
  const data = notebookData(opts.seed);
  if (opts.variants.some((v) => v !== "none")) {
    const problem = batchProblem(data.train.x.length, opts);
    if (problem) throw new UsageError(problem);
  }

  console.log("BN sanity check: x = [[1, 2], [3, 4], [5, 6]], training mode, γ = 1, β = 0");
  for (const semantics of ["mybn", "torch"] as const) {
    const y = bnSanityCheck(semantics, opts.momentum).map((row) => `[${row.map((v) => v.toFixed(4)).join(", ")}]`);
    console.log(`  ${semantics.padEnd(5)} (eps ${defaultEps(semantics).toExponential(0)}): [${y.join(", ")}]`);
  }
  const threads = opts.threads ?? defaultThreads(opts.hidden);
  console.log(
    `\nTraining ${opts.variants.join(", ")}: ${opts.epochs} epochs, batch ${opts.batchSize}, lr ${opts.lr}, ` +
      `${opts.layers}×${opts.hidden} ${opts.activation}, momentum ${opts.momentum}, seed ${opts.seed}` +
      (threads > 1 ? `, ${threads} threads` : ""),
  );
  const results: TrainResult[] = [];
  await startThreads(threads);
  try {
    for (const variant of opts.variants) {
      const r = trainVariant(variant, data, opts);
      results.push(r);
      console.log(`  ${variant.padEnd(5)} test loss per epoch: ${r.testLoss.map(fmt).join(" ")}`);
    }
  } finally {
    stopThreads();
  }
  console.log("");
  for (const line of summaryTable(results)) console.log(line);

  await Deno.mkdir(out, { recursive: true });
  const files: [string, string][] = [
    ["losses.csv", lossesCsv(results)],
    ["predictions.csv", predictionsCsv(data.test.x, data.test.y, results)],
  ];
  const charts = {
    "training-data": trainingDataSpec(data.train, data.test),
    "test-loss": testLossSpec(results, opts.logY),
    "fit": fitSpec(data.test, results),
  };
  for (const [name, spec] of Object.entries(charts)) {
    files.push([`${name}.svg`, await renderSvg(spec)], [`${name}.vl.json`, JSON.stringify(spec, null, 1) + "\n"]);
  }
  for (const [name, text] of files) await writeFileAtomic(`${out}/${name}`, text);
  console.log(`\nWrote ${out}/: ${files.map(([n]) => n).join(", ")}`);
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
    await run(opts);
    return 0;
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
