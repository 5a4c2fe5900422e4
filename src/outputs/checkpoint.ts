/**
 * A trained network as a safetensors file that PyTorch loads into the
 * notebook's `Net`: float32 weights and running statistics under the
 * notebook's state_dict names (`fc0.weight` … `predict.bias`, `bnK.weight`,
 * `bnK.bias`, `bnK.running_mean`, `bnK.running_var`, and for the torch variant
 * `bnK.num_batches_tracked` as int64), with the architecture and the training
 * configuration in `__metadata__`, so the file alone rebuilds the network.
 *
 * @example
 * ```ts
 * import { decodeModel, encodeModel } from "./checkpoint.ts";
 * import { Net, notebookSpec } from "../net/model.ts";
 * const bytes = encodeModel(new Net(notebookSpec("torch"), 1), { lr: 0.02 });
 * const { net } = decodeModel(bytes, 2); // the same weights, for batches of up to 2 rows
 * ```
 * @module
 */
import { type Activation, ACTIVATIONS } from "../kernels/activations.ts";
import { arena } from "../kernels/arena.ts";
import { MAX_PAGES, PAGE_BYTES } from "../kernels/pages.ts";
import {
  BN_POSITIONS,
  BN_VARIANTS,
  type BnPosition,
  bnSemantics,
  type BnVariant,
  bufferShapes,
  MAX_LAYERS,
  MAX_WIDTH,
  Net,
  netBytes,
  type NetSnapshot,
  type NetSpec,
  parameterShapes,
} from "../net/model.ts";
import { decimalNumber, formatBytes } from "./numbers.ts";
import {
  decodeSafetensors,
  type Dtype,
  dtypeOf,
  encodeSafetensors,
  type SafeTensor,
  SafetensorsError,
} from "./safetensors.ts";

/** `__metadata__.format` of a bnlab model file. */
export const MODEL_FORMAT = "bnlab-notebook-net/1";

/**
 * The file's bytes: every parameter and running statistic of `net` in
 * state_dict order, and in `__metadata__` the architecture, the number of
 * training steps taken and `config` (each value as a string, as the format
 * requires).
 */
export function encodeModel(model: Net | NetSnapshot, config: Record<string, string | number | boolean>): Uint8Array {
  const net = model instanceof Net ? model.snapshot() : model;
  const { spec } = net;
  const state = new Map(net.state.map((t) => [t.name, t]));
  const tensors: SafeTensor[] = [];
  for (const [name] of stateDictOrder(spec)) {
    if (name.endsWith(".num_batches_tracked")) {
      // PyTorch counts the training-mode forwards of each BN: one per step.
      tensors.push({ name, shape: [], data: new BigInt64Array([BigInt(net.step)]) });
    } else {
      const t = state.get(name)!;
      tensors.push({ name, shape: t.shape, data: t.values });
    }
  }
  const metadata: Record<string, string> = {
    format: MODEL_FORMAT,
    variant: spec.bn,
    inputs: String(spec.inputs),
    hidden: String(spec.hidden),
    layers: String(spec.layers),
    outputs: String(spec.outputs),
    activation: spec.activation,
    eps: String(spec.eps),
    momentum: String(spec.momentum),
    bn_position: spec.bnPosition ?? "before",
    steps: String(net.step),
  };
  for (const [k, v] of Object.entries(config)) if (!(k in metadata)) metadata[k] = String(v);
  return encodeSafetensors(tensors, metadata);
}

/**
 * Header bytes a model file may have. A bnlab header names at most
 * 7·{@link MAX_LAYERS} + 2 tensors in about 100 bytes each, plus a short
 * metadata map: some 50 KB at the largest; anything far beyond is not ours.
 */
export const MAX_MODEL_HEADER = 1 << 20;

/** A tensor as a header describes it: no data needed. */
type TensorInfo = { name: string; shape: readonly number[]; dtype: Dtype };

/**
 * The network a model file describes, from its header alone: the metadata
 * must name a bnlab network within bnlab's bounds, and the tensors must be
 * exactly that network's state_dict (every name present with its shape and
 * dtype, nothing else). A reader checks this before reading any tensor data
 * or allocating any network, so a file that lies costs nothing.
 */
export function modelSpec(metadata: Record<string, string>, tensors: readonly TensorInfo[]): NetSpec {
  if (metadata.format !== MODEL_FORMAT) {
    throw new SafetensorsError(
      `__metadata__.format is ${JSON.stringify(metadata.format ?? null)}, not ${MODEL_FORMAT}: not a bnlab model file`,
    );
  }
  const spec = specFromMetadata(metadata);
  const expected = new Map(stateDictOrder(spec));
  const extra = tensors.filter((t) => !expected.has(t.name)).map((t) => t.name);
  if (extra.length > 0) throw new SafetensorsError(`unexpected tensors for this network: ${extra.join(", ")}`);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const [name, shape] of expected) {
    const t = byName.get(name);
    if (!t) throw new SafetensorsError(`the file has no tensor ${name}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SafetensorsError(`${name} has shape [${t.shape}], the network needs [${shape}]`);
    }
    const dtype = name.endsWith(".num_batches_tracked") ? "I64" : "F32";
    if (t.dtype !== dtype) throw new SafetensorsError(`${name} is ${t.dtype}, not ${dtype}`);
  }
  return spec;
}

/**
 * Rebuilds the network a file made by {@link encodeModel} describes, in the
 * shared arena, for batches of up to `maxBatch` rows; throws
 * {@link SafetensorsError} naming what is missing or wrong. Every value is
 * checked before the network is allocated: weights and statistics finite,
 * running variances not negative (eval divides by √(var + eps)).
 */
export function decodeModel(bytes: Uint8Array, maxBatch: number): { net: Net; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(bytes, MAX_MODEL_HEADER);
  const spec = modelSpec(metadata, [...tensors.values()].map((t) => ({ ...t, dtype: dtypeOf(t.data) })));
  for (const { name, data } of tensors.values()) {
    const bad = data instanceof Float32Array ? badValue(name, data) : badCount(name, data);
    if (bad) throw new SafetensorsError(bad);
  }
  const steps = metadata.steps === undefined ? 0 : Number(metadata.steps);
  if (!Number.isSafeInteger(steps) || steps < 0) {
    throw new SafetensorsError(`__metadata__.steps must be a whole number ≥ 0, got ${JSON.stringify(metadata.steps)}`);
  }
  checkNetFits(spec, maxBatch);
  const net = new Net(spec, maxBatch);
  const state = net.stateDict();
  for (const [name, t] of tensors) if (t.data instanceof Float32Array) state.get(name)!.set(t.data);
  net.step = steps;
  return { net, metadata };
}

/** Refuses, before anything is allocated, a network whose arena would not fit in a wasm32 memory. */
export function checkNetFits(spec: NetSpec, maxBatch: number): void {
  const need = netBytes(spec, maxBatch);
  if (arena.used + need > MAX_PAGES * PAGE_BYTES) {
    throw new SafetensorsError(
      `this ${spec.layers}×${spec.hidden} network needs ${formatBytes(need)}; WebAssembly memory holds at most 4 GiB`,
    );
  }
}

/** Why a float tensor cannot be used, naming its first bad element; null when every value is usable. */
function badValue(name: string, data: Float32Array): string | null {
  const variance = name.endsWith(".running_var");
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) return `${name}[${i}] is ${v}: the file's values must be finite`;
    if (variance && v < 0) return `${name}[${i}] is ${v}: a variance cannot be negative`;
  }
  return null;
}

/** Why a count (`num_batches_tracked`) is not one; null when it is. */
function badCount(name: string, data: BigInt64Array): string | null {
  return data.some((v) => v < 0n) ? `${name} is negative: it counts training steps` : null;
}

/** The state_dict of `spec` in PyTorch's order: each module's parameters, then its buffers. */
function stateDictOrder(spec: NetSpec): [string, number[]][] {
  const all = [...parameterShapes(spec), ...bufferShapes(spec)];
  if (bnSemantics(spec.bn) === "torch") {
    for (let l = 0; l < spec.layers; l++) all.push([`bn${l}.num_batches_tracked`, []]);
  }
  const module = (name: string) => name.slice(0, name.lastIndexOf("."));
  const rank = (name: string) => {
    const m = module(name);
    return m === "predict" ? [1e9, 0] : [Number(m.slice(2)), m.startsWith("fc") ? 0 : 1];
  };
  // A stable sort by (layer, fc before bn) keeps parameters before buffers within a module.
  return all.sort((a, b) => {
    const [la, ka] = rank(a[0]), [lb, kb] = rank(b[0]);
    return la - lb || ka - kb;
  });
}

function specFromMetadata(m: Record<string, string>): NetSpec {
  const whole = (key: string, max: number) => {
    const v = decimalNumber(m[key] ?? "");
    if (v === null || !Number.isInteger(v) || v < 1 || v > max) {
      throw new SafetensorsError(
        `__metadata__.${key} must be a whole number from 1 to ${max}, got ${JSON.stringify(m[key] ?? null)}`,
      );
    }
    return v;
  };
  const real = (key: string, ok: (v: number) => boolean, range: string) => {
    const v = decimalNumber(m[key] ?? "");
    if (v === null || !ok(v)) {
      throw new SafetensorsError(
        `__metadata__.${key} must be a number ${range}, got ${JSON.stringify(m[key] ?? null)}`,
      );
    }
    return v;
  };
  if (!(BN_VARIANTS as readonly string[]).includes(m.variant)) {
    throw new SafetensorsError(`__metadata__.variant must be one of ${BN_VARIANTS.join(", ")}, got ${m.variant}`);
  }
  if (!(ACTIVATIONS as readonly string[]).includes(m.activation)) {
    throw new SafetensorsError(`__metadata__.activation must be one of ${ACTIVATIONS}, got ${m.activation}`);
  }
  // Files from before --bn-position have none: BN before the activation, the notebook's order.
  const position = m.bn_position ?? "before";
  if (!(BN_POSITIONS as readonly string[]).includes(position)) {
    throw new SafetensorsError(`__metadata__.bn_position must be one of ${BN_POSITIONS.join(", ")}, got ${position}`);
  }
  return {
    inputs: whole("inputs", MAX_WIDTH),
    hidden: whole("hidden", MAX_WIDTH),
    layers: whole("layers", MAX_LAYERS),
    outputs: whole("outputs", MAX_WIDTH),
    activation: m.activation as Activation,
    bn: m.variant as BnVariant,
    // eval divides by √(running_var + eps): eps 0 with a zero variance is a division by zero.
    eps: real("eps", (v) => v > 0, "> 0"),
    momentum: real("momentum", (v) => v >= 0 && v <= 1, "from 0 to 1"),
    bnPosition: position as BnPosition,
  };
}
