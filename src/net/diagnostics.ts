/**
 * Per-layer diagnostics: what the notebook's theory cell claims and never
 * shows. Histograms of every hidden layer's pre-activation (the activation's
 * input: the BN output, or the Linear output without BN) and post-activation
 * on the test set at the first, middle and last epoch show whether tanh
 * saturates; the norm of each layer's weight gradient per epoch shows whether
 * the gradients vanish.
 *
 * @example
 * ```ts
 * import { LayerRecorder } from "./diagnostics.ts";
 * import { notebookData } from "./dataset.ts";
 * import { DEFAULTS, trainVariant } from "./train.ts";
 * const recorder = new LayerRecorder(DEFAULTS.layers, DEFAULTS.activation, DEFAULTS.epochs);
 * await trainVariant("none", notebookData(0), DEFAULTS, recorder.hooks());
 * recorder.result().gradNorms[0]; // epoch 0: the mean ‖∇W‖₂ of fc0 … fc3, predict
 * ```
 * @module
 */
import type { Activation } from "../kernels/activations.ts";
import type { Bins } from "../kernels/data.ts";
import { layerHistograms, type LayerValues, type Net } from "./model.ts";
import type { TrainHooks } from "./train.ts";

export type { Bins };

/** Pre-activations: tanh is saturated beyond |z| ≈ 2 (tanh 2 = 0.96), so ±6 in steps of 0.5 shows it. */
export const PRE_ACTIVATION_BINS: Readonly<Bins> = { lo: -6, hi: 6, count: 24 };

/** Post-activations over the activation's range (ReLU's cut at 6). */
function postActivationBins(activation: Activation): Bins {
  if (activation === "tanh") return { lo: -1, hi: 1, count: 20 };
  if (activation === "sigmoid") return { lo: 0, hi: 1, count: 20 };
  return { lo: 0, hi: 6, count: 24 };
}

/** Counts of one layer's values on the test set at one epoch. */
export interface LayerHistogram {
  /** Epochs of training done (0: the initial network). */
  epoch: number;
  /** Hidden layer, from 0. */
  layer: number;
  /** `pre`: the activation's input; `post`: its output. */
  kind: "pre" | "post";
  /** The bins counted into. */
  bins: Bins;
  /** Values per bin. */
  counts: number[];
}

/** What a {@link LayerRecorder} saw during one run. */
export interface Diagnostics {
  /** Weight names the gradient norms belong to: fc0.weight … predict.weight. */
  weights: string[];
  /** The epochs with histograms. */
  snapshots: number[];
  /** Every snapshot's histograms, per layer and kind. */
  histograms: LayerHistogram[];
  /** [epoch][weight]: the mean over the epoch's steps of ‖∇W‖₂. */
  gradNorms: number[][];
}

/**
 * Up to this many values (activation inputs and outputs of every layer) a
 * snapshot is kept as a copy and counted when the recorder's result is asked
 * for (1 MB: the notebook's network has 8,000); a wider network's are counted
 * at once instead of copied (at width 4096 and 64 layers a copy would take
 * 210 MB).
 */
const DEFERRED_VALUES = 1 << 18;

/** The first, middle and last epoch (0, ⌊E/2⌋, E), without repeats. */
export function snapshotEpochs(epochs: number): number[] {
  return [...new Set([0, Math.floor(epochs / 2), epochs])];
}

/**
 * Watches one training run through its {@link TrainHooks}: reads the test
 * set's activations after the evals at the snapshot epochs, and each step's
 * weight gradients. It only reads, so a run with a recorder computes the same
 * losses bit for bit.
 */
export class LayerRecorder {
  readonly #layers: number;
  readonly #post: Bins;
  readonly #snapshots: number[];
  readonly #histograms: LayerHistogram[] = [];
  /** Snapshots taken and not yet counted: the copy is all a snapshot costs the timed training. */
  #uncounted: { epoch: number; values: LayerValues }[] = [];
  readonly #gradNorms: number[][] = [];
  readonly #weights: string[];
  #sums: number[];
  #steps = 0;

  /** A recorder for a network of `layers` hidden layers trained for `epochs` epochs. */
  constructor(layers: number, activation: Activation, epochs: number) {
    this.#layers = layers;
    this.#post = postActivationBins(activation);
    this.#snapshots = snapshotEpochs(epochs);
    this.#weights = [...Array.from({ length: layers }, (_, l) => `fc${l}.weight`), "predict.weight"];
    this.#sums = new Array(this.#weights.length).fill(0);
  }

  /** The hooks to pass to `trainVariant` (merged with the caller's own). */
  hooks(): Pick<TrainHooks, "onEval" | "gradientNorms"> {
    return {
      onEval: (epoch, net, rows) => this.#afterEval(epoch, net, rows),
      gradientNorms: { weights: this.#weights, onSteps: (norms, steps) => this.#afterSteps(norms, steps) },
    };
  }

  /** Everything recorded so far. */
  result(): Diagnostics {
    for (const { epoch, values } of this.#uncounted) {
      this.#record(epoch, layerHistograms(values, PRE_ACTIVATION_BINS, this.#post));
    }
    this.#uncounted = [];
    return {
      weights: [...this.#weights],
      snapshots: [...this.#snapshots],
      histograms: [...this.#histograms],
      gradNorms: this.#gradNorms.map((row) => [...row]),
    };
  }

  #afterEval(epoch: number, net: Net, rows: number): void {
    // The eval at the start of epoch e closes epoch e − 1's gradient averages.
    if (epoch > 0 && this.#steps > 0) {
      this.#gradNorms.push(this.#sums.map((s) => s / this.#steps));
      this.#sums.fill(0);
      this.#steps = 0;
    }
    if (!this.#snapshots.includes(epoch)) return;
    // One copy of every layer's values now, counted when the result is asked for (up to DEFERRED_VALUES):
    // this runs while training is timed, and only at a few evals, so its JavaScript never gets warm
    // (counting here took 50–150 µs a snapshot of the notebook's network, a call per layer and kind
    // before that 0.3–0.9 ms).
    if (2 * this.#layers * rows * net.spec.hidden <= DEFERRED_VALUES) {
      this.#uncounted.push({ epoch, values: net.layerValues(rows) });
    } else {
      this.#record(epoch, net.layerHistograms(rows, PRE_ACTIVATION_BINS, this.#post));
    }
  }

  #record(epoch: number, counts: { pre: number[][]; post: number[][] }): void {
    for (let layer = 0; layer < this.#layers; layer++) {
      this.#histograms.push({ epoch, layer, kind: "pre", bins: PRE_ACTIVATION_BINS, counts: counts.pre[layer] });
      this.#histograms.push({ epoch, layer, kind: "post", bins: this.#post, counts: counts.post[layer] });
    }
  }

  #afterSteps(norms: ArrayLike<number>, steps: number): void {
    const k = this.#sums.length;
    for (let s = 0; s < steps; s++) {
      for (let i = 0; i < k; i++) this.#sums[i] += norms[s * k + i];
    }
    this.#steps += steps;
  }
}
