/**
 * Typed wrapper of `kernels/fused.ts`: a whole training step of a narrow
 * network (gather, forward, MSE, backward, Adam) in one kernel call, on the
 * network's own flat buffers, with feature-major activations in `work`.
 *
 * @example
 * ```ts
 * import { fusable, fused_train_step } from "./fused.ts";
 * // net.fusedTrainStep(...) calls fused_train_step with the Net's buffers; see src/net/model.ts
 * // net.fusedLoss(x, y) calls fused_eval: the eval-mode forward and the MSE in one call
 * fusable({ inputs: 1, outputs: 1, hidden: 10, layers: 4 }); // true
 * ```
 * @module
 */
import * as k from "bnlab-kernels/fused.wasm";
import type { Activation } from "./activations.ts";
import type { AdamOptions } from "./adam.ts";
import type { Tensor } from "./arena.ts";
import type { BnSemantics } from "./batchnorm.ts";
import type { Blocks } from "./data.ts";

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

/** The buffers a training step reads and writes: the network's own (src/net/model.ts). */
type TrainingNet = { params: Tensor; grads: Tensor; adamM: Tensor; adamV: Tensor; buffers: Tensor };

/**
 * Refuses what the fused step cannot train: a batch of one row with BN, rows
 * `from … from+rows)` outside `order`, a batch wider than `work` holds, Adam
 * with weight decay or amsgrad.
 */
function checkTraining(
  what: string,
  work: Tensor,
  order: Tensor,
  batches: { from: number; rows: number; smallest: number; widest: number },
  shape: FusedShape,
  adam: AdamOptions,
): void {
  const { from, rows, smallest, widest } = batches;
  if (smallest < 2 && shape.bn !== null) throw new RangeError("BN needs at least 2 rows per batch in training");
  if (order.dtype !== "u32" || from < 0 || from + rows > order.size) {
    throw new RangeError(`${what}: rows ${from}..${from + rows} of a ${order.size}-entry index`);
  }
  if (work.data.byteLength < fusedWorkBytes(shape.hidden, shape.layers, widest)) {
    throw new RangeError(`${what}: work space too small for a batch of ${widest}`);
  }
  if (adam.weight_decay !== 0 || adam.amsgrad) throw new RangeError(`${what}: plain Adam only`);
}

/**
 * One training step on rows `order[from … from+batch)` of the samples `xs`,
 * `ys` ([rows, 1] each): the gradients are written into `grads`, the running
 * statistics and Adam's state updated, Adam step `t` applied to `params`.
 * Returns the loss before the update.
 */
export function fused_train_step(
  net: TrainingNet,
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
  const batches = { from, rows: batch, smallest: batch, widest: batch };
  checkTraining("fused_train_step", work, order, batches, shape, adam);
  const { params, grads, adamM, adamV, buffers } = net;
  const bn = shape.bn === null ? k.BN_NONE : SEMANTICS[shape.bn];
  const [b1, b2] = adam.betas;
  // Spelt out, as in fused_train_steps: spreading shared argument lists into
  // the call measured 1 µs slower a step (V8 calls wasm through its generic
  // path then), 5 % of the notebook's step.
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

/** The check that stopped {@link fused_train_steps} early, by the training loop's names for them. */
export type StepsStop = "non-finite loss" | "non-finite gradient" | "non-finite parameter";

// Number(): deno bundle's wasm imports (the web page) give the exported
// constants as WebAssembly.Global objects, which only convert to numbers; as
// object keys they would all read "[object WebAssembly.Global]".
const STOPS = new Map<number, StepsStop | null>([
  [Number(k.STEPS_DONE), null],
  [Number(k.STEPS_NONFINITE_LOSS), "non-finite loss"],
  [Number(k.STEPS_NONFINITE_GRADIENT), "non-finite gradient"],
  [Number(k.STEPS_NONFINITE_PARAMETER), "non-finite parameter"],
]);

/** Where {@link fused_train_steps} writes what each step measured. */
export interface StepsRecord {
  /** f64 [≥ count]: each step's loss before its update. */
  losses: Tensor;
  /** u32 [k, 2]: the gradient segments to take norms of (offset and length in floats, into grads), or null. */
  segments: Tensor | null;
  /** f64 [≥ count, k]: ‖g‖₂ of each segment after each step (when there are segments). */
  norms: Tensor | null;
}

/**
 * `count` consecutive training steps in one call, each exactly
 * {@link fused_train_step}: step s takes the next `sizes[first + s]` rows of
 * `order` (from row `from` on) at Adam step `t + s`. After each step the
 * loss, then the gradients, then (after the gradient norms are recorded) the
 * parameters are checked for non-finite values, as the training loop checks
 * them; the first failure stops the call. Returns the steps completed and
 * what stopped it (null: nothing): the stopping step did run, and wrote its
 * loss and norms as far as the check before it.
 */
export function fused_train_steps(
  net: TrainingNet,
  work: Tensor,
  data: { xs: Tensor; ys: Tensor; order: Tensor; sizes: Tensor },
  first: number,
  count: number,
  from: number,
  shape: FusedShape,
  adam: AdamOptions,
  t: number,
  record: StepsRecord,
): { done: number; stop: StepsStop | null } {
  const { sizes } = data;
  if (sizes.dtype !== "u32" || first < 0 || count < 1 || first + count > sizes.size) {
    throw new RangeError(`fused_train_steps: steps ${first}..${first + count} of ${sizes.size} batch sizes`);
  }
  const batches = { from, rows: 0, smallest: Infinity, widest: 0 };
  for (let s = first, u = sizes.u32; s < first + count; s++) {
    batches.rows += u[s];
    batches.smallest = Math.min(batches.smallest, u[s]);
    batches.widest = Math.max(batches.widest, u[s]);
  }
  checkTraining("fused_train_steps", work, data.order, batches, shape, adam);
  const { losses, segments, norms } = record;
  const nSegments = segments === null ? 0 : segments.shape[0];
  if (losses.dtype !== "f64" || losses.size < count) throw new RangeError("fused_train_steps: losses too small");
  if (
    nSegments > 0 && (segments!.dtype !== "u32" || norms === null || norms.dtype !== "f64" ||
      norms.size < count * nSegments)
  ) {
    throw new RangeError("fused_train_steps: norms too small for the segments");
  }
  for (let j = 0; j < nSegments; j++) {
    const offset = segments!.u32[2 * j], length = segments!.u32[2 * j + 1];
    if (offset + length > net.grads.size) {
      throw new RangeError(`fused_train_steps: segment ${j} is outside the gradients`);
    }
  }
  const { params, grads, adamM, adamV, buffers } = net;
  const bn = shape.bn === null ? k.BN_NONE : SEMANTICS[shape.bn];
  const [b1, b2] = adam.betas;
  const result = k.fused_train_steps(
    params.ptr,
    grads.ptr,
    adamM.ptr,
    adamV.ptr,
    buffers.ptr,
    work.ptr,
    data.xs.ptr,
    data.ys.ptr,
    data.order.ptr,
    sizes.ptr + 4 * first,
    count,
    from,
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
    losses.ptr,
    segments?.ptr ?? 0,
    nSegments,
    norms?.ptr ?? 0,
  );
  return { done: result >>> 2, stop: STOPS.get(result & 3)! };
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
  shape: Pick<FusedShape, "hidden" | "layers" | "bn">,
  n: number,
  layer: number,
): { u: Tensor; h: Tensor; stride: number } {
  const { u, h } = fusedActivationBlocks(shape, n);
  const at = (b: Blocks) => work.slice(b.first + layer * b.blockStride, [b.rows, b.rowStride]);
  return { u: at(u), h: at(h), stride: u.rowStride };
}

/**
 * Where {@link fusedActivations} finds every block's u and h at once, as
 * {@link Blocks} of `work` (data.ts histogram_blocks): a block per layer, a
 * row per feature, its first `n` values.
 */
export function fusedActivationBlocks(
  shape: Pick<FusedShape, "hidden" | "layers" | "bn">,
  n: number,
): { u: Blocks; h: Blocks } {
  const stride = (n + 3) & ~3, H = shape.hidden;
  const at = (which: number): Blocks => ({
    first: k.fused_activation_offset(H, n, 0, which) / 4,
    blocks: shape.layers,
    blockStride: 3 * H * stride,
    rows: H,
    rowStride: stride,
    cols: n,
  });
  return { u: at(shape.bn === null ? 0 : 1), h: at(2) };
}
