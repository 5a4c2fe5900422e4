/**
 * The notebook's network, assembled from the kernel wrappers:
 *
 *     x → fc0 → bn0 → act → fc1 → bn1 → act → … → fc{L-1} → bn{L-1} → act → predict
 *
 * Parameters live in one flat f32 buffer in PyTorch's parameter order, and so
 * do their gradients and Adam's two moments: the optimizer is one kernel call
 * per step. Each parameter is also addressable by its PyTorch state_dict name
 * (`fc0.weight`, `bn0.bias`, `bn0.running_var`, …, `predict.bias`); the
 * notebook's MyBN names (`bn0.gamma`, `bn0.beta`, `bn0.moving_mean`,
 * `bn0.moving_var`) are accepted as aliases.
 *
 * Parameter gradients accumulate (llm.c's convention), so a step starts by
 * zeroing them: one `fill` of the flat gradient buffer. Activation gradients
 * are written, not accumulated: each has exactly one producer (the MSE, an
 * activation, a BN or the next Linear's input gradient), as in PyTorch's
 * autograd, which saves a step a fill and a read of every one of them.
 *
 * @example
 * ```ts
 * import { Net, notebookSpec } from "./model.ts";
 * const net = new Net(notebookSpec("torch"), 64);
 * net.param("bn0.weight").f32; // Float32Array of ten ones
 * ```
 * @module
 */
import { type Activation, activation_backward, activation_forward } from "../kernels/activations.ts";
import { adam_update, type AdamOptions } from "../kernels/adam.ts";
import { arena, type DType, type Tensor } from "../kernels/arena.ts";
import {
  batchnorm_backward,
  batchnorm_eval_forward,
  batchnorm_forward,
  batchnormSumsLength,
  noise_backward,
  noise_forward,
} from "../kernels/batchnorm.ts";
import type { BnSemantics } from "../kernels/batchnorm.ts";
import { linear_backward, linear_forward } from "../kernels/linear.ts";
import {
  fusable,
  fused_eval,
  fused_train_step,
  fused_train_steps,
  fusedActivationBlocks,
  fusedActivations,
  type FusedShape,
  fusedWorkBytes,
  type StepsRecord,
  type StepsStop,
} from "../kernels/fused.ts";
import { type Bins, type Blocks, histogram_blocks, transpose } from "../kernels/data.ts";
import { mse_backward, mse_forward } from "../kernels/loss.ts";
import type { Random } from "./random.ts";

/** The three variants of the experiment: which BN (if any) follows each hidden Linear. */
export type BnVariant = "mybn" | "torch" | "noisy" | "none";

/** Every {@link BnVariant}, in the notebook's order. */
export const BN_VARIANTS: readonly BnVariant[] = ["mybn", "torch", "noisy", "none"];

/** Where BN sits in a hidden block: before the activation (the notebook's Linear → BN → act) or after it. */
export type BnPosition = "before" | "after";
/** Every {@link BnPosition}. */
export const BN_POSITIONS: readonly BnPosition[] = ["before", "after"];

/** Whether `spec`'s blocks run BN after the activation (only a BN variant can). */
export function bnAfter(spec: Pick<NetSpec, "bn" | "bnPosition">): boolean {
  return spec.bn !== "none" && spec.bnPosition === "after";
}

/**
 * Whether the fused kernel computes blocks of this kind: it has no noise
 * (`noisy`) and no BN after the activation; everything else, any shape it
 * takes (`fusable`), is its.
 */
export function fusedBlocks(spec: Pick<NetSpec, "bn" | "bnPosition">): boolean {
  return spec.bn !== "noisy" && !bnAfter(spec);
}

/** BN's γ at the start: 1 (PyTorch ≥ 1.2, MyBN) or ~ U(0, 1) (PyTorch before 1.2). */
export type BnInit = "ones" | "legacy";

/** Fills `gamma` ~ U(0, 1), as PyTorch's BN layers initialised γ before version 1.2. */
export function legacyGamma(rng: Random, gamma: Float32Array): void {
  for (let i = 0; i < gamma.length; i++) gamma[i] = rng.uniform();
}

/** The notebook's three variants, the experiment's default. */
export const NOTEBOOK_VARIANTS: readonly BnVariant[] = ["mybn", "torch", "none"];

/**
 * The BN semantics of a variant's layers, or null for none: `noisy` is
 * PyTorch's BatchNorm1d followed by a perturbation (see {@link NOISE}).
 */
export function bnSemantics(bn: BnVariant): BnSemantics | null {
  return bn === "none" ? null : bn === "noisy" ? "torch" : bn;
}

/**
 * The `noisy` variant's perturbation (Santurkar et al. 2018, §2.1: BN followed
 * by noise that moves the distribution on purpose): after every BN, in
 * training mode, u ← u·a + b with a ~ U(scaleLo, scaleHi) and
 * b ~ U(−shift, shift), drawn afresh for every step and unit from the seed's
 * own "noise" stream. Eval mode adds no noise.
 */
export const NOISE = { scaleLo: 0.5, scaleHi: 2, shift: 1 } as const;

/** The architecture of a {@link Net}. */
export interface NetSpec {
  /** Input features (1 in the notebook). */
  inputs: number;
  /** Width of every hidden layer. */
  hidden: number;
  /** Number of hidden Linear → BN → activation blocks. */
  layers: number;
  /** Output features (1 in the notebook). */
  outputs: number;
  /** Hidden activation. */
  activation: Activation;
  /** BN variant. */
  bn: BnVariant;
  /** BN epsilon (MyBN: 1e-6, BatchNorm1d: 1e-5). */
  eps: number;
  /** BN momentum, in the variant's own convention (0.5 in the notebook, where both agree). */
  momentum: number;
  /** Where BN sits in each block; "before" when absent (the notebook's order). */
  bnPosition?: BnPosition;
}

/** The widest layer bnlab builds (the train flags and model files are held to it). */
export const MAX_WIDTH = 4096;
/** The most hidden blocks bnlab builds. */
export const MAX_LAYERS = 64;

/** The BN epsilon each variant uses by default. */
export function defaultEps(bn: BnVariant): number {
  return bn === "mybn" ? 1e-6 : 1e-5;
}

/** The notebook's network: 1 → 4 × (10 → BN → tanh) → 1, momentum 0.5. */
export function notebookSpec(bn: BnVariant): NetSpec {
  return {
    inputs: 1,
    hidden: 10,
    layers: 4,
    outputs: 1,
    activation: "tanh",
    bn,
    eps: defaultEps(bn),
    momentum: 0.5,
    bnPosition: "before",
  };
}

const ALIASES: Record<string, string> = {
  gamma: "weight",
  beta: "bias",
  moving_mean: "running_mean",
  moving_var: "running_var",
};

/** Maps MyBN's names (`bn0.gamma`, `bn0.moving_var`) to PyTorch's (`bn0.weight`, `bn0.running_var`). */
export function canonicalName(name: string): string {
  const dot = name.lastIndexOf(".");
  const leaf = name.slice(dot + 1);
  return leaf in ALIASES ? `${name.slice(0, dot)}.${ALIASES[leaf]}` : name;
}

/** The parameters of `spec` in PyTorch's order (the order of `Net.parameters()`). */
export function parameterShapes(spec: NetSpec): [string, number[]][] {
  const out: [string, number[]][] = [];
  for (let l = 0; l < spec.layers; l++) {
    const inF = l === 0 ? spec.inputs : spec.hidden;
    out.push([`fc${l}.weight`, [spec.hidden, inF]], [`fc${l}.bias`, [spec.hidden]]);
    if (spec.bn !== "none") out.push([`bn${l}.weight`, [spec.hidden]], [`bn${l}.bias`, [spec.hidden]]);
  }
  const last = spec.layers === 0 ? spec.inputs : spec.hidden;
  out.push(["predict.weight", [spec.outputs, last]], ["predict.bias", [spec.outputs]]);
  return out;
}

/** The running-statistics buffers of `spec`, in state_dict order. */
export function bufferShapes(spec: NetSpec): [string, number[]][] {
  if (spec.bn === "none") return [];
  const out: [string, number[]][] = [];
  for (let l = 0; l < spec.layers; l++) {
    out.push([`bn${l}.running_mean`, [spec.hidden]], [`bn${l}.running_var`, [spec.hidden]]);
  }
  return out;
}

/** One arena allocation of a network: the name the constructor wires it by, its shape and element type. */
interface Allocation {
  /** e.g. `params`, `z2`, `rstd0`. */
  name: string;
  /** Its shape. */
  shape: number[];
  /** Its element type. */
  dtype: DType;
}

/**
 * Every arena allocation `new Net(spec, maxBatch)` makes, in order: the one
 * description the constructor allocates from and {@link netBytes} counts, so
 * a configuration can be refused before anything is allocated.
 */
function netAllocations(spec: NetSpec, maxBatch: number): Allocation[] {
  const f32 = (name: string, shape: number[]): Allocation => ({ name, shape, dtype: "f32" });
  const layout = parameterShapes(spec);
  const n = total(layout), H = spec.hidden, N = maxBatch, bn = spec.bn !== "none";
  const out = [f32("params", [n]), f32("grads", [n]), f32("adamM", [n]), f32("adamV", [n])];
  out.push(f32("buffers", [total(bufferShapes(spec))]));
  // Activation gradients, block after block in one buffer.
  out.push(f32("actGrads", [N * (spec.layers * (bn ? 3 : 2) * H + spec.outputs)]));
  for (let l = 0; l < spec.layers; l++) {
    out.push(f32(`z${l}`, [N, H]));
    if (bn) out.push(f32(`u${l}`, [N, H]));
    out.push(f32(`h${l}`, [N, H]));
    if (bn) out.push({ name: `mean${l}`, shape: [H], dtype: "f64" }, { name: `rstd${l}`, shape: [H], dtype: "f64" });
  }
  out.push(f32("x", [N, spec.inputs]), f32("target", [N, spec.outputs]), f32("pred", [N, spec.outputs]));
  out.push({ name: "sums", shape: [batchnormSumsLength(H)], dtype: "f64" });
  out.push(f32("weightT", [Math.max(...layout.map(([, shape]) => shape.reduce((a, b) => a * b, 1)))]));
  if (fusable(spec) && fusedBlocks(spec)) {
    out.push(f32("fusedWork", [Math.ceil(fusedWorkBytes(H, spec.layers, N) / 4)]));
  }
  if (spec.bn === "noisy") out.push(f32("noiseScale", [spec.layers, H]), f32("noiseShift", [spec.layers, H]));
  return out;
}

/** The arena bytes `new Net(spec, maxBatch)` allocates: its {@link netAllocations}, each as the arena counts it. */
export function netBytes(spec: NetSpec, maxBatch: number): number {
  return netAllocations(spec, maxBatch).reduce((sum, a) => sum + arena.bytesFor(a.shape, a.dtype), 0);
}

function carve(flat: Tensor, layout: [string, number[]][]): Map<string, Tensor> {
  const named = new Map<string, Tensor>();
  let offset = 0;
  for (const [name, shape] of layout) {
    const t = flat.slice(offset, shape);
    named.set(name, t);
    offset += t.size;
  }
  return named;
}

function total(layout: [string, number[]][]): number {
  return layout.reduce((n, [, shape]) => n + shape.reduce((a, b) => a * b, 1), 0);
}

/** One hidden block's tensors for a batch of N rows. */
interface Block {
  /** Linear output (the BN input, or the activation's where BN comes after it), [N, H]. */
  z: Tensor;
  /** BN output (the activation input, or the block's output where BN comes after it); `z` itself without BN. */
  u: Tensor;
  /** Activation output (the BN input where BN comes after it), [N, H]. */
  h: Tensor;
  dz: Tensor;
  du: Tensor;
  dh: Tensor;
}

/** A Linear layer's tensors, looked up once so a step does no name lookups. */
interface LinearParams {
  weight: Tensor;
  bias: Tensor;
  dweight: Tensor;
  dbias: Tensor;
}

/** One hidden block's parameters, BN state (when it has BN) and BN caches. */
interface BlockParams extends LinearParams {
  bn: {
    semantics: BnSemantics;
    gamma: Tensor;
    beta: Tensor;
    dgamma: Tensor;
    dbeta: Tensor;
    runningMean: Tensor;
    runningVar: Tensor;
    /** f64 batch mean and 1/sqrt(var + eps), cached by the forward for the backward. */
    mean: Tensor;
    rstd: Tensor;
  } | null;
}

/** Views of the activation buffers for one batch size. */
interface Activations {
  x: Tensor;
  target: Tensor;
  blocks: Block[];
  pred: Tensor;
  dpred: Tensor;
}

/**
 * A network as plain data: its description, the Adam steps taken, and every
 * parameter and running statistic under its state_dict name. It is what a
 * model file holds, and what a worker sends back (structured-cloneable).
 */
export interface NetSnapshot {
  /** The architecture. */
  spec: NetSpec;
  /** Adam steps taken. */
  step: number;
  /** Each tensor of the state_dict, in state_dict order: name, shape, values (copied). */
  state: { name: string; shape: number[]; values: Float32Array }[];
}

/** A network with its parameters, gradients, optimizer state and activation buffers. */
export class Net {
  /** The architecture. */
  readonly spec: NetSpec;
  /** The largest batch the activation buffers hold. */
  readonly maxBatch: number;
  /** Every parameter, flat, in {@link parameterShapes} order. */
  readonly params: Tensor;
  /** The gradients, laid out like {@link Net.params}. */
  readonly grads: Tensor;
  /** Adam's first moments, laid out like {@link Net.params}. */
  readonly adamM: Tensor;
  /** Adam's second moments, laid out like {@link Net.params}. */
  readonly adamV: Tensor;
  /** Running statistics, flat, in {@link bufferShapes} order. */
  readonly buffers: Tensor;
  /** Adam steps taken so far (the next step is `step + 1`). */
  step = 0;

  readonly #params: Map<string, Tensor>;
  readonly #grads: Map<string, Tensor>;
  readonly #adamM: Map<string, Tensor>;
  readonly #adamV: Map<string, Tensor>;
  readonly #buffers: Map<string, Tensor>;
  readonly #full: Activations;
  readonly #actGrads: Tensor;
  readonly #views = new Map<number, Activations>();
  readonly #blocks: BlockParams[] = [];
  readonly #predict: LinearParams;
  readonly #sums: Tensor;
  /** Scratch for a transposed weight (linear_forward). */
  readonly #weightT: Tensor;
  /** The fused step's feature-major activations, where the network is narrow enough for it. */
  readonly #fusedWork: Tensor | null;
  /**
   * The `noisy` variant's per-step perturbation, [layers, hidden] each: the
   * training loop draws it before every step (see {@link NOISE}); null for
   * the other variants.
   */
  readonly noise: { scale: Tensor; shift: Tensor } | null;
  /** BN follows the activation in every block (a BN variant with `bnPosition` "after"). */
  readonly #bnAfter: boolean;
  /** Each block's row of {@link Net.noise}, formed once. */
  readonly #noiseRows: { scale: Tensor; shift: Tensor }[] | null;
  /** The network as the fused step reads it (BN null for none), formed once rather than per step. */
  readonly #fusedShape: FusedShape;
  /** Rows of the last fused call, whose activations are in the fused work space; null after a per-layer forward. */
  #fusedRows: number | null = null;

  /** Allocates a network for batches of up to `maxBatch` rows; see {@link Net.reset} for the initial values. */
  constructor(spec: NetSpec, maxBatch: number) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be ≥ 1, got ${maxBatch}`);
    this.spec = spec;
    this.maxBatch = maxBatch;
    const allocated = new Map(netAllocations(spec, maxBatch).map((a) => [a.name, arena.alloc(a.shape, a.dtype)]));
    const take = (name: string) => allocated.get(name)!;
    const layout = parameterShapes(spec);
    this.params = take("params");
    this.grads = take("grads");
    this.adamM = take("adamM");
    this.adamV = take("adamV");
    this.#params = carve(this.params, layout);
    this.#grads = carve(this.grads, layout);
    this.#adamM = carve(this.adamM, layout);
    this.#adamV = carve(this.adamV, layout);
    this.buffers = take("buffers");
    this.#buffers = carve(this.buffers, bufferShapes(spec));

    const H = spec.hidden, N = maxBatch, L = spec.layers;
    const bn = spec.bn !== "none";
    this.#actGrads = take("actGrads");
    let g = 0;
    const gradBlock = (cols: number) => {
      const t = this.#actGrads.slice(g, [N, cols]);
      g += N * cols;
      return t;
    };
    const blocks: Block[] = [];
    for (let l = 0; l < L; l++) {
      const z = take(`z${l}`);
      const u = bn ? take(`u${l}`) : z;
      const dz = gradBlock(H);
      blocks.push({ z, u, h: take(`h${l}`), dz, du: bn ? gradBlock(H) : dz, dh: gradBlock(H) });
      const linear = (name: string): LinearParams => ({
        weight: this.#params.get(`${name}.weight`)!,
        bias: this.#params.get(`${name}.bias`)!,
        dweight: this.#grads.get(`${name}.weight`)!,
        dbias: this.#grads.get(`${name}.bias`)!,
      });
      this.#blocks.push({
        ...linear(`fc${l}`),
        bn: bn
          ? {
            semantics: bnSemantics(spec.bn)!,
            gamma: this.#params.get(`bn${l}.weight`)!,
            beta: this.#params.get(`bn${l}.bias`)!,
            dgamma: this.#grads.get(`bn${l}.weight`)!,
            dbeta: this.#grads.get(`bn${l}.bias`)!,
            runningMean: this.#buffers.get(`bn${l}.running_mean`)!,
            runningVar: this.#buffers.get(`bn${l}.running_var`)!,
            mean: take(`mean${l}`),
            rstd: take(`rstd${l}`),
          }
          : null,
      });
    }
    this.#predict = {
      weight: this.#params.get("predict.weight")!,
      bias: this.#params.get("predict.bias")!,
      dweight: this.#grads.get("predict.weight")!,
      dbias: this.#grads.get("predict.bias")!,
    };
    this.#full = { x: take("x"), target: take("target"), blocks, pred: take("pred"), dpred: gradBlock(spec.outputs) };
    this.#sums = take("sums");
    this.#weightT = take("weightT");
    this.#fusedWork = allocated.get("fusedWork") ?? null;
    this.#fusedShape = { ...spec, bn: bnSemantics(spec.bn) };
    this.#bnAfter = bnAfter(spec);
    const scale = allocated.get("noiseScale"), shift = allocated.get("noiseShift");
    this.noise = scale && shift ? { scale, shift } : null;
    this.#noiseRows = this.noise && Array.from({ length: L }, (_, l) => ({
      scale: scale!.slice(l * H, [H]),
      shift: shift!.slice(l * H, [H]),
    }));
    this.reset();
  }

  /**
   * Sets the state PyTorch's constructors leave before the Linear init: BN
   * weight 1 and bias 0, running mean 0, running variance 1 (`torch`) or 0
   * (`mybn`, whose moving statistics start at zero), zero optimizer state.
   * Linear weights and biases are zero until set or initialised.
   */
  reset(): void {
    this.params.f32.fill(0);
    this.adamM.f32.fill(0);
    this.adamV.f32.fill(0);
    this.step = 0;
    const varInit = bnSemantics(this.spec.bn) === "torch" ? 1 : 0;
    for (const [name, t] of this.#params) if (/^bn\d+\.weight$/.test(name)) t.f32.fill(1);
    for (const [name, t] of this.#buffers) t.f32.fill(name.endsWith("running_var") ? varInit : 0);
  }

  /**
   * PyTorch's `nn.Linear` initialisation for every Linear layer, in order:
   * weight, then bias, each ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5
   * reduces to that bound). BN layers draw nothing, so one `rng` state gives
   * every variant the same Linear weights. With `bnInit` "legacy", each BN's
   * γ is then drawn ~ U(0, 1) from the same stream, after every Linear
   * (PyTorch before 1.2; the notebook's sanity check shows its effect).
   */
  initialize(rng: Random, bnInit: BnInit = "ones"): void {
    for (const name of this.parameterNames) {
      if (name.startsWith("bn")) continue;
      const layer = name.slice(0, name.lastIndexOf("."));
      const fanIn = this.#params.get(`${layer}.weight`)!.shape[1];
      const bound = 1 / Math.sqrt(fanIn);
      const t = this.#params.get(name)!.f32;
      for (let i = 0; i < t.length; i++) t[i] = rng.uniformIn(-bound, bound);
    }
    if (bnInit === "legacy") {
      for (const name of this.parameterNames) if (/^bn\d+\.weight$/.test(name)) legacyGamma(rng, this.param(name).f32);
    }
  }

  /** Parameter names, in optimizer order. */
  get parameterNames(): string[] {
    return [...this.#params.keys()];
  }

  /** Running-statistics names, in state_dict order. */
  get bufferNames(): string[] {
    return [...this.#buffers.keys()];
  }

  /** The parameter called `name` (PyTorch or MyBN naming). */
  param(name: string): Tensor {
    return lookup(this.#params, name, "parameter");
  }

  /** The gradient of parameter `name`. */
  grad(name: string): Tensor {
    return lookup(this.#grads, name, "parameter");
  }

  /** Adam's first moment of parameter `name`. */
  adamMoment1(name: string): Tensor {
    return lookup(this.#adamM, name, "parameter");
  }

  /** Adam's second moment of parameter `name`. */
  adamMoment2(name: string): Tensor {
    return lookup(this.#adamV, name, "parameter");
  }

  /** The running-statistics buffer called `name`. */
  buffer(name: string): Tensor {
    return lookup(this.#buffers, name, "buffer");
  }

  /** Parameters then buffers, under PyTorch's state_dict names. */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.#params, ...this.#buffers]);
  }

  /** A copy of the trained state as plain data (see {@link NetSnapshot}). */
  snapshot(): NetSnapshot {
    const state = [...this.stateDict()].map(([name, t]) => ({ name, shape: [...t.shape], values: t.f32.slice() }));
    return { spec: { ...this.spec }, step: this.step, state };
  }

  /** The input rows of a batch of `n`: write x here before {@link Net.forward}. */
  input(n: number): Tensor {
    return this.#acts(n).x;
  }

  /** The prediction rows of a batch of `n`, as the last {@link Net.forward} left them. */
  prediction(n: number): Tensor {
    return this.#acts(n).pred;
  }

  /** The target rows of a batch of `n`: write y here before {@link Net.trainStep} or {@link Net.loss}. */
  target(n: number): Tensor {
    return this.#acts(n).target;
  }

  /**
   * Hidden layer `l`'s activation input (the BN output, or the Linear output
   * without BN) and its output, for the first `n` rows, as the last
   * {@link Net.forward} left them.
   */
  layerOutputs(n: number, l: number): { preActivation: Tensor; activation: Tensor } {
    if (!Number.isInteger(l) || l < 0 || l >= this.spec.layers) {
      throw new RangeError(`layer ${l}: this network has hidden layers 0 to ${this.spec.layers - 1}`);
    }
    const b = this.#acts(n).blocks[l];
    if (this.#fusedRows === n && this.#fusedWork !== null) {
      // The fused kernels keep them feature-major: transpose into the row-major views.
      const { u, h } = fusedActivations(this.#fusedWork, this.#fusedShape, n, l);
      transpose(b.u, u, n);
      transpose(b.h, h, n);
    }
    return { preActivation: this.#bnAfter ? b.z : b.u, activation: b.h };
  }

  /**
   * A copy of every hidden layer's activation input and output (as
   * {@link Net.layerOutputs} gives them) for the first `n` rows, to count
   * later with {@link layerHistograms}: where the fused kernels left them, one
   * copy of the work space's span that holds them all.
   */
  layerValues(n: number): LayerValues {
    if (this.#fusedRows === n && this.#fusedWork !== null) {
      const { u, h } = fusedActivationBlocks(this.#fusedShape, n);
      const start = Math.min(u.first, h.first);
      const end = Math.max(u.first, h.first) + (u.blocks - 1) * u.blockStride + (u.rows - 1) * u.rowStride + u.cols;
      return {
        values: this.#fusedWork.f32.slice(start, end),
        pre: { ...u, first: u.first - start },
        post: { ...h, first: h.first - start },
      };
    }
    const L = this.spec.layers, size = n * this.spec.hidden;
    const values = new Float32Array(2 * L * size);
    for (let l = 0; l < L; l++) {
      const { preActivation, activation } = this.layerOutputs(n, l);
      values.set(preActivation.f32, l * size);
      values.set(activation.f32, (L + l) * size);
    }
    const at = (first: number): Blocks => ({ first, blocks: L, blockStride: size, rows: 1, rowStride: 0, cols: size });
    return { values, pre: at(0), post: at(L * size) };
  }

  /** {@link layerHistograms} of {@link Net.layerValues}: every hidden layer's values for the first `n` rows, counted now. */
  layerHistograms(n: number, pre: Bins, post: Bins): { pre: number[][]; post: number[][] } {
    return layerHistograms(this.layerValues(n), pre, post);
  }

  /**
   * Runs the first `n` input rows through the network, in training mode (batch
   * statistics; running statistics updated) or eval mode (running statistics).
   * Returns the prediction view [n, outputs].
   */
  forward(n: number, train: boolean): Tensor {
    const a = this.#acts(n);
    this.#fusedRows = null;
    const { spec } = this;
    let input = a.x;
    for (let l = 0; l < spec.layers; l++) {
      const b = a.blocks[l], p = this.#blocks[l];
      linear_forward(b.z, input, p.weight, p.bias, this.#weightT);
      if (this.#bnAfter) {
        activation_forward(spec.activation, b.h, b.z);
        this.#bnForward(l, b.u, b.h, train);
      } else {
        this.#bnForward(l, b.u, b.z, train);
        activation_forward(spec.activation, b.h, b.u);
      }
      input = this.#blockOutput(b);
    }
    linear_forward(a.pred, input, this.#predict.weight, this.#predict.bias, this.#weightT);
    return a.pred;
  }

  /** Block `l`'s BN of x into y (training or eval mode), the noisy variant's perturbation after it; nothing without BN. */
  #bnForward(l: number, y: Tensor, x: Tensor, train: boolean): void {
    const bn = this.#blocks[l].bn, { spec } = this;
    if (bn === null) return;
    if (!train) return batchnorm_eval_forward(y, x, bn.gamma, bn.beta, bn.runningMean, bn.runningVar, spec.eps);
    batchnorm_forward(
      y,
      bn.mean,
      bn.rstd,
      bn.runningMean,
      bn.runningVar,
      x,
      bn.gamma,
      bn.beta,
      spec.eps,
      spec.momentum,
      bn.semantics,
    );
    const noise = this.#noiseRows?.[l];
    if (noise) noise_forward(y, y, noise.scale, noise.shift);
  }

  /** Block `l`'s BN backward: dy (the gradient of its output, noise scaled back first, in place) into dx. */
  #bnBackward(l: number, dx: Tensor, dy: Tensor, x: Tensor): void {
    const bn = this.#blocks[l].bn!;
    const noise = this.#noiseRows?.[l];
    if (noise) noise_backward(dy, dy, noise.scale);
    batchnorm_backward(dx, bn.dgamma, bn.dbeta, this.#sums, dy, x, bn.gamma, bn.mean, bn.rstd);
  }

  /** What a block passes on: the activation's output, or BN's where BN follows the activation. */
  #blockOutput(b: Block): Tensor {
    return this.#bnAfter ? b.u : b.h;
  }

  /** The gradient buffer of {@link Net.#blockOutput}. */
  #blockOutputGrad(b: Block): Tensor {
    return this.#bnAfter ? b.du : b.dh;
  }

  /**
   * Accumulates every parameter's gradient from the gradient already in the
   * prediction's gradient buffer (see {@link Net.trainStep}), after a
   * training-mode {@link Net.forward} of the same `n` rows.
   */
  backward(n: number): void {
    const a = this.#acts(n);
    const { spec } = this;
    const L = spec.layers;
    const last = L === 0 ? a.x : this.#blockOutput(a.blocks[L - 1]);
    const out = this.#predict;
    const dLast = L === 0 ? null : this.#blockOutputGrad(a.blocks[L - 1]);
    linear_backward(dLast, out.dweight, out.dbias, a.dpred, last, out.weight);
    for (let l = L - 1; l >= 0; l--) {
      const b = a.blocks[l], p = this.#blocks[l];
      if (this.#bnAfter) {
        this.#bnBackward(l, b.dh, b.du, b.h);
        activation_backward(spec.activation, b.dz, b.dh, b.h);
      } else {
        // Without BN, du is dz itself.
        activation_backward(spec.activation, b.du, b.dh, b.h);
        if (p.bn !== null) this.#bnBackward(l, b.dz, b.du, b.z);
      }
      const input = l === 0 ? a.x : this.#blockOutput(a.blocks[l - 1]);
      const dInput = l === 0 ? null : this.#blockOutputGrad(a.blocks[l - 1]);
      linear_backward(dInput, p.dweight, p.dbias, b.dz, input, p.weight);
    }
  }

  /** Zeroes the parameter gradients (the backward writes every activation gradient afresh). */
  zeroGrad(): void {
    this.grads.f32.fill(0);
  }

  /**
   * Forward (training mode), MSE loss, backward: leaves the gradients of the
   * first `n` rows of input/target in {@link Net.grads} and returns the loss.
   */
  lossAndGrad(n: number): number {
    this.zeroGrad();
    const pred = this.forward(n, true);
    const target = this.#acts(n).target;
    const loss = mse_forward(pred, target);
    mse_backward(this.#acts(n).dpred, pred, target);
    this.backward(n);
    return loss;
  }

  /** One Adam step with the gradients in {@link Net.grads}. */
  optimizerStep(opts: AdamOptions): void {
    this.step += 1;
    adam_update(this.params, this.grads, this.adamM, this.adamV, null, opts, this.step);
  }

  /**
   * One training step in one kernel call (src/kernels/fused.ts) on rows
   * `order[from … from+n)` of the sample columns `xs`, `ys`: the gradients,
   * running statistics, Adam state and parameters end as {@link Net.trainStep}
   * leaves them, to rounding (the products sum in another order). Only for a
   * network {@link fusable} says it can take. Returns the loss before the update.
   */
  fusedTrainStep(xs: Tensor, ys: Tensor, order: Tensor, from: number, n: number, opts: AdamOptions): number {
    if (this.#fusedWork === null) throw new RangeError("the fused step takes 1 → 1 networks of width 1…64 only");
    this.#checkRows(n);
    this.step += 1;
    this.#fusedRows = n;
    return fused_train_step(this, this.#fusedWork, xs, ys, order, from, n, this.#fusedShape, opts, this.step);
  }

  /**
   * Steps `first … first+count)` of an epoch in one kernel call
   * (src/kernels/fused.ts `fused_train_steps`), each exactly
   * {@link Net.fusedTrainStep} on the next `sizes[s]` rows of `order` from row
   * `from` on, checked after each step as the training loop checks one; the
   * losses (and the norms of `record.segments`) go into `record`. Returns
   * the steps completed and what stopped the call early (null: nothing); the
   * stopping step ran, so {@link Net.step} counts it.
   */
  fusedTrainSteps(
    data: { xs: Tensor; ys: Tensor; order: Tensor; sizes: Tensor },
    first: number,
    count: number,
    from: number,
    opts: AdamOptions,
    record: StepsRecord,
  ): { done: number; stop: StepsStop | null } {
    if (this.#fusedWork === null) throw new RangeError("the fused step takes 1 → 1 networks of width 1…64 only");
    const sizes = data.sizes.u32;
    for (let s = first; s < first + count; s++) this.#checkRows(sizes[s]);
    const ran = fused_train_steps(
      this,
      this.#fusedWork,
      data,
      first,
      count,
      from,
      this.#fusedShape,
      opts,
      this.step + 1,
      record,
    );
    const steps = ran.done + (ran.stop === null ? 0 : 1);
    this.step += steps;
    this.#fusedRows = data.sizes.u32[first + steps - 1];
    return ran;
  }

  /**
   * {@link Net.loss} in one kernel call (src/kernels/fused.ts) of the samples
   * `x`, `y` ([n, 1] each, anywhere in the arena: the kernel reads them where
   * they are, so an eval set needs no copy into {@link Net.input}): the
   * eval-mode MSE, the predictions left in {@link Net.prediction} and the
   * activations for {@link Net.layerOutputs}. Equal to {@link Net.loss} of
   * the same rows to rounding. Only for a network {@link fusable} says it can
   * take.
   */
  fusedLoss(x: Tensor, y: Tensor): number {
    if (this.#fusedWork === null) throw new RangeError("the fused eval takes 1 → 1 networks of width 1…64 only");
    const n = x.size;
    this.#checkRows(n);
    this.#fusedRows = n;
    return fused_eval(this, this.#fusedWork, x, y, this.#full.pred.view([n, 1]), this.#fusedShape);
  }

  /** The predictions of the last {@link Net.fusedTrainStep} on `n` rows (training mode), [n, 1]. */
  fusedPrediction(n: number): Tensor {
    if (this.#fusedWork === null) throw new RangeError("this network has no fused step");
    return this.#fusedWork.slice(2 * ((n + 3) & ~3), [n, 1]);
  }

  /** {@link Net.lossAndGrad} then {@link Net.optimizerStep}; returns the loss before the update. */
  trainStep(n: number, opts: AdamOptions): number {
    const loss = this.lossAndGrad(n);
    this.optimizerStep(opts);
    return loss;
  }

  /** The eval-mode MSE of the first `n` rows of input/target. */
  loss(n: number): number {
    return mse_forward(this.forward(n, false), this.#acts(n).target);
  }

  /** Throws unless `n` rows fit the network's activations. */
  #checkRows(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > this.maxBatch) {
      throw new RangeError(`batch of ${n} rows: this network holds 1 to ${this.maxBatch}`);
    }
  }

  /**
   * The views of the first `n` rows of every activation, made on first use
   * (27 tensors for the notebook's network: the fused path, which keeps its
   * own work space, makes none).
   */
  #acts(n: number): Activations {
    this.#checkRows(n);
    let a = this.#views.get(n);
    if (a) return a;
    const f = this.#full;
    const rows = (t: Tensor) => t.view([n, t.shape[1]]);
    a = {
      x: rows(f.x),
      target: rows(f.target),
      pred: rows(f.pred),
      dpred: rows(f.dpred),
      blocks: f.blocks.map((b) => ({
        z: rows(b.z),
        u: rows(b.u),
        h: rows(b.h),
        dz: rows(b.dz),
        du: rows(b.du),
        dh: rows(b.dh),
      })),
    };
    this.#views.set(n, a);
    return a;
  }
}

/** Every hidden layer's activation input (`pre`) and output (`post`) values, copied out of the arena ({@link Net.layerValues}). */
export interface LayerValues {
  /** The values, laid out as `pre` and `post` say. */
  values: Float32Array;
  /** Where each layer's activation inputs are: a block per layer. */
  pre: Blocks;
  /** Where each layer's activation outputs are: a block per layer. */
  post: Blocks;
}

/**
 * The histogram (data.ts `histogram`) of each layer's activation inputs and outputs in `v`
 * ({@link Net.layerValues}), every layer in one kernel call per kind.
 */
export function layerHistograms(v: LayerValues, pre: Bins, post: Bins): { pre: number[][]; post: number[][] } {
  const mark = arena.mark();
  try {
    const t = arena.f32([v.values.length]).set(v.values);
    return { pre: histogram_blocks(t, v.pre, pre), post: histogram_blocks(t, v.post, post) };
  } finally {
    arena.release(mark);
  }
}

function lookup(map: Map<string, Tensor>, name: string, what: string): Tensor {
  const t = map.get(canonicalName(name));
  if (!t) throw new RangeError(`no ${what} called ${name}; have ${[...map.keys()].join(", ")}`);
  return t;
}
