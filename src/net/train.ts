/**
 * The notebook's training loop: for each epoch, the test loss in eval mode,
 * then one shuffled pass over the training set in training mode with Adam.
 * After the last epoch, one more eval gives the final test loss.
 *
 * @example
 * ```ts
 * import { notebookData } from "./dataset.ts";
 * import { DEFAULTS, trainVariant } from "./train.ts";
 * const data = notebookData(0);
 * const run = await trainVariant("torch", data, DEFAULTS);
 * run.testLoss.at(-1); // the final test loss
 * ```
 * @module
 */
import type { Activation } from "../kernels/activations.ts";
import { ADAM_DEFAULTS } from "../kernels/adam.ts";
import { arena, type Tensor } from "../kernels/arena.ts";
import { count_nonfinite, gather_rows, sum_squares } from "../kernels/data.ts";
import { fusable, type StepsRecord } from "../kernels/fused.ts";
import type { Samples } from "./dataset.ts";
import {
  type BnInit,
  type BnPosition,
  type BnVariant,
  defaultEps,
  fusedBlocks,
  Net,
  netBytes,
  type NetSpec,
  NOISE,
} from "./model.ts";
import { Random } from "./random.ts";

/** What one training run needs besides the data. */
export interface TrainConfig {
  /** Training epochs. */
  epochs: number;
  /** Mini-batch size. */
  batchSize: number;
  /** Adam learning rate. */
  lr: number;
  /** Width of every hidden layer. */
  hidden: number;
  /** Number of hidden blocks. */
  layers: number;
  /** Hidden activation. */
  activation: Activation;
  /** BN momentum. */
  momentum: number;
  /** Seed of the data noise, the init and the shuffles. */
  seed: number;
  /** Drop the last batch when it is smaller than `batchSize`. */
  dropLast: boolean;
  /** The training step and eval: one fused kernel call each, the per-layer kernels, or `auto` (fused where it is faster). */
  path: TrainPath;
  /** BN's γ at the start (see {@link Net.initialize}). */
  bnInit: BnInit;
  /** BN before the activation (the notebook) or after it. */
  bnPosition: BnPosition;
}

/** How a step is computed: `fused` (one kernel call), `layers` (a kernel per layer), or `auto`. */
export type TrainPath = "auto" | "fused" | "layers";

/**
 * The widest network `auto` trains with the fused step: up to here it is
 * faster than the per-layer kernels (bench:train at batch 64: 1.6× at width
 * 10, 1.2× at 16, 1.08× at 32, even at 64), beyond them the blocked products
 * of the per-layer path win.
 */
export const FUSED_AUTO_WIDTH = 32;

/** Whether the fused step can train `config`'s network (the networks here have one input and one output). */
export function fusedTakes(config: Pick<TrainConfig, "hidden" | "layers">): boolean {
  return fusable({ inputs: 1, outputs: 1, hidden: config.hidden, layers: config.layers });
}

/** The step `config` trains `variant` with: `auto` resolved by width (the noisy variant always per layer). */
export function trainPath(
  config: Pick<TrainConfig, "path" | "hidden" | "layers" | "bnPosition">,
  variant?: BnVariant,
): "fused" | "layers" {
  if (variant !== undefined && !fusedBlocks({ bn: variant, bnPosition: config.bnPosition })) return "layers";
  if (config.path !== "auto") return config.path;
  return fusedTakes(config) && config.hidden <= FUSED_AUTO_WIDTH ? "fused" : "layers";
}

/** The notebook's settings. */
export const DEFAULTS: Readonly<TrainConfig> = {
  epochs: 10,
  batchSize: 64,
  lr: 0.02,
  hidden: 10,
  layers: 4,
  activation: "tanh",
  momentum: 0.5,
  seed: 0,
  dropLast: false,
  path: "auto",
  bnInit: "ones",
  bnPosition: "before",
};

/** Where and why a run stopped before its last epoch. */
export interface Stop {
  /** Why the run stopped. */
  reason: "diverged" | "interrupted";
  /** Epoch (from 0) and step within it (from 0) that did not complete. */
  epoch: number;
  /** Step (from 0) of that epoch that did not complete. */
  step: number;
  /** e.g. "non-finite gradient"; for an interruption, the signal. */
  detail: string;
}

/** The result of training one variant. */
export interface TrainResult {
  /** The BN variant trained. */
  variant: BnVariant;
  /**
   * Test loss at the start of each epoch, then after the last one: `epochs + 1`
   * values for a complete run; one per completed epoch for a stopped one.
   */
  testLoss: number[];
  /** Mean training loss of each completed epoch (over its samples). */
  trainLoss: number[];
  /** Eval-mode predictions on the test inputs after training (empty when stopped). */
  predictions: Float32Array;
  /** Wall time of the training, in milliseconds. */
  millis: number;
  /** Set when the run stopped early. */
  stopped: Stop | null;
}

/** The rows one training step trains on: rows `order[from … from+rows)` of the sample columns `xs`, `ys`. */
export interface StepBatch {
  /** The step, from 0 over the whole run. */
  step: number;
  /** The training inputs, [samples, 1]. */
  xs: Tensor;
  /** The training targets, [samples, 1]. */
  ys: Tensor;
  /** The epoch's shuffled sample indices (u32). */
  order: Tensor;
  /** The step's first index in `order`. */
  from: number;
  /** The step's batch size. */
  rows: number;
}

/** What the caller of {@link trainVariant} can observe and steer. */
export interface TrainHooks {
  /** After every completed epoch, with the result so far. */
  onEpoch?(result: TrainResult): void | Promise<void>;
  /** About ten times a second during an epoch, with the test loss measured at its start. */
  onProgress?(epoch: number, step: number, steps: number, stepsPerSecond: number, testLoss: number): void;
  /** Polled between steps; a reason stops the run (e.g. the signal that asked). */
  stopRequested?(): string | null;
  /**
   * After each eval on the test set (at the start of epoch `epoch`, and with
   * `epoch` = epochs after the last one), while `net` holds its `rows` rows of
   * activations. It must only read.
   */
  onEval?(epoch: number, net: Net, rows: number): void;
  /**
   * After each step's backward, before the update, while `net.grads` holds the
   * step's gradients. It must only read. (It makes every step a call of its
   * own; {@link TrainHooks.gradientNorms} does not.)
   */
  onBackward?(net: Net): void;
  /**
   * The weights (names as {@link Net.grad} takes them, at most one per weight
   * matrix: layers + 1) whose gradient norms ‖∇W‖₂ `onSteps` receives, in
   * that order, after the steps' backward: `norms` holds `steps` steps' norms,
   * step s's at [s·k, (s + 1)·k) for k weights (a call per kernel call, not
   * per step). `norms` may be reused once the call returns.
   */
  gradientNorms?: { weights: readonly string[]; onSteps(norms: ArrayLike<number>, steps: number): void };
  /** Before each step, while `net` holds the parameters the step starts from. It must only read. */
  beforeStep?(net: Net, batch: StepBatch): void;
  /** After each step's update, while `net` holds the updated parameters. It must only read. */
  afterStep?(net: Net, batch: StepBatch): void;
  /** After a complete run's final eval, with the trained network (freed once this settles). */
  onTrained?(net: Net): void | Promise<void>;
}

/** Lets pending events (signal listeners, timers) run: the training loop is otherwise synchronous. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** The network of `variant` under `config`. */
export function specFor(variant: BnVariant, config: TrainConfig): NetSpec {
  return {
    inputs: 1,
    hidden: config.hidden,
    layers: config.layers,
    outputs: 1,
    activation: config.activation,
    bn: variant,
    eps: defaultEps(variant),
    momentum: config.momentum,
    bnPosition: config.bnPosition,
  };
}

/**
 * The arena bytes {@link trainVariant} allocates for `variant`: the network
 * ({@link netBytes}), then the samples and index lists it copies in, each as
 * the arena counts it.
 */
export function trainBytes(variant: BnVariant, config: TrainConfig, trainSize: number, testSize: number): number {
  const maxBatch = Math.max(Math.min(config.batchSize, trainSize), testSize);
  const column = (n: number) => arena.bytesFor([n, 1], "f32");
  const steps = batchSizes(trainSize, config.batchSize, config.dropLast).length;
  return netBytes(specFor(variant, config), maxBatch) + 2 * column(trainSize) + 2 * column(testSize) +
    arena.bytesFor([trainSize], "u32") + arena.bytesFor([Math.max(trainSize, testSize)], "u32") +
    arena.bytesFor([steps], "u32") + arena.bytesFor([4], "u32") + stepsRecordBytes(config.layers + 1);
}

/**
 * Steps per fused call ({@link Net.fusedTrainSteps}): a call per step costs
 * as much JavaScript as a step of the notebook's network takes in wasm (more
 * while that JavaScript is cold); 32 steps of it still take under a
 * millisecond, so progress and stop requests are still seen at once.
 */
export const STEPS_PER_CALL = 32;

/** The arena bytes of a {@link StepsRecord} for `weights` gradient norms. */
function stepsRecordBytes(weights: number): number {
  return arena.bytesFor([STEPS_PER_CALL], "f64") + arena.bytesFor([weights, 2], "u32") +
    arena.bytesFor([STEPS_PER_CALL, weights], "f64");
}

/** A {@link StepsRecord} for the gradient norms of `grads` (views into `net.grads`). */
function stepsRecord(net: Net, grads: readonly Tensor[], capacity: number): StepsRecord {
  const segments = arena.u32([capacity, 2]);
  grads.forEach((g, j) => segments.u32.set([(g.ptr - net.grads.ptr) / 4, g.size], 2 * j));
  return {
    losses: arena.f64([STEPS_PER_CALL]),
    segments: grads.length > 0 ? segments.view([grads.length, 2]) : null,
    norms: arena.f64([STEPS_PER_CALL, capacity]).view([STEPS_PER_CALL, grads.length]),
  };
}

/** A step's perturbation for the noisy variant: scale ~ U(scaleLo, scaleHi), shift ~ U(−shift, shift) per unit. */
function drawNoise(rng: Random, scale: Float32Array, shift: Float32Array): void {
  for (let i = 0; i < scale.length; i++) {
    scale[i] = rng.uniformIn(NOISE.scaleLo, NOISE.scaleHi);
    shift[i] = rng.uniformIn(-NOISE.shift, NOISE.shift);
  }
}

/** The sizes of the batches of one epoch over `n` samples. */
function batchSizes(n: number, batchSize: number, dropLast: boolean): number[] {
  const sizes = new Array(Math.floor(n / batchSize)).fill(batchSize);
  if (n % batchSize !== 0 && !dropLast) sizes.push(n % batchSize);
  return sizes;
}

/** Why a batch setting cannot train a BN variant: what the command line words with its flag names. */
export type BatchProblem =
  /** `dropLast` leaves no batch at all. */
  | { kind: "no-batch"; samples: number; batchSize: number }
  /** Some batch (every one, when `batchSize` is 1) has one row, which BN cannot normalise. */
  | { kind: "one-row"; samples: number; batchSize: number };

/**
 * Why `config` cannot train a BN variant on `n` samples, or null: BN in
 * training mode needs at least two rows per batch.
 */
export function batchProblem(n: number, config: TrainConfig): BatchProblem | null {
  const sizes = batchSizes(n, config.batchSize, config.dropLast);
  if (sizes.length === 0) return { kind: "no-batch", samples: n, batchSize: config.batchSize };
  if (sizes.includes(1)) return { kind: "one-row", samples: n, batchSize: config.batchSize };
  return null;
}

/** A {@link BatchProblem} in words, without naming any command-line flag. */
function describeBatchProblem(p: BatchProblem): string {
  if (p.kind === "no-batch") {
    return `batches of ${p.batchSize}, the last one dropped, leave no batch of ${p.samples} samples`;
  }
  const which = p.batchSize === 1 ? "every batch has" : `the last batch of the ${p.samples} training samples has`;
  return `BN needs at least 2 rows per batch in training, but with batches of ${p.batchSize} ${which} 1 row`;
}

/**
 * Trains one variant from the seed's Linear init and returns its losses and
 * final test predictions. The network is allocated in the shared arena and
 * released before returning.
 *
 * Every step is checked: a non-finite loss, gradient or parameter stops the
 * run there (`stopped.reason = "diverged"`), keeping the completed epochs.
 * About every 50 ms the loop yields to the event loop, so that a signal
 * listener can ask it to stop through `hooks.stopRequested`.
 */
export async function trainVariant(
  variant: BnVariant,
  data: { train: Samples; test: Samples },
  config: TrainConfig,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const { train, test } = data;
  if (variant !== "none") {
    const problem = batchProblem(train.x.length, config);
    if (problem) throw new RangeError(describeBatchProblem(problem));
  }
  const mark = arena.mark();
  try {
    const maxBatch = Math.max(Math.min(config.batchSize, train.x.length), test.x.length);
    const net = new Net(specFor(variant, config), maxBatch);
    net.initialize(new Random(config.seed, "init"), config.bnInit);
    if (config.path === "fused" && trainPath(config, variant) === "layers") {
      throw new RangeError(
        `the fused step has no ${variant === "noisy" ? "noisy variant" : "BN after the activation"}`,
      );
    }
    // The noisy variant's perturbation is a per-layer step of its own (src/net/model.ts NOISE).
    const fused = trainPath(config, variant) === "fused";
    const noise = net.noise && { rng: new Random(config.seed, "noise"), ...net.noise };
    const shuffle = new Random(config.seed, "shuffle");
    const adam = { ...ADAM_DEFAULTS, lr: config.lr };
    const nTest = test.x.length;
    // The samples live in the shared memory; batches are gathered by a kernel.
    const column = (v: Float32Array) => arena.f32([v.length, 1]).set(v);
    const trainX = column(train.x), trainY = column(train.y);
    const testX = column(test.x), testY = column(test.y);
    const order = arena.u32([train.x.length]);
    const identity = arena.u32([Math.max(train.x.length, nTest)]);
    identity.u32.forEach((_, i, a) => a[i] = i);
    const testLoss = (epoch: number) => {
      let loss: number;
      if (fused) {
        loss = net.fusedLoss(testX, testY);
      } else {
        gather_rows(net.input(nTest), testX, identity, 0);
        gather_rows(net.target(nTest), testY, identity, 0);
        loss = net.loss(nTest);
      }
      hooks.onEval?.(epoch, net, nTest);
      return loss;
    };
    const sizes = batchSizes(train.x.length, config.batchSize, config.dropLast);
    const result: TrainResult = {
      variant,
      testLoss: [],
      trainLoss: [],
      predictions: new Float32Array(),
      millis: 0,
      stopped: null,
    };
    const watched = hooks.beforeStep !== undefined || hooks.afterStep !== undefined;
    // Many steps per kernel call unless a hook must see each step's network.
    const chunked = fused && !watched && hooks.onBackward === undefined;
    const norms = hooks.gradientNorms;
    if (norms && norms.weights.length > config.layers + 1) {
      throw new RangeError(`gradientNorms: ${norms.weights.length} weights, at most ${config.layers + 1}`);
    }
    const watchedGrads = norms ? norms.weights.map((name) => net.grad(name)) : [];
    const record = stepsRecord(net, watchedGrads, config.layers + 1);
    const stepSizes = arena.u32([sizes.length]).set(sizes);
    const shuffleState = arena.u32([4]);
    const data = { xs: trainX, ys: trainY, order, sizes: stepSizes };
    let stepsDone = 0;
    const start = performance.now();
    let lastYield = start, lastProgress = start, stepsSinceProgress = 0;
    const stop = (reason: Stop["reason"], epoch: number, step: number, detail: string) => {
      result.testLoss.length = result.trainLoss.length;
      result.stopped = { reason, epoch, step, detail };
      result.millis = performance.now() - start;
      return result;
    };
    /** One step with its checks and hooks; the reason it diverged, or null. */
    const oneStep = (step: number, from: number): string | null => {
      const n = sizes[step];
      const batch = watched ? { step: stepsDone, xs: trainX, ys: trainY, order, from, rows: n } : null;
      if (noise) drawNoise(noise.rng, noise.scale.f32, noise.shift.f32);
      if (batch) hooks.beforeStep?.(net, batch);
      let loss: number;
      if (fused) {
        // One call: forward, backward and Adam. The gradients stay in net.grads for the checks and hooks.
        loss = net.fusedTrainStep(trainX, trainY, order, from, n, adam);
      } else {
        gather_rows(net.input(n), trainX, order, from);
        gather_rows(net.target(n), trainY, order, from);
        loss = net.lossAndGrad(n);
      }
      if (!Number.isFinite(loss)) return "non-finite loss";
      record.losses.f64[0] = loss;
      if (count_nonfinite(net.grads) > 0) return "non-finite gradient";
      hooks.onBackward?.(net);
      norms?.onSteps(watchedGrads.map((g) => Math.sqrt(sum_squares(g))), 1);
      if (!fused) net.optimizerStep(adam);
      if (count_nonfinite(net.params) > 0) return "non-finite parameter";
      if (batch) hooks.afterStep?.(net, batch);
      return null;
    };
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      const epochTestLoss = testLoss(epoch);
      if (!Number.isFinite(epochTestLoss)) return stop("diverged", epoch, 0, "non-finite test loss");
      result.testLoss.push(epochTestLoss);
      const o = order.u32;
      o.set(identity.u32.subarray(0, o.length));
      shuffle.shuffleTensor(order, shuffleState);
      let sum = 0, seen = 0, from = 0;
      for (let step = 0; step < sizes.length;) {
        // Steps step … step+count) in one call (chunked) or one; `done` of them completed.
        let count = 1, done = 1, diverged: string | null;
        if (chunked) {
          count = Math.min(STEPS_PER_CALL, sizes.length - step);
          const ran = net.fusedTrainSteps(data, step, count, from, adam, record);
          done = ran.done;
          diverged = ran.stop;
          // The stopping step's norms were recorded when only its parameters failed, as per step.
          const reported = done + (diverged === "non-finite parameter" ? 1 : 0);
          if (norms && reported > 0) norms.onSteps(record.norms!.f64, reported);
        } else {
          diverged = oneStep(step, from);
          if (diverged) done = 0;
        }
        for (let s = 0; s < done; s++) {
          const n = sizes[step + s];
          sum += record.losses.f64[s] * n;
          seen += n;
          from += n;
        }
        if (diverged) return stop("diverged", epoch, step + done, diverged);
        step += count;
        stepsDone += count;
        stepsSinceProgress += count;
        const now = performance.now();
        if (hooks.onProgress && now - lastProgress >= 100) {
          const rate = stepsSinceProgress / ((now - lastProgress) / 1000);
          hooks.onProgress(epoch, step, sizes.length, rate, epochTestLoss);
          lastProgress = now;
          stepsSinceProgress = 0;
        }
        if (now - lastYield >= 50) {
          await yieldToEvents();
          lastYield = performance.now();
          const reason = hooks.stopRequested?.();
          if (reason && step < sizes.length) return stop("interrupted", epoch, step, reason);
        }
      }
      result.trainLoss.push(sum / seen);
      await hooks.onEpoch?.(result);
      const reason = hooks.stopRequested?.();
      if (reason && epoch + 1 < config.epochs) return stop("interrupted", epoch + 1, 0, reason);
    }
    result.testLoss.push(testLoss(config.epochs));
    result.millis = performance.now() - start;
    result.predictions = net.prediction(nTest).f32.slice();
    await hooks.onTrained?.(net);
    return result;
  } finally {
    arena.release(mark);
  }
}
