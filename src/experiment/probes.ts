/**
 * The measurements the two BN papers explain it with, taken on the notebook's
 * network while it trains, every `every`-th step, on the batch that step
 * trains on:
 *
 * - **Input distributions** (Ioffe & Szegedy 2015, Fig. 1): the 15th, 50th
 *   and 85th percentile of unit 0's input to the nonlinearity in each hidden
 *   layer (the BN output, or the Linear output without BN).
 * - **Loss landscape** (Santurkar et al. 2018, Fig. 4): with θ the parameters
 *   before the step, g = ∇L(θ) in training mode and Δ the update the optimizer
 *   then took, the points θ − η·g for η = s·‖Δ‖/‖g‖, s in {@link PROBE_SCALES}
 *   (so s = 1 moves as far as Adam did, along the gradient): the loss at each
 *   point, ‖∇L(θ) − ∇L(θ − ηg)‖ ("gradient predictiveness") and that over
 *   ‖ηg‖, whose largest value is the "effective β-smoothness".
 * - **Internal covariate shift** (Santurkar et al., Def. 2.1): for hidden
 *   layer i ≥ 1, G = ∇_{W_i} L at θ, G′ = the same gradient after the step's
 *   update is applied to the layers below i only; ‖G − G′‖ and cos(G, G′).
 *   (Layer 0 has nothing below it: G′ = G.)
 *
 * Every pass runs on a network of its own (the per-layer kernels, training
 * mode), loaded with a copy of the trained network's parameters: the training
 * network, its running statistics, Adam's state and every random stream are
 * only read, so a run trains bit-identically with probes on or off.
 *
 * @example
 * ```ts
 * import { Prober } from "./probes.ts";
 * import { notebookData } from "../net/dataset.ts";
 * import { DEFAULTS, specFor, trainVariant } from "../net/train.ts";
 * // Allocated in the shared arena: the caller releases it (arena.mark / arena.release).
 * const prober = new Prober(specFor("torch", DEFAULTS), DEFAULTS.batchSize, 16);
 * await trainVariant("torch", notebookData(0), DEFAULTS, prober.hooks());
 * prober.result().landscape[0]; // the first probed step's loss range, gradient change and β-smoothness
 * ```
 * @module
 */
import type { Tensor } from "../kernels/arena.ts";
import { gather_rows } from "../kernels/data.ts";
import { Net, netBytes, type NetSpec } from "../net/model.ts";
import type { StepBatch, TrainHooks } from "../net/train.ts";
import { quantile, quantiles } from "./stats.ts";

/**
 * The default probe interval: 8 probes over the notebook's 160 steps, where a
 * probe's 8 passes (on the per-layer kernels, ~34 µs each at its width) cost
 * about 0.9× the training they watch (the README has the measurement).
 */
export const PROBE_EVERY = 20;

/** Step lengths of the landscape probe, as multiples of the length of the update the optimizer took. */
export const PROBE_SCALES: readonly number[] = [0.5, 1, 2, 4];

/** The percentiles of the input distributions (Ioffe & Szegedy's Fig. 1). */
export const PERCENTILES: readonly number[] = [0.15, 0.5, 0.85];

/** Unit 0's input to the nonlinearity at one probed step, for one hidden layer. */
export interface PercentileRecord {
  /** Training step (from 0, over the whole run). */
  step: number;
  /** Hidden layer, from 0. */
  layer: number;
  /** The 15th, 50th and 85th percentile over the step's batch. */
  values: number[];
}

/** One point θ − η·g of the landscape probe. */
export interface LandscapePoint {
  /** η·‖g‖ over the length of the optimizer's update (one of {@link PROBE_SCALES}). */
  scale: number;
  /** L(θ − η·g) on the step's batch. */
  loss: number;
  /** ‖∇L(θ) − ∇L(θ − η·g)‖. */
  gradChange: number;
  /** gradChange / ‖η·g‖. */
  smoothness: number;
}

/** The landscape probe at one step. */
export interface LandscapeRecord {
  /** Training step (from 0, over the whole run). */
  step: number;
  /** L(θ), the step's own loss. */
  loss: number;
  /** The probed points, in {@link PROBE_SCALES} order. */
  points: LandscapePoint[];
  /** max − min of the loss over θ and the probed points. */
  lossRange: number;
  /** The largest gradient change over the probed points. */
  gradChange: number;
  /** The largest smoothness over the probed points: the effective β-smoothness. */
  smoothness: number;
}

/** Internal covariate shift of one hidden layer at one probed step. */
export interface IcsRecord {
  /** Training step (from 0, over the whole run). */
  step: number;
  /** Hidden layer, from 1. */
  layer: number;
  /** ‖G − G′‖. */
  l2: number;
  /** cos(G, G′). */
  cosine: number;
}

/** What a {@link Prober} measured during one run. */
export interface ProbeRecords {
  /** Every probed step's percentiles, per layer. */
  percentiles: PercentileRecord[];
  /** Every probed step's landscape probe. */
  landscape: LandscapeRecord[];
  /** Every probed step's ICS, per layer from 1. */
  ics: IcsRecord[];
}

/** The probes' passes per probed step: one at θ, one per scale, one per hidden layer from 1. */
export function passesPerProbe(layers: number): number {
  return 1 + PROBE_SCALES.length + Math.max(0, layers - 1);
}

/** Watches one run through {@link TrainHooks.beforeStep} / {@link TrainHooks.afterStep}; see the module documentation. */
export class Prober {
  readonly #every: number;
  readonly #net: Net;
  readonly #records: ProbeRecords = { percentiles: [], landscape: [], ics: [] };
  /** θ, g and L(θ) of the step being probed (null between probes). */
  #at: { theta: Float32Array; grad: Float32Array; loss: number } | null = null;
  /** [start, end) of each hidden layer's parameters in the flat buffer, and of each fc weight. */
  readonly #blockEnds: number[];
  readonly #weights: [number, number][];

  /** A prober for networks of `spec`, batches of up to `maxBatch` rows, every `every`-th step (from step 0). */
  constructor(spec: NetSpec, maxBatch: number, every: number) {
    if (!Number.isInteger(every) || every < 1) throw new RangeError(`probes every ${every} steps: a whole number ≥ 1`);
    this.#every = every;
    this.#net = new Net(spec, maxBatch);
    const offset = (t: Tensor) => (t.ptr - this.#net.params.ptr) / 4;
    const L = spec.layers;
    this.#weights = Array.from({ length: L }, (_, l) => {
      const w = this.#net.param(`fc${l}.weight`);
      return [offset(w), offset(w) + w.size];
    });
    // Block l ends where block l + 1's Linear (or predict) begins.
    this.#blockEnds = Array.from(
      { length: L },
      (_, l) => offset(this.#net.param(l + 1 < L ? `fc${l + 1}.weight` : "predict.weight")),
    );
  }

  /** The hooks to pass to `trainVariant` (merged with the caller's own). */
  hooks(): Pick<TrainHooks, "beforeStep" | "afterStep"> {
    return {
      beforeStep: (net, batch) => this.#before(net, batch),
      afterStep: (net, batch) => this.#after(net, batch),
    };
  }

  /** Everything measured so far. */
  result(): ProbeRecords {
    return structuredClone(this.#records);
  }

  #before(net: Net, batch: StepBatch): void {
    if (batch.step % this.#every !== 0) return;
    const probe = this.#net;
    probe.params.f32.set(net.params.f32);
    // The noisy variant's perturbation of this step, so the probes see the landscape the step saw.
    if (net.noise && probe.noise) {
      probe.noise.scale.f32.set(net.noise.scale.f32);
      probe.noise.shift.f32.set(net.noise.shift.f32);
    }
    gather_rows(probe.input(batch.rows), batch.xs, batch.order, batch.from);
    gather_rows(probe.target(batch.rows), batch.ys, batch.order, batch.from);
    const loss = probe.lossAndGrad(batch.rows);
    for (let l = 0; l < probe.spec.layers; l++) {
      const { preActivation } = probe.layerOutputs(batch.rows, l);
      const H = probe.spec.hidden;
      const unit = Array.from({ length: batch.rows }, (_, r) => preActivation.f32[r * H]);
      this.#records.percentiles.push({ step: batch.step, layer: l, values: quantiles(unit, PERCENTILES) });
    }
    this.#at = { theta: net.params.f32.slice(), grad: probe.grads.f32.slice(), loss };
  }

  #after(net: Net, batch: StepBatch): void {
    const at = this.#at;
    if (at === null) return;
    this.#at = null;
    const probe = this.#net, n = batch.rows;
    const after = net.params.f32;
    const update = norm(after, at.theta);
    const gNorm = norm(at.grad);
    // The gradient at θ + d for a parameter offset d (written into the probe network's parameters).
    const gradAt = (set: (p: Float32Array) => void) => {
      set(probe.params.f32);
      const loss = probe.lossAndGrad(n);
      return { loss, grad: probe.grads.f32 };
    };
    const points = PROBE_SCALES.map((scale) => {
      const eta = gNorm > 0 ? scale * update / gNorm : 0;
      const { loss, grad } = gradAt((p) => {
        for (let i = 0; i < p.length; i++) p[i] = at.theta[i] - eta * at.grad[i];
      });
      const gradChange = norm(at.grad, grad);
      return { scale, loss, gradChange, smoothness: eta * gNorm > 0 ? gradChange / (eta * gNorm) : 0 };
    });
    const losses = [at.loss, ...points.map((p) => p.loss)];
    this.#records.landscape.push({
      step: batch.step,
      loss: at.loss,
      points,
      lossRange: Math.max(...losses) - Math.min(...losses),
      gradChange: Math.max(...points.map((p) => p.gradChange)),
      smoothness: Math.max(...points.map((p) => p.smoothness)),
    });
    for (let l = 1; l < probe.spec.layers; l++) {
      // The update applied to the blocks below l only: parameters [0, end of block l − 1) from after the step.
      const below = this.#blockEnds[l - 1];
      const { grad } = gradAt((p) => {
        p.set(after.subarray(0, below));
        p.set(at.theta.subarray(below), below);
      });
      const [w0, w1] = this.#weights[l];
      const G = at.grad.subarray(w0, w1), G2 = grad.subarray(w0, w1);
      this.#records.ics.push({ step: batch.step, layer: l, l2: norm(G, G2), cosine: cosine(G, G2) });
    }
  }
}

/** ‖a − b‖ (‖a‖ without b), summed in f64. */
function norm(a: Float32Array, b?: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = b ? a[i] - b[i] : a[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

/** cos(a, b); 1 when either is zero (no direction to differ in). */
function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 1;
}

/** The arena bytes a {@link Prober} allocates for `spec` and batches of up to `maxBatch` rows: its network. */
export function proberBytes(spec: NetSpec, maxBatch: number): number {
  return netBytes(spec, maxBatch);
}

/** One run's probes in a few numbers: medians over its probed steps. */
export interface ProbeSummary {
  /** Median over probed steps of the loss range along the gradient. */
  lossRange: number;
  /** Median over probed steps of the largest gradient change. */
  gradChange: number;
  /** Median over probed steps of the effective β-smoothness. */
  smoothness: number;
  /** Per hidden layer from 1: median over probed steps of ‖G − G′‖ and of cos(G, G′). */
  ics: { layer: number; l2: number; cosine: number }[];
}

/** The medians over probed steps of `records` (see {@link ProbeSummary}). */
export function summarizeProbes(records: ProbeRecords): ProbeSummary {
  const median = (xs: number[]) => xs.length ? quantile(xs, 0.5) : NaN;
  const layers = [...new Set(records.ics.map((c) => c.layer))].sort((a, b) => a - b);
  return {
    lossRange: median(records.landscape.map((l) => l.lossRange)),
    gradChange: median(records.landscape.map((l) => l.gradChange)),
    smoothness: median(records.landscape.map((l) => l.smoothness)),
    ics: layers.map((layer) => {
      const at = records.ics.filter((c) => c.layer === layer);
      return { layer, l2: median(at.map((c) => c.l2)), cosine: median(at.map((c) => c.cosine)) };
    }),
  };
}
