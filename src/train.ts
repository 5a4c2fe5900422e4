/**
 * The notebook's training loop: for each epoch, the test loss in eval mode,
 * then one shuffled pass over the training set in training mode with Adam.
 * After the last epoch, one more eval gives the final test loss.
 *
 * @example
 * ```ts
 * import { notebookData } from "./data.ts";
 * import { DEFAULTS, trainVariant } from "./train.ts";
 * const data = notebookData(0);
 * const run = trainVariant("torch", data, DEFAULTS);
 * run.testLoss.at(-1); // the final test loss
 * ```
 * @module
 */
import type { Activation } from "./activations.ts";
import { ADAM_DEFAULTS } from "./adam.ts";
import { arena } from "./arena.ts";
import { gather_rows, type Samples } from "./data.ts";
import { type BnVariant, defaultEps, Net, type NetSpec } from "./model.ts";
import { Random } from "./random.ts";

/** What one training run needs besides the data. */
export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  hidden: number;
  layers: number;
  activation: Activation;
  momentum: number;
  seed: number;
  /** Drop the last batch when it is smaller than `batchSize`. */
  dropLast: boolean;
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
};

/** The result of training one variant. */
export interface TrainResult {
  variant: BnVariant;
  /** Test loss at the start of each epoch, then after the last one: `epochs + 1` values. */
  testLoss: number[];
  /** Mean training loss of each epoch (over its samples): `epochs` values. */
  trainLoss: number[];
  /** Eval-mode predictions on the test inputs after training. */
  predictions: Float32Array;
  /** Wall time of the training, in milliseconds. */
  millis: number;
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
  };
}

/** The sizes of the batches of one epoch over `n` samples. */
export function batchSizes(n: number, batchSize: number, dropLast: boolean): number[] {
  const sizes = new Array(Math.floor(n / batchSize)).fill(batchSize);
  if (n % batchSize !== 0 && !dropLast) sizes.push(n % batchSize);
  return sizes;
}

/**
 * Why `config` cannot train a BN variant on `n` samples, or null: BN in
 * training mode needs at least two rows per batch.
 */
export function batchProblem(n: number, config: TrainConfig): string | null {
  const sizes = batchSizes(n, config.batchSize, config.dropLast);
  if (sizes.length === 0) {
    return `--batch-size ${config.batchSize} with --drop-last leaves no batch of the ${n} training samples`;
  }
  if (sizes.includes(1)) {
    const last = config.batchSize === 1 ? "every batch has" : `the last batch of the ${n} training samples has`;
    return `BN needs at least 2 rows per batch in training, but with --batch-size ${config.batchSize} ${last} 1 row;` +
      " use --drop-last or another --batch-size";
  }
  return null;
}

/**
 * Trains one variant from the seed's Linear init and returns its losses and
 * final test predictions. The network is allocated in the shared arena and
 * released before returning.
 */
export function trainVariant(
  variant: BnVariant,
  data: { train: Samples; test: Samples },
  config: TrainConfig,
  onEpoch?: (epoch: number, testLoss: number, trainLoss: number) => void,
): TrainResult {
  const { train, test } = data;
  if (variant !== "none") {
    const problem = batchProblem(train.x.length, config);
    if (problem) throw new RangeError(problem);
  }
  const mark = arena.mark();
  try {
    const maxBatch = Math.max(Math.min(config.batchSize, train.x.length), test.x.length);
    const net = new Net(specFor(variant, config), maxBatch);
    net.initialize(new Random(config.seed, "init"));
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
    const testLoss = () => {
      gather_rows(net.input(nTest), testX, identity, 0);
      gather_rows(net.target(nTest), testY, identity, 0);
      return net.loss(nTest);
    };
    const sizes = batchSizes(train.x.length, config.batchSize, config.dropLast);
    const result: TrainResult = { variant, testLoss: [], trainLoss: [], predictions: new Float32Array(), millis: 0 };
    const start = performance.now();
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      result.testLoss.push(testLoss());
      const o = order.u32;
      o.set(identity.u32.subarray(0, o.length));
      shuffle.shuffle(o);
      let sum = 0, seen = 0, from = 0;
      for (const n of sizes) {
        gather_rows(net.input(n), trainX, order, from);
        gather_rows(net.target(n), trainY, order, from);
        sum += net.trainStep(n, adam) * n;
        seen += n;
        from += n;
      }
      result.trainLoss.push(sum / seen);
      onEpoch?.(epoch, result.testLoss[epoch], sum / seen);
    }
    result.testLoss.push(testLoss());
    result.millis = performance.now() - start;
    result.predictions = net.prediction(nTest).f32.slice();
    return result;
  } finally {
    arena.release(mark);
  }
}
