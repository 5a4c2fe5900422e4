/**
 * Running a {@link Plan}: each planned run trains its variant on its seed's
 * data, recording diagnostics and keeping its model where the plan says so.
 * With one job the runs train here, in plan order; with more, each job is a
 * worker (src/experiment/job.ts) with its own WebAssembly memory, handed the
 * next run as it finishes one. A run's results do not depend on where it
 * trained, so the results (returned in plan order) are the same bytes
 * whatever the number of jobs.
 *
 * @example
 * ```ts
 * import { makePlan, NOTEBOOK_REQUEST } from "./plan.ts";
 * import { runExperiment } from "./run.ts";
 * const plan = makePlan(NOTEBOOK_REQUEST, { cores: 1, memory: null });
 * const results = await runExperiment(plan);
 * results.map((r) => r.testLoss.at(-1)); // the three final test losses
 * ```
 * @module
 */
import { startThreads, stopThreads } from "../kernels/threads.ts";
import { within } from "../kernels/deadline.ts";
import { notebookData } from "../net/dataset.ts";
import { type Diagnostics, LayerRecorder } from "../net/diagnostics.ts";
import type { NetSnapshot } from "../net/model.ts";
import { specFor, type TrainResult, trainVariant } from "../net/train.ts";
import { arena } from "../kernels/arena.ts";
import { Prober, type ProbeRecords } from "./probes.ts";
import type { Plan, PlannedRun } from "./plan.ts";

/** A run's outcome: its losses and predictions, and what the plan asked it to keep. */
export interface RunResult extends TrainResult {
  /** The run, as planned. */
  run: PlannedRun;
  /** Per-layer diagnostics, where the plan asked for them. */
  diagnostics: Diagnostics | null;
  /** The probes' measurements, where the plan asked for them. */
  probes: ProbeRecords | null;
  /** The trained network, where the plan keeps it and the run completed. */
  model: NetSnapshot | null;
}

/** Where the runs are: for a progress line. */
export interface ExperimentProgress {
  /** Runs finished. */
  done: number;
  /** Runs in the plan. */
  total: number;
  /** The run this report is about. */
  run: PlannedRun;
  /** Its epoch (from 0), step and steps per epoch, speed, and the test loss at the epoch's start. */
  epoch: number;
  /** See `epoch`. */
  step: number;
  /** See `epoch`. */
  steps: number;
  /** See `epoch`. */
  stepsPerSecond: number;
  /** See `epoch`. */
  testLoss: number;
}

/** What the caller of {@link runExperiment} observes and steers; every hook is optional. */
export interface ExperimentHooks {
  /** After each completed epoch of a run (runs in parallel report in any order), with its losses so far. */
  onEpoch?(run: PlannedRun, partial: Pick<TrainResult, "testLoss" | "trainLoss">): void | Promise<void>;
  /** When a run has finished, completed or stopped. */
  onRunDone?(result: RunResult): void | Promise<void>;
  /** About ten times a second. */
  onProgress?(progress: ExperimentProgress): void;
  /** Polled between steps; a reason (the signal) stops every run, keeping what completed. */
  stopRequested?(): string | null;
  /**
   * When threads or job workers the plan chose by default cannot start (a
   * bundle has no worker modules): why, before the runs go on with one.
   */
  onFallback?(why: string): void;
}

/** The hooks one run's training needs from its caller. */
export interface RunHooks {
  /** See {@link ExperimentHooks.onEpoch}. */
  onEpoch?(partial: Pick<TrainResult, "testLoss" | "trainLoss">): void | Promise<void>;
  /** Epoch, step, steps, speed and the test loss at the epoch's start. */
  onProgress?(epoch: number, step: number, steps: number, stepsPerSecond: number, testLoss: number): void;
  /** See {@link ExperimentHooks.stopRequested}. */
  stopRequested?(): string | null;
}

/** Trains one planned run on this thread (a job worker calls this too). */
export async function trainRun(
  run: PlannedRun,
  sizes: { train: number; test: number },
  hooks: RunHooks,
): Promise<RunResult> {
  const data = notebookData(run.seed, sizes.train, sizes.test);
  const { config } = run;
  const recorder = run.diagnose ? new LayerRecorder(config.layers, config.activation, config.epochs) : null;
  let model: NetSnapshot | null = null;
  // The prober's network lives in the arena for the run's length.
  const mark = arena.mark();
  try {
    const prober = run.probeEvery === null
      ? null
      : new Prober(specFor(run.group.variant, config), Math.min(config.batchSize, sizes.train), run.probeEvery);
    const result = await trainVariant(run.group.variant, data, config, {
      ...recorder?.hooks(),
      ...prober?.hooks(),
      onEpoch: (partial) => hooks.onEpoch?.({ testLoss: partial.testLoss, trainLoss: partial.trainLoss }),
      onProgress: hooks.onProgress,
      stopRequested: hooks.stopRequested,
      onTrained: (net) => {
        if (run.keepModel) model = net.snapshot();
      },
    });
    return { ...result, run, diagnostics: recorder?.result() ?? null, probes: prober?.result() ?? null, model };
  } finally {
    arena.release(mark);
  }
}

/** A run's progress reports, passed on to the experiment's hook with the runs `done` so far and in all. */
function progressHook(
  hooks: ExperimentHooks,
  plan: Plan,
  done: () => number,
  run: PlannedRun,
): NonNullable<RunHooks["onProgress"]> {
  return (epoch, step, steps, stepsPerSecond, testLoss) =>
    hooks.onProgress?.({ done: done(), total: plan.runs.length, run, epoch, step, steps, stepsPerSecond, testLoss });
}

/**
 * Trains every run of `plan` and returns their results in plan order. Runs
 * not started when a stop was asked are left out; the ones under way stop
 * where they are (`stopped.reason` "interrupted").
 */
export async function runExperiment(plan: Plan, hooks: ExperimentHooks = {}): Promise<RunResult[]> {
  return plan.jobs > 1 ? await runInJobs(plan, hooks) : await runHere(plan, hooks);
}

async function runHere(plan: Plan, hooks: ExperimentHooks): Promise<RunResult[]> {
  const results: RunResult[] = [];
  const sizes = { train: plan.trainSize, test: plan.testSize };
  try {
    await startThreads(plan.threads);
  } catch (err) {
    if (plan.request.threads !== null) throw err;
    hooks.onFallback?.(`cannot start ${plan.threads} threads (${message(err)}); continuing on one thread`);
  }
  try {
    for (const run of plan.runs) {
      if (hooks.stopRequested?.()) break;
      const result = await trainRun(run, sizes, {
        onEpoch: (partial) => hooks.onEpoch?.(run, partial),
        onProgress: progressHook(hooks, plan, () => results.length, run),
        stopRequested: hooks.stopRequested,
      });
      results.push(result);
      await hooks.onRunDone?.(result);
      if (result.stopped?.reason === "interrupted") break;
    }
  } finally {
    stopThreads();
  }
  return results;
}

/** What a job worker sends: a completed epoch, progress, a finished run, or a failure. */
export type JobMessage =
  | { type: "ready" }
  | { type: "epoch"; index: number; testLoss: number[]; trainLoss: number[] }
  | { type: "progress"; index: number; epoch: number; step: number; steps: number; rate: number; testLoss: number }
  | { type: "done"; result: RunResult }
  | { type: "failed"; index: number; message: string };

/** What a job worker is told: how to set up, a run to train, or to stop. */
export type JobOrder =
  | { type: "setup"; threads: number; train: number; test: number }
  | { type: "run"; run: PlannedRun }
  | { type: "stop"; reason: string };

/** How long a job worker may take to load its modules and say it is ready. */
const JOB_START_DEADLINE_MS = 60_000;

/** How often the main thread checks for a stop while the jobs train. */
const STOP_POLL_MS = 50;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function runInJobs(plan: Plan, hooks: ExperimentHooks): Promise<RunResult[]> {
  const script = new URL("./job.ts", import.meta.url);
  const workers: Worker[] = [];
  const results = new Map<number, RunResult>();
  let next = 0, running = 0, stopping: string | null = null;
  let poll: ReturnType<typeof setInterval> | undefined;
  // Each worker loads its modules and says it is ready before it is handed a run.
  const startJobs = () =>
    within(
      Promise.all(Array.from({ length: plan.jobs }, () => {
        const w = new Worker(script, { type: "module" });
        workers.push(w);
        return new Promise<void>((resolve, reject) => {
          w.onmessage = (e: MessageEvent<JobMessage>) => e.data.type === "ready" ? resolve() : undefined;
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`a job worker failed to start: ${e.message}`));
          };
          w.postMessage({ type: "setup", threads: plan.threads, train: plan.trainSize, test: plan.testSize });
        });
      })),
      JOB_START_DEADLINE_MS,
      `starting ${plan.jobs} job workers`,
    );
  try {
    try {
      await startJobs();
    } catch (err) {
      if (plan.request.jobs !== null) throw err;
      for (const w of workers.splice(0)) w.terminate();
      hooks.onFallback?.(`cannot start ${plan.jobs} job workers (${message(err)}); training one run at a time`);
      return await runHere({ ...plan, jobs: 1 }, hooks);
    }
    await new Promise<void>((resolve, reject) => {
      const give = (w: Worker) => {
        if (stopping === null && next < plan.runs.length) {
          running++;
          w.postMessage({ type: "run", run: plan.runs[next++] } satisfies JobOrder);
        } else if (running === 0) resolve();
      };
      const stopAll = (reason: string) => {
        stopping = reason;
        for (const w of workers) w.postMessage({ type: "stop", reason } satisfies JobOrder);
        if (running === 0) resolve();
      };
      poll = setInterval(() => {
        const reason = stopping === null ? hooks.stopRequested?.() : null;
        if (reason) stopAll(reason);
      }, STOP_POLL_MS);
      for (const w of workers) {
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`a job worker failed: ${e.message}`));
        };
        w.onmessage = async (e: MessageEvent<JobMessage>) => {
          const m = e.data;
          try {
            if (m.type === "epoch") {
              await hooks.onEpoch?.(plan.runs[m.index], { testLoss: m.testLoss, trainLoss: m.trainLoss });
            } else if (m.type === "progress") {
              progressHook(hooks, plan, () => results.size, plan.runs[m.index])(
                m.epoch,
                m.step,
                m.steps,
                m.rate,
                m.testLoss,
              );
            } else if (m.type === "done") {
              // The worker's copy of the run is a clone: results refer to the plan's own.
              const result = { ...m.result, run: plan.runs[m.result.run.index] };
              results.set(result.run.index, result);
              running--;
              await hooks.onRunDone?.(result);
              give(w);
            } else if (m.type === "failed") {
              reject(new Error(`${plan.runs[m.index].label}: ${m.message}`));
            }
          } catch (err) {
            reject(err);
          }
        };
        give(w);
      }
    });
  } finally {
    clearInterval(poll);
    for (const w of workers) w.terminate();
  }
  return [...results.values()].sort((a, b) => a.run.index - b.run.index);
}
