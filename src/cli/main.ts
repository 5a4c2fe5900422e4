/**
 * `deno task train`: the notebook experiment end to end. It reads as its
 * steps: parse the flags, plan every run, take the output directory, run the
 * plan (appending `losses.csv` and writing model files as runs finish), write
 * the charts, CSVs and `index.html`, and return the exit code.
 *
 * @example
 * ```sh
 * deno task train --epochs 5 --variants torch,none --seeds 10 --out runs/quick
 * ```
 * @module
 */
import type { Plan } from "../experiment/plan.ts";
import { runExperiment, type RunResult } from "../experiment/run.ts";
import { experimentJson, outcomes, probeTable, summarize, summaryTable } from "../experiment/summary.ts";
import { LossesWriter } from "../outputs/losses.ts";
import type { OutDir } from "../outputs/outdir.ts";
import { modelFileName, plannedFiles, writeModel, writeOutputs } from "../outputs/write.ts";
import { StopRequests } from "./lifeline.ts";
import { parseOptions, type TrainOptions, USAGE, UsageError } from "./options.ts";
import { planFor, takeOutDir } from "./setup.ts";
import {
  announce,
  divergedLine,
  interruptedLine,
  outputsStoppedLine,
  Progress,
  progressText,
  runLine,
} from "./terminal.ts";

/** Exit codes besides 0 (success), 1 (failure) and 2 (bad usage). */
const EXIT = { diverged: 3, SIGINT: 130, SIGTERM: 143 } as const;

/** Trains every run of the plan: losses.csv grows by epochs, model files appear as runs finish. */
async function trainAll(
  p: Plan,
  dir: OutDir,
  opts: TrainOptions,
  stops: StopRequests,
  say: (line: string) => void,
): Promise<RunResult[]> {
  const progress = new Progress(!opts.quiet);
  const width = Math.max(...p.groups.map((g) => g.label.length));
  await dir.record(...plannedFiles(p));
  const losses = await LossesWriter.create(`${dir.path}/losses.csv`, p.runs);
  try {
    return await runExperiment(p, {
      onEpoch: (run, partial) => losses.epoch(run, partial),
      onProgress: (at) => progress.show(progressText(at)),
      stopRequested: () => stops.signal,
      onFallback: (why) => console.error(`train: ${why}`),
      onRunDone: async (r) => {
        progress.clear();
        losses.finish(r.run, r);
        if (r.model) await writeModel(dir, r.run, r.model);
        say(runLine(r, width, p.seeds.length));
        if (r.stopped?.reason === "diverged") console.error(`train: ${divergedLine(r)}`);
      },
    });
  } finally {
    progress.clear();
    await losses.close();
  }
}

/** Runs the plan into `dir` and writes its outputs; returns the exit code. */
async function runAndWrite(p: Plan, dir: OutDir, opts: TrainOptions): Promise<number> {
  // With --json, stdout carries only the summary object.
  const say = opts.json ? () => {} : (line = "") => console.log(line);
  const json = (results: readonly RunResult[]) =>
    opts.json && console.log(experimentJson(dir.path, p, results, summarize(p.groups, outcomes(results))));
  announce(p, say);
  // Listening until the last file is written: a stop then is reported as one during training is.
  const stops = new StopRequests();
  const stopped = (line: string, results: readonly RunResult[]) => {
    if (stops.starterGone) console.error(`train: ${stops.starterGone} went away; stopping as on SIGTERM`);
    console.error(`train: ${line}`);
    json(results);
  };
  try {
    const results = await trainAll(p, dir, opts, stops, say);
    const interrupted = results.filter((r) => r.stopped?.reason === "interrupted");
    if (interrupted.length > 0 || results.length < p.runs.length) {
      const signal = stops.signal ?? "SIGTERM";
      stopped(interruptedLine(signal, interrupted, dir.path), results);
      return EXIT[signal];
    }
    const summaries = summarize(p.groups, outcomes(results));
    say("");
    for (const line of summaryTable(summaries)) say(line);
    const probes = probeTable(summaries, results);
    if (probes.length > 0) {
      say("\nProbes, medians over the probed steps (median over seeds):");
      for (const line of probes) say(line);
    }
    // Listed in plan order, whatever order parallel runs finished in.
    const models = results.filter((r) => r.model).map((r) => modelFileName(r.run.group));
    const written = await writeOutputs(dir, p, results, summaries, models, { logY: opts.logY }, () => stops.signal);
    if (written.stoppedBy) {
      stopped(outputsStoppedLine(written, dir.path), results);
      return EXIT[written.stoppedBy as keyof typeof EXIT];
    }
    say(`\nWrote ${dir.path}/: ${written.files.join(", ")}`);
    json(results);
    return results.some((r) => r.stopped) ? EXIT.diverged : 0;
  } finally {
    stops.close();
  }
}

/** Runs the train command with `args`: parse → plan → take the directory → run and write → exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    const opts = parseOptions(args);
    if (opts.help) {
      console.log(USAGE);
      return 0;
    }
    const p = planFor(opts);
    const dir = takeOutDir(opts);
    try {
      return await runAndWrite(p, dir, opts);
    } finally {
      dir.release();
    }
  } catch (err) {
    console.error(`train: ${err instanceof Error ? err.message : String(err)}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
