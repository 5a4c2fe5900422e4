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
import { makePlan, type Plan, PlanError } from "../experiment/plan.ts";
import { runExperiment, type RunResult } from "../experiment/run.ts";
import { experimentJson, outcomes, summarize, summaryTable } from "../experiment/summary.ts";
import { LossesWriter } from "../outputs/losses.ts";
import { OutDir, OutDirError } from "../outputs/outdir.ts";
import { modelFileName, plannedFiles, writeModel, writeOutputs } from "../outputs/write.ts";
import { StopRequests } from "./lifeline.ts";
import { outDirMessage, planMessage } from "./messages.ts";
import { parseOptions, type TrainOptions, USAGE, UsageError } from "./options.ts";
import { announce, Progress, progressText, runLine } from "./terminal.ts";

/** Exit codes besides 0 (success), 1 (failure) and 2 (bad usage). */
const EXIT = { diverged: 3, SIGINT: 130, SIGTERM: 143 } as const;

/** The plan of `opts` on this machine, its problems worded with flag names. */
function plan(opts: TrainOptions): Plan {
  // Asked first: a call without the permission would prompt on a terminal.
  const mayAsk = Deno.permissions.querySync({ name: "sys", kind: "systemMemoryInfo" }).state === "granted";
  const machine = { cores: navigator.hardwareConcurrency, memory: mayAsk ? Deno.systemMemoryInfo().total : null };
  try {
    return makePlan(opts, machine);
  } catch (err) {
    throw err instanceof PlanError ? new UsageError(planMessage(err.problem)) : err;
  }
}

/** `runs/<UTC time>`, or with `-2`, `-3`, … when runs started within the same second took it. */
async function freshRunDir(): Promise<string> {
  const base = `runs/${new Date().toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z")}`;
  for (let k = 1;; k++) {
    const dir = k === 1 ? base : `${base}-${k}`;
    if (!(await Deno.stat(dir).then(() => true, () => false))) return dir;
  }
}

/** The output directory, locked; its problems worded with flag names. */
async function outDir(opts: TrainOptions): Promise<OutDir> {
  const out = opts.out ?? await freshRunDir();
  const may = (name: "read" | "write") => Deno.permissions.querySync({ name, path: out }).state === "granted";
  if (!may("read") || !may("write")) {
    throw new UsageError(
      `--out ${out}: this task may write only under runs/; to write elsewhere run ` +
        `deno run --allow-read=${out} --allow-write=${out} src/cli/main.ts …`,
    );
  }
  try {
    return await OutDir.open(out, { force: opts.force });
  } catch (err) {
    throw err instanceof OutDirError ? new UsageError(outDirMessage(err.problem)) : err;
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
  const progress = new Progress(!opts.quiet);
  const width = Math.max(...p.groups.map((g) => g.label.length));
  try {
    for (const name of plannedFiles(p)) await dir.record(name);
    const losses = await LossesWriter.create(`${dir.path}/losses.csv`, p.runs);
    let results: RunResult[];
    try {
      results = await runExperiment(p, {
        onEpoch: (run, partial) => losses.epoch(run, partial),
        onProgress: (at) => progress.show(progressText(at)),
        stopRequested: () => stops.signal,
        onFallback: (why) => console.error(`train: ${why}`),
        onRunDone: async (r) => {
          progress.clear();
          losses.finish(r.run, r);
          if (r.model) await writeModel(dir, r.run, r.model);
          say(runLine(r, width, p.seeds.length));
          if (r.stopped?.reason === "diverged") {
            const { epoch, step, detail } = r.stopped;
            console.error(
              `train: ${r.run.label} diverged at epoch ${epoch}, step ${step} (${detail}); ` +
                `losses.csv keeps its ${r.trainLoss.length} completed epochs`,
            );
          }
        },
      });
    } finally {
      await losses.close();
    }
    const stopNote = () =>
      stops.starterGone && console.error(`train: ${stops.starterGone} went away; stopping as on SIGTERM`);
    const interrupted = results.filter((r) => r.stopped?.reason === "interrupted");
    if (interrupted.length > 0 || results.length < p.runs.length) {
      stopNote();
      const first = interrupted[0], signal = stops.signal ?? "SIGTERM";
      const where = first
        ? `${first.run.label}, epoch ${first.stopped!.epoch}, step ${first.stopped!.step}`
        : "training";
      const others = interrupted.length > 1 ? ` (and ${interrupted.length - 1} more runs)` : "";
      const kept = first ? ` (${first.trainLoss.length} of ${first.run.label})` : "";
      console.error(
        `train: ${signal} during ${where}${others}; ${dir.path}/losses.csv keeps every completed epoch${kept}; ` +
          "no predictions or charts",
      );
      json(results);
      return EXIT[signal];
    }
    const summaries = summarize(p.groups, outcomes(results));
    say("");
    for (const line of summaryTable(summaries)) say(line);
    // Listed in plan order, whatever order parallel runs finished in.
    const models = results.filter((r) => r.model).map((r) => modelFileName(r.run.group));
    const written = await writeOutputs(dir, p, results, summaries, models, { logY: opts.logY }, () => stops.signal);
    if (written.stoppedBy) {
      stopNote();
      console.error(
        `train: ${written.stoppedBy} while writing the outputs, after every run completed; ${dir.path}/losses.csv ` +
          `keeps every epoch; written: ${written.files.join(", ")}; not written: ${written.missing.join(", ")}`,
      );
      json(results);
      return EXIT[written.stoppedBy as keyof typeof EXIT];
    }
    say(`\nWrote ${dir.path}/: ${written.files.join(", ")}`);
    json(results);
    return results.some((r) => r.stopped) ? EXIT.diverged : 0;
  } finally {
    progress.clear();
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
    const p = plan(opts);
    const dir = await outDir(opts);
    try {
      return await runAndWrite(p, dir, opts);
    } finally {
      await dir.release();
    }
  } catch (err) {
    console.error(`train: ${err instanceof Error ? err.message : String(err)}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
