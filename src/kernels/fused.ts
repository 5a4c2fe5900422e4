/**
 * Typed wrapper of `kernels/fused.ts`: a whole training step of a narrow
 * network (gather, forward, MSE, backward, Adam) in one kernel call, on the
 * network's own flat buffers, with feature-major activations in `work`.
 *
 * @example
 * ```ts
 * import { fusable, fused_train_step } from "./fused.ts";
 * // net.fusedTrainStep(...) calls fused_train_step with the Net's buffers; see src/net/model.ts
 * // net.fusedLoss(n) calls fused_eval: the eval-mode forward and the MSE in one call
 * fusable({ inputs: 1, outputs: 1, hidden: 10, layers: 4 }); // true
 * ```
 * @module
 */
import * as k from "bnlab-kernels/fused.wasm";
import type { Activation } from "./activations.ts";
import type { AdamOptions } from "./adam.ts";
import type { Tensor } from "./arena.ts";
import type { BnSemantics } from "./batchnorm.ts";

/**
 * The widest network the fused step takes. Measured (bench:train): at width
 * 32 it is still 3× faster than the per-layer kernels, at 64 about even; from
 * there the blocked products of the per-layer path win.
 */
export const FUSED_MAX_WIDTH = 64;

/** Whether the fused step can train a network of this shape: one input, one output, 1 to {@link FUSED_MAX_WIDTH} wide. */
export function fusable(spec: { inputs: number; outputs: number; hidden: number; layers: number }): boolean {
  return spec.inputs === 1 && spec.outputs === 1 && spec.hidden <= FUSED_MAX_WIDTH && spec.layers >= 1;
}

/** Bytes of work space for `layers` blocks of width `hidden` and batches of up to `batch` rows. */
export function fusedWorkBytes(hidden: number, layers: number, batch: number): number {
  return k.fused_work_bytes(hidden, layers, batch);
}

const ACTIVATION: Record<Activation, number> = { tanh: k.ACT_TANH, sigmoid: k.ACT_SIGMOID, relu: k.ACT_RELU };
const SEMANTICS: Record<BnSemantics, number> = { torch: k.BN_TORCH, mybn: k.BN_MYBN };

/** The network a fused step trains: its width, depth, activation and BN (null: none). */
export interface FusedShape {
  /** Width of every hidden layer. */
  hidden: number;
  /** Hidden blocks. */
  layers: number;
  /** Hidden activation. */
  activation: Activation;
  /** BN semantics, or null for no BN. */
  bn: BnSemantics | null;
  /** BN epsilon. */
  eps: number;
  /** BN momentum. */
  momentum: number;
}

/**
 * One training step on rows `order[from … from+batch)` of the samples `xs`,
 * `ys` ([rows, 1] each): the gradients are written into `grads`, the running
 * statistics and Adam's state updated, Adam step `t` applied to `params`.
 * Returns the loss before the update.
 */
export function fused_train_step(
  net: { params: Tensor; grads: Tensor; adamM: Tensor; adamV: Tensor; buffers: Tensor },
  work: Tensor,
  xs: Tensor,
  ys: Tensor,
  order: Tensor,
  from: number,
  batch: number,
  shape: FusedShape,
  adam: AdamOptions,
  t: number,
): number {
  if (batch < 2 && shape.bn !== null) throw new RangeError("BN needs at least 2 rows per batch in training");
  if (order.dtype !== "u32" || from < 0 || from + batch > order.size) {
    throw new RangeError(`fused_train_step: rows ${from}..${from + batch} of a ${order.size}-entry index`);
  }
  if (work.data.byteLength < fusedWorkBytes(shape.hidden, shape.layers, batch)) {
    throw new RangeError(`fused_train_step: work space too small for a batch of ${batch}`);
  }
  if (adam.weight_decay !== 0 || adam.amsgrad) throw new RangeError("fused_train_step: plain Adam only");
  const { params, grads, adamM, adamV, buffers } = net;
  const bn = shape.bn === null ? k.BN_NONE : SEMANTICS[shape.bn];
  const [b1, b2] = adam.betas;
  return k.fused_train_step(
    params.ptr,
    grads.ptr,
    adamM.ptr,
    adamV.ptr,
    buffers.ptr,
    work.ptr,
    xs.ptr,
    ys.ptr,
    order.ptr,
    from,
    batch,
    shape.hidden,
    shape.layers,
    ACTIVATION[shape.activation],
    bn,
    shape.eps,
    shape.momentum,
    adam.lr,
    b1,
    b2,
    adam.eps,
    t,
    params.size,
  );
}

/**
 * The eval-mode forward of `n` rows `x`, `y` ([n, 1] each) with the running
 * statistics, in one call: the predictions into `pred` ([n, 1]), each block's
 * activations left in `work` (see {@link fusedActivations}). Returns the MSE.
 */
export function fused_eval(
  net: { params: Tensor; buffers: Tensor },
  work: Tensor,
  x: Tensor,
  y: Tensor,
  pred: Tensor,
  shape: FusedShape,
): number {
  const n = x.size;
  if (y.size !== n || pred.size !== n || n < 1) {
    throw new RangeError(`fused_eval: ${n} inputs, ${y.size} targets and ${pred.size} predictions`);
  }
  if (work.data.byteLength < fusedWorkBytes(shape.hidden, shape.layers, n)) {
    throw new RangeError(`fused_eval: work space too small for ${n} rows`);
  }
  const bn = shape.bn === null ? k.BN_NONE : SEMANTICS[shape.bn];
  return k.fused_eval(
    net.params.ptr,
    net.buffers.ptr,
    work.ptr,
    x.ptr,
    y.ptr,
    pred.ptr,
    n,
    shape.hidden,
    shape.layers,
    ACTIVATION[shape.activation],
    bn,
    shape.eps,
  );
}

/**
 * Block `layer`'s activation input u (the BN output, or the Linear output z
 * without BN) and output h as the last fused call on `n` rows left them in
 * `work`: feature-major views [hidden, stride], each feature's `n` values
 * first, then padding up to the stride (a whole number of vectors).
 */
export function fusedActivations(
  work: Tensor,
  shape: Pick<FusedShape, "hidden" | "bn">,
  n: number,
  layer: number,
): { u: Tensor; h: Tensor; stride: number } {
  const stride = (n + 3) & ~3, H = shape.hidden;
  const at = (which: number) => work.slice(k.fused_activation_offset(H, n, layer, which) / 4, [H, stride]);
  return { u: at(shape.bn === null ? 0 : 1), h: at(2), stride };
}
