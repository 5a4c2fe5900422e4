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
 * import { Net, notebookSpec } from "./model.ts";
 * const bytes = encodeModel(new Net(notebookSpec("torch"), 1), { lr: 0.02 });
 * const { net } = decodeModel(bytes, 2); // the same weights, for batches of up to 2 rows
 * ```
 * @module
 */
import { type Activation, ACTIVATIONS } from "./activations.ts";
import {
  BN_VARIANTS,
  type BnVariant,
  bufferShapes,
  MAX_LAYERS,
  MAX_WIDTH,
  Net,
  type NetSpec,
  parameterShapes,
} from "./model.ts";
import { decodeSafetensors, encodeSafetensors, type SafeTensor, SafetensorsError } from "./safetensors.ts";

/** `__metadata__.format` of a bnlab model file. */
export const MODEL_FORMAT = "bnlab-notebook-net/1";

/**
 * The file's bytes: every parameter and running statistic of `net` in
 * state_dict order, and in `__metadata__` the architecture, the number of
 * training steps taken and `config` (each value as a string, as the format
 * requires).
 */
export function encodeModel(net: Net, config: Record<string, string | number | boolean>): Uint8Array {
  const { spec } = net;
  const state = net.stateDict();
  const tensors: SafeTensor[] = [];
  for (const [name] of stateDictOrder(spec)) {
    if (name.endsWith(".num_batches_tracked")) {
      // PyTorch counts the training-mode forwards of each BN: one per step.
      tensors.push({ name, shape: [], data: new BigInt64Array([BigInt(net.step)]) });
    } else {
      const t = state.get(name)!;
      tensors.push({ name, shape: t.shape, data: t.f32 });
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
    steps: String(net.step),
  };
  for (const [k, v] of Object.entries(config)) if (!(k in metadata)) metadata[k] = String(v);
  return encodeSafetensors(tensors, metadata);
}

/**
 * Rebuilds the network a file made by {@link encodeModel} describes, in the
 * shared arena, for batches of up to `maxBatch` rows; throws
 * {@link SafetensorsError} naming what is missing or wrong.
 */
export function decodeModel(bytes: Uint8Array, maxBatch: number): { net: Net; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (metadata.format !== MODEL_FORMAT) {
    throw new SafetensorsError(
      `__metadata__.format is ${JSON.stringify(metadata.format ?? null)}, not ${MODEL_FORMAT}: not a bnlab model file`,
    );
  }
  const spec = specFromMetadata(metadata);
  const expected = stateDictOrder(spec);
  const extra = [...tensors.keys()].filter((name) => !expected.some(([n]) => n === name));
  if (extra.length > 0) throw new SafetensorsError(`unexpected tensors for this network: ${extra.join(", ")}`);
  const net = new Net(spec, maxBatch);
  const state = net.stateDict();
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) throw new SafetensorsError(`the file has no tensor ${name}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SafetensorsError(`${name} has shape [${t.shape}], the network needs [${shape}]`);
    }
    if (name.endsWith(".num_batches_tracked")) {
      if (!(t.data instanceof BigInt64Array)) throw new SafetensorsError(`${name} is not int64`);
      continue;
    }
    if (!(t.data instanceof Float32Array)) throw new SafetensorsError(`${name} is not float32`);
    state.get(name)!.set(t.data);
  }
  net.step = Number(metadata.steps ?? 0) || 0;
  return { net, metadata };
}

/** The state_dict of `spec` in PyTorch's order: each module's parameters, then its buffers. */
function stateDictOrder(spec: NetSpec): [string, number[]][] {
  const all = [...parameterShapes(spec), ...bufferShapes(spec)];
  if (spec.bn === "torch") { for (let l = 0; l < spec.layers; l++) all.push([`bn${l}.num_batches_tracked`, []]); }
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
    const v = Number(m[key]);
    if (!Number.isInteger(v) || v < 1 || v > max) {
      throw new SafetensorsError(`__metadata__.${key} must be a whole number from 1 to ${max}, got ${m[key]}`);
    }
    return v;
  };
  const real = (key: string) => {
    const v = Number(m[key]);
    if (m[key] === undefined || !Number.isFinite(v) || v < 0) {
      throw new SafetensorsError(`__metadata__.${key} must be a number ≥ 0, got ${m[key]}`);
    }
    return v;
  };
  if (!(BN_VARIANTS as readonly string[]).includes(m.variant)) {
    throw new SafetensorsError(`__metadata__.variant must be one of ${BN_VARIANTS.join(", ")}, got ${m.variant}`);
  }
  if (!(ACTIVATIONS as readonly string[]).includes(m.activation)) {
    throw new SafetensorsError(`__metadata__.activation must be one of ${ACTIVATIONS}, got ${m.activation}`);
  }
  return {
    inputs: whole("inputs", MAX_WIDTH),
    hidden: whole("hidden", MAX_WIDTH),
    layers: whole("layers", MAX_LAYERS),
    outputs: whole("outputs", MAX_WIDTH),
    activation: m.activation as Activation,
    bn: m.variant as BnVariant,
    eps: real("eps"),
    momentum: real("momentum"),
  };
}
