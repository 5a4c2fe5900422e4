/**
 * The plan of an experiment, made once from what was asked and fully checked
 * before anything is written or started: every run in order (configuration ×
 * variant × seed, with its whole training configuration), whether it records
 * diagnostics and keeps its model, the threads per run, the parallel jobs and
 * the memory they need. A request that cannot run throws a {@link PlanError}
 * whose {@link PlanProblem} the command line words with its own flag names.
 *
 * @example
 * ```ts
 * import { makePlan, NOTEBOOK_REQUEST } from "./plan.ts";
 * const plan = makePlan({ ...NOTEBOOK_REQUEST, seeds: 10 }, { cores: 2, memory: 2 ** 33 });
 * plan.runs.length; // 30: mybn, torch, none on seeds 0–9
 * ```
 * @module
 */
import { arena } from "../kernels/arena.ts";
import { gemmScratchBytes } from "../kernels/matmul.ts";
import { MAX_PAGES, PAGE_BYTES } from "../kernels/pages.ts";
import { TEST_SIZE, TRAIN_SIZE } from "../net/dataset.ts";
import { type BnInit, type BnVariant, NOTEBOOK_VARIANTS } from "../net/model.ts";
import { FUSED_MAX_WIDTH } from "../kernels/fused.ts";
import {
  type BatchProblem,
  batchProblem,
  DEFAULTS,
  fusedTakes,
  specFor,
  trainBytes,
  type TrainConfig,
  type TrainPath,
} from "../net/train.ts";
import { proberBytes } from "./probes.ts";
import { type Configuration, configurations, type Grid, type Group, groups, singleGrid } from "./sweep.ts";

/** What an experiment is asked to do: the train command's flags, as values. */
export interface ExperimentRequest {
  /** BN variants, in order. */
  variants: BnVariant[];
  /** The values of each sweepable setting. */
  grid: Grid;
  /** Training epochs. */
  epochs: number;
  /** Drop each epoch's last, smaller batch. */
  dropLast: boolean;
  /** The first seed. */
  seed: number;
  /** How many seeds, from `seed` on. */
  seeds: number;
  /** Refuse more runs than this. */
  maxRuns: number;
  /** Per-layer diagnostics: on, off, or null for on unless there are more than {@link MAX_DIAGNOSED_GROUPS} groups. */
  diagnostics: boolean | null;
  /** Threads per run for the large kernels; null chooses by width ({@link defaultThreads}). */
  threads: number | null;
  /** Runs trained at once, each in its own worker; null chooses ({@link defaultJobs}). */
  jobs: number | null;
  /** Refuse a plan that needs more bytes than this; null: half of the RAM. */
  maxMemory: number | null;
  /** The training step for every run (see {@link TrainPath}). */
  path: TrainPath;
  /** Probe every run (src/experiment/probes.ts) every this many steps; null: no probes. */
  probes: number | null;
  /** BN's γ at the start (see `Net.initialize`). */
  bnInit: BnInit;
}

/** The notebook's experiment: every variant, the notebook's settings, seed 0, defaults for the rest. */
export const NOTEBOOK_REQUEST: Readonly<ExperimentRequest> = {
  variants: [...NOTEBOOK_VARIANTS],
  grid: singleGrid(DEFAULTS),
  epochs: DEFAULTS.epochs,
  dropLast: DEFAULTS.dropLast,
  seed: DEFAULTS.seed,
  seeds: 1,
  maxRuns: 64,
  diagnostics: null,
  threads: null,
  jobs: null,
  maxMemory: null,
  path: "auto",
  probes: null,
  bnInit: "ones",
};

/** What the plan needs to know of the machine. */
export interface Machine {
  /** Cores available. */
  cores: number;
  /** Bytes of RAM, or null where the process may not ask. */
  memory: number | null;
}

/** Sweeps of more groups than this draw no per-layer diagnostics unless asked (the small multiples would be unreadable). */
export const MAX_DIAGNOSED_GROUPS = 8;

/** The largest seed (seeds are 32-bit). */
export const MAX_SEED = 2 ** 32 - 1;

/** One training run of a plan. */
export interface PlannedRun {
  /** Its place in the plan (outputs follow this order). */
  index: number;
  /** Its variant and configuration. */
  group: Group;
  /** Its seed. */
  seed: number;
  /** Its whole training configuration (the seed included). */
  config: TrainConfig;
  /** Whether it records per-layer diagnostics (the first seed of each group, when on). */
  diagnose: boolean;
  /** Whether its final weights are kept as a model file (the first seed of each group). */
  keepModel: boolean;
  /** Probe it every this many steps (src/experiment/probes.ts); null: no probes. */
  probeEvery: number | null;
  /** "torch", or "torch seed 3" when there are several seeds. */
  label: string;
}

/** An experiment, ready to run. */
export interface Plan {
  /** What was asked. */
  request: ExperimentRequest;
  /** The points of the sweep. */
  configurations: Configuration[];
  /** Variant × configuration, in training order. */
  groups: Group[];
  /** The seeds, in order. */
  seeds: number[];
  /** Every run: configurations outermost, then variants, then seeds. */
  runs: PlannedRun[];
  /** Threads per run. */
  threads: number;
  /** Runs trained at once. */
  jobs: number;
  /** Diagnostics were left off because the sweep has too many groups (and nobody asked). */
  diagnosticsSkipped: boolean;
  /** Bytes one run needs at most (its arena and its threads' scratch). */
  runBytes: number;
  /** Training and test points per seed. */
  trainSize: number;
  /** See `trainSize`. */
  testSize: number;
}

/** Why a request cannot be planned, as data: the command line words it with its flag names. */
export type PlanProblem =
  | { kind: "too-many-runs"; runs: number; configurations: number; seeds: number; variants: number; maxRuns: number }
  | { kind: "seed-range"; seed: number; seeds: number }
  | { kind: "batch"; problem: BatchProblem }
  | { kind: "path"; hidden: number; maxWidth: number }
  /** `--path fused` with the noisy variant, which only the per-layer kernels train. */
  | { kind: "path-noisy" }
  /** `--path fused` with BN after the activation, which only the per-layer kernels train. */
  | { kind: "path-after" }
  | { kind: "memory"; need: number; limit: number; limitFrom: "wasm32" | "ram" | "max-memory"; config: TrainConfig };

/** A request that cannot run; {@link PlanError.problem} says why. */
export class PlanError extends Error {
  /** What is wrong. */
  readonly problem: PlanProblem;
  constructor(problem: PlanProblem) {
    super(`cannot plan the experiment: ${JSON.stringify(problem)}`);
    this.problem = problem;
  }
}

/**
 * The thread count that pays for a network of width `hidden`: below 128
 * units a step's kernels are too small to be worth waking a worker (the pool
 * would leave them on one thread anyway), from 128 on two threads train about
 * 1.7× faster (bench:train) where there are two cores.
 */
function defaultThreads(hidden: number, cores: number): number {
  return hidden >= 128 ? Math.min(2, cores) : 1;
}

/**
 * Training flops a second a run reaches at least, for deciding whether
 * parallel jobs pay: the notebook's runs reach about 5 GFLOP/s (60 runs of 10 epochs in 0.25 s).
 */
const SLOWEST_FLOPS = 5e9;

/** Below this estimated training time, in seconds, one job: starting a worker costs about 0.1 s. */
const PARALLEL_WORTH = 0.25;

/**
 * The default number of jobs: the cores, lowered so that jobs × threads fits
 * the cores and jobs × `runBytes` the memory budget, never more than the
 * runs, and 1 when the whole experiment would train in under a quarter of a
 * second (a worker would cost more than it saves).
 */
function defaultJobs(
  runs: readonly PlannedRun[],
  threads: number,
  runBytes: number,
  budget: number,
  cores: number,
): number {
  const flops = runs.reduce((sum, r) => sum + trainFlops(r.config, TRAIN_SIZE), 0);
  if (flops / SLOWEST_FLOPS < PARALLEL_WORTH) return 1;
  return Math.max(1, Math.min(Math.floor(cores / threads), Math.floor(budget / runBytes), runs.length));
}

/** 6 flops per weight per sample (forward, backward, update) over a run's epochs. */
function trainFlops(c: TrainConfig, samples: number): number {
  const weights = c.hidden + (c.layers - 1) * c.hidden * c.hidden + c.hidden;
  return 6 * weights * samples * c.epochs;
}

/** The plan of `request` on `machine`; throws {@link PlanError} when it cannot run. */
export function makePlan(request: ExperimentRequest, machine: Machine): Plan {
  const trainSize = TRAIN_SIZE, testSize = TEST_SIZE;
  const base = {
    ...DEFAULTS,
    epochs: request.epochs,
    dropLast: request.dropLast,
    seed: request.seed,
    path: request.path,
    bnInit: request.bnInit,
  };
  const configs = configurations(request.grid, base);
  const groupList = groups(configs, request.variants);
  const runCount = groupList.length * request.seeds;
  if (runCount > request.maxRuns) {
    throw new PlanError({
      kind: "too-many-runs",
      runs: runCount,
      configurations: configs.length,
      seeds: request.seeds,
      variants: request.variants.length,
      maxRuns: request.maxRuns,
    });
  }
  if (request.seed + request.seeds - 1 > MAX_SEED) {
    throw new PlanError({ kind: "seed-range", seed: request.seed, seeds: request.seeds });
  }
  if (request.variants.some((v) => v !== "none")) {
    for (const c of configs) {
      const problem = batchProblem(trainSize, c.config);
      if (problem) throw new PlanError({ kind: "batch", problem });
    }
  }
  if (request.path === "fused") {
    const wide = configs.find((c) => !fusedTakes(c.config));
    if (wide) throw new PlanError({ kind: "path", hidden: wide.config.hidden, maxWidth: FUSED_MAX_WIDTH });
    if (request.variants.includes("noisy")) throw new PlanError({ kind: "path-noisy" });
    if (request.grid.bnPosition.includes("after") && request.variants.some((v) => v !== "none")) {
      throw new PlanError({ kind: "path-after" });
    }
  }
  const threads = request.threads ?? Math.max(...configs.map((c) => defaultThreads(c.config.hidden, machine.cores)));
  const diagnose = request.diagnostics ?? groupList.length <= MAX_DIAGNOSED_GROUPS;
  const seeds = Array.from({ length: request.seeds }, (_, i) => request.seed + i);
  const runs: PlannedRun[] = groupList.flatMap((group) =>
    seeds.map((seed, s) => ({
      index: 0,
      group,
      seed,
      config: { ...group.configuration.config, seed },
      diagnose: diagnose && s === 0,
      keepModel: s === 0,
      probeEvery: request.probes,
      label: request.seeds > 1 ? `${group.label} seed ${seed}` : group.label,
    }))
  );
  runs.forEach((r, i) => r.index = i);

  // The largest run decides what one job needs: its arena and its threads' packing scratch.
  const probeBytes = (v: BnVariant, c: TrainConfig) =>
    request.probes === null ? 0 : proberBytes(specFor(v, c), Math.min(c.batchSize, trainSize));
  const cost = (c: Configuration) =>
    Math.max(...request.variants.map((v) => trainBytes(v, c.config, trainSize, testSize) + probeBytes(v, c.config)));
  const largest = configs.reduce((a, b) => cost(b) > cost(a) ? b : a);
  const runBytes = arena.used + cost(largest) + threads * gemmScratchBytes() + 4096;
  const wasm32 = MAX_PAGES * PAGE_BYTES;
  if (runBytes > wasm32) {
    throw new PlanError({ kind: "memory", need: runBytes, limit: wasm32, limitFrom: "wasm32", config: largest.config });
  }
  const budget = request.maxMemory ?? (machine.memory === null ? wasm32 : Math.floor(machine.memory / 2));
  const limitFrom = request.maxMemory !== null ? "max-memory" : machine.memory === null ? "wasm32" : "ram";
  const jobs = request.jobs ?? defaultJobs(runs, threads, runBytes, budget, machine.cores);
  if (jobs * runBytes > budget) {
    throw new PlanError({ kind: "memory", need: jobs * runBytes, limit: budget, limitFrom, config: largest.config });
  }
  return {
    request,
    configurations: configs,
    groups: groupList,
    seeds,
    runs,
    threads,
    jobs: Math.min(jobs, runs.length),
    diagnosticsSkipped: request.diagnostics === null && !diagnose,
    runBytes,
    trainSize,
    testSize,
  };
}
