/**
 * Runs the kernels and the network against a directory of PyTorch reference
 * fixtures (the schema of ../shared/fixtures/README.md) and reports every case.
 *
 * Each fixture file is dispatched on its `file` field (falling back to its
 * file name): batchnorm_train, batchnorm_eval, batchnorm_sequence, seed_mybn,
 * linear, activations_loss, adam, network_step. Shapes and hyper-parameters are
 * read from each case, never assumed. `index.json`, when present, is checked
 * as one more case: every file it lists exists with its sha256 and case count.
 *
 * Tolerances are the README's (see {@link TOL}).
 *
 * @example
 * ```sh
 * deno task conformance ../shared/fixtures
 * ```
 * @module
 */
import { ADAM_DEFAULTS, adam_update, type AdamOptions } from "../kernels/adam.ts";
import { type Activation, activation_backward, activation_forward, ACTIVATIONS } from "../kernels/activations.ts";
import { arena, type Tensor } from "../kernels/arena.ts";
import {
  batchnorm_backward,
  batchnorm_eval_backward,
  batchnorm_eval_forward,
  batchnorm_forward,
  batchnormSumsLength,
  type BnSemantics,
} from "../kernels/batchnorm.ts";
import {
  asExpected,
  asList,
  asNumber,
  asObject,
  asTensor,
  CaseCheck,
  describeMismatch,
  type FixtureTensor,
  maxAbs,
  optionalNumber,
  SchemaError,
  shown,
  type Tolerance,
  tolerance,
} from "./fixtures.ts";
import { fusable } from "../kernels/fused.ts";
import { linear_backward, linear_forward } from "../kernels/linear.ts";
import { mse_backward, mse_forward } from "../kernels/loss.ts";
import { type BnVariant, canonicalName, MAX_LAYERS, MAX_WIDTH, Net, type NetSpec } from "../net/model.ts";

/** The README's tolerances: `rtol`, and `atol` as a fraction of the tensor's max |expected|. */
export const TOL = {
  /** linear, activations, mse, and the `none` network. */
  exact: { rtol: 1e-5, atolRel: 1e-6 },
  /** BN train/eval/sequence and MyBN, regular cases. */
  bn: { rtol: 1e-4, atolRel: 1e-5 },
  /** BN cases tagged `ill_conditioned` (reachable only with f64 accumulation). */
  bnIllConditioned: { rtol: 1e-4, atolRel: 1e-4 },
  /** Adam: absolute atol. */
  adam: { rtol: 1e-5, atol: 1e-7 },
  /** BN networks: gradients against the step's global max |grad| G. */
  networkGradRel: 2e-4,
  /**
   * BN networks: the training-mode `pred`. The README suggests rtol 1e-5, but
   * no f32 network reaches it: rounding the first Linear outputs to f32 (their
   * bias dominates, and BN divides by a small spread) moves pred by up to
   * 1.1e-5·max|pred| even in a float32 simulation that accumulates every dot
   * product and BN statistic in f64 (measured on network_step.json). So pred
   * gets the BN layers' own tolerance; `loss` keeps rtol 1e-5.
   */
  networkBnPred: { rtol: 1e-4, atolRel: 1e-5 },
  /** BN networks: eval predictions from the stored state. */
  networkProbe: { rtol: 1e-4, atol: 1e-5 },
} as const;

/** The outcome of one fixture case. */
export interface CaseResult {
  /** The fixture file the case comes from. */
  file: string;
  /** The case's name in that file. */
  name: string;
  /** What was compared, and the worst element. */
  check: CaseCheck;
}

/** A parsed fixture file: JSON in the schema of the fixtures README, read field by field. */
// deno-lint-ignore no-explicit-any
export type Json = any;

type Outputs = Record<string, ArrayLike<number> | number>;

/** Copies a fixture tensor into the arena as f32 (exact: fixture inputs are f32 values). */
function upload(v: unknown, what: string): Tensor {
  const t = asTensor(v, what);
  return arena.f32(t.shape).set(t.data);
}

function zerosLike(t: Tensor): Tensor {
  return arena.f32(t.shape);
}

/** Aliases under which different fixture files name the same output. */
function outputKey(key: string): string {
  return key.replace(/^moving_/, "running_");
}

/**
 * Compares every tensor or number in `expected` with the output of the same
 * name. An expected value with no matching output is a failure, never skipped.
 */
function compareAll(
  check: CaseCheck,
  prefix: string,
  expected: unknown,
  outputs: Outputs,
  tol: (e: FixtureTensor | number) => Tolerance,
  ignore: readonly string[] = [],
): void {
  for (const [key, raw] of Object.entries(asObject(expected, prefix.replace(/\.$/, "") || "expected"))) {
    if (ignore.includes(key)) continue;
    const want = asExpected(raw, prefix + key);
    const got = outputs[outputKey(key)];
    if (got === undefined) {
      check.fail(prefix + key, "no output computed for this expected value");
      continue;
    }
    check.close(prefix + key, got, want, tol(want));
  }
}

function bnTolerance(tags: readonly string[] | undefined) {
  const t = tags?.includes("ill_conditioned") ? TOL.bnIllConditioned : TOL.bn;
  return (e: FixtureTensor | number) => tolerance(e, t.rtol, t.atolRel);
}

const exactTolerance = (e: FixtureTensor | number) => tolerance(e, TOL.exact.rtol, TOL.exact.atolRel);

/** One training-mode BN call (and its backward when `dy` is given) on fresh arena tensors. */
function bnTrain(
  semantics: BnSemantics,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  rm: Tensor,
  rv: Tensor,
  dyJson: unknown,
  eps: number,
  momentum: number,
): Outputs {
  const [N, C] = x.shape;
  const y = zerosLike(x), mean = arena.f64([C]), rstd = arena.f64([C]);
  batchnorm_forward(y, mean, rstd, rm, rv, x, gamma, beta, eps, momentum, semantics);
  // The kernel caches rstd = 1/sqrt(var + eps) in f64; var is recovered from it
  // to ~1e-16 relative, far inside the tolerance.
  const batchVar = Array.from(rstd.f64, (r) => 1 / (r * r) - eps);
  const out: Outputs = {
    y: y.f32,
    batch_mean: mean.f64.slice(),
    batch_var: batchVar,
    batch_var_unbiased: batchVar.map((v) => v * N / (N - 1)),
    inv_std: rstd.f64.slice(),
    running_mean_after: rm.f32.slice(),
    running_var_after: rv.f32.slice(),
  };
  if (dyJson !== undefined) {
    const dy = upload(dyJson, "inputs.dy");
    const dx = zerosLike(x), dgamma = zerosLike(gamma), dbeta = zerosLike(beta);
    batchnorm_backward(dx, dgamma, dbeta, arena.f64([batchnormSumsLength(C)]), dy, x, gamma, mean, rstd);
    Object.assign(out, { dx: dx.f32, dgamma: dgamma.f32, dbeta: dbeta.f32 });
  }
  return out;
}

/** One eval-mode BN call (and its backward when `dy` is given). */
function bnEval(x: Tensor, gamma: Tensor, beta: Tensor, rm: Tensor, rv: Tensor, dyJson: unknown, eps: number): Outputs {
  const y = zerosLike(x);
  batchnorm_eval_forward(y, x, gamma, beta, rm, rv, eps);
  const out: Outputs = { y: y.f32, running_mean_after: rm.f32.slice(), running_var_after: rv.f32.slice() };
  if (dyJson !== undefined) {
    const dy = upload(dyJson, "inputs.dy");
    const dx = zerosLike(x), dgamma = zerosLike(gamma), dbeta = zerosLike(beta);
    batchnorm_eval_backward(dx, dgamma, dbeta, dy, x, gamma, rm, rv, eps);
    Object.assign(out, { dx: dx.f32, dgamma: dgamma.f32, dbeta: dbeta.f32 });
  }
  return out;
}

/** A BN case's x, γ, β, running mean and running variance, uploaded. */
function bnInputs(i: Json): [Tensor, Tensor, Tensor, Tensor, Tensor] {
  const names = ["x", "gamma", "beta", "running_mean", "running_var"];
  return names.map((n) => upload(i[n], `inputs.${n}`)) as [Tensor, Tensor, Tensor, Tensor, Tensor];
}

function runBatchnormTrain(c: Json, check: CaseCheck): void {
  const [x, gamma, beta, rm, rv] = bnInputs(c.inputs);
  const eps = asNumber(c.eps, "eps"), momentum = asNumber(c.momentum, "momentum");
  const out = bnTrain("torch", x, gamma, beta, rm, rv, c.inputs.dy, eps, momentum);
  compareAll(check, "", c.expected, out, bnTolerance(c.tags));
}

function runBatchnormEval(c: Json, check: CaseCheck): void {
  const [x, gamma, beta, rm, rv] = bnInputs(c.inputs);
  const out = bnEval(x, gamma, beta, rm, rv, c.inputs.dy, asNumber(c.eps, "eps"));
  compareAll(check, "", c.expected, out, bnTolerance(c.tags));
}

/**
 * A BN layer fed several training batches (running statistics chained through
 * our own updates, as a layer would), then eval on a probe batch. Serves
 * batchnorm_sequence (PyTorch) and seed_mybn's `sequence` kind (MyBN).
 */
function runSequence(c: Json, check: CaseCheck, semantics: BnSemantics, eps: number, momentum: number): void {
  const i = c.inputs;
  const tol = bnTolerance(c.tags);
  const gamma = upload(i.gamma, "inputs.gamma"), beta = upload(i.beta, "inputs.beta");
  const rm = upload(i.running_mean_init ?? i.moving_mean_init, "inputs.running_mean_init");
  const rv = upload(i.running_var_init ?? i.moving_var_init, "inputs.running_var_init");
  const probe = upload(i.probe_x, "inputs.probe_x");
  const final: Outputs = {};
  if (c.expected.probe_y_eval_before_training !== undefined) {
    final.probe_y_eval_before_training = bnEval(probe, gamma, beta, rm, rv, undefined, eps).y;
  }
  asList(c.steps, "steps").forEach((raw, k) => {
    const step = asObject(raw, `steps[${k}]`);
    const out = bnTrain(semantics, upload(step.x, `steps[${k}].x`), gamma, beta, rm, rv, undefined, eps, momentum);
    compareAll(check, `steps[${k}].`, step, out, tol, ["x"]);
  });
  final.probe_y_eval = bnEval(probe, gamma, beta, rm, rv, undefined, eps).y;
  final.running_mean_final = rm.f32;
  final.running_var_final = rv.f32;
  compareAll(check, "", c.expected, final, tol);
}

/** MyBN's constants, used where a seed_mybn case does not state them. */
const MYBN = { eps: 1e-6, momentum: 0.5 };

function runSeedMybn(c: Json, check: CaseCheck): void {
  const eps = optionalNumber(c.eps, "eps", MYBN.eps), momentum = optionalNumber(c.momentum, "momentum", MYBN.momentum);
  if (c.kind === "sequence") return runSequence(c, check, "mybn", eps, momentum);
  const i = c.inputs, e = asObject(c.expected, "expected");
  const tol = bnTolerance(c.tags);
  const x = upload(i.x, "inputs.x"), gamma = upload(i.gamma, "inputs.gamma"), beta = upload(i.beta, "inputs.beta");
  const mm0 = upload(i.moving_mean, "inputs.moving_mean"), mv0 = upload(i.moving_var, "inputs.moving_var");
  const evalWith = (rm: Tensor, rv: Tensor) =>
    bnEval(x, gamma, beta, arena.f32([rm.size]).set(rm.f32), arena.f32([rv.size]).set(rv.f32), i.dy, eps);

  if (c.kind === "single") {
    // Eval with the given moving statistics first: training updates them.
    compareAll(check, "eval.", e.eval, evalWith(mm0, mv0), tol);
    compareAll(check, "train.", e.train, bnTrain("mybn", x, gamma, beta, mm0, mv0, i.dy, eps, momentum), tol);
  } else if (c.kind === "notebook") {
    compareAll(check, "eval_before_training.", e.eval_before_training, evalWith(mm0, mv0), tol);
    compareAll(check, "train.", e.train, bnTrain("mybn", x, gamma, beta, mm0, mv0, i.dy, eps, momentum), tol);
    // bnTrain updated mm0/mv0 in place: they now hold the statistics after one step.
    compareAll(check, "eval_after_one_step.", e.eval_after_one_step, evalWith(mm0, mv0), tol);
    // The same data through BatchNorm1d's defaults: γ = 1, β = 0, eps 1e-5, momentum 0.1, running 0/1.
    const C = x.shape[1];
    const ones = arena.f32([C]).set(new Array(C).fill(1)), zeros = arena.f32([C]);
    const torch = bnTrain("torch", x, ones, zeros, arena.f32([C]), arena.f32([C]).set(ones.f32), undefined, 1e-5, 0.1);
    const prefix = "torch_batchnorm1d_default_";
    const tensors = Object.fromEntries(
      Object.entries(e).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]),
    );
    compareAll(check, prefix, tensors, { train_y: torch.y, ...torch }, tol);
  } else {
    check.fail("kind", `unknown seed_mybn case kind ${JSON.stringify(c.kind)}`);
  }
}

function runLinear(c: Json, check: CaseCheck): void {
  const i = c.inputs;
  const x = upload(i.x, "inputs.x"), W = upload(i.W, "inputs.W"), b = upload(i.b, "inputs.b");
  const y = arena.f32([x.shape[0], W.shape[0]]);
  linear_forward(y, x, W, b, arena.f32([W.size]));
  const out: Outputs = { y: y.f32 };
  if (i.dy !== undefined) {
    const dy = upload(i.dy, "inputs.dy");
    const dx = zerosLike(x), dW = zerosLike(W), db = zerosLike(b);
    linear_backward(dx, dW, db, dy, x, W);
    Object.assign(out, { dx: dx.f32, dW: dW.f32, db: db.f32 });
  }
  compareAll(check, "", c.expected, out, exactTolerance);
}

function runActivationOrLoss(c: Json, check: CaseCheck): void {
  const i = c.inputs;
  if (c.op === "mse") {
    const pred = upload(i.pred, "inputs.pred"), target = upload(i.target, "inputs.target");
    const dpred = zerosLike(pred);
    const loss = mse_forward(pred, target);
    mse_backward(dpred, pred, target);
    compareAll(check, "", c.expected, { loss, dpred: dpred.f32 }, exactTolerance);
    return;
  }
  if (!ACTIVATIONS.includes(c.op)) return check.fail("op", `unknown op ${JSON.stringify(c.op)}`);
  const act = c.op as Activation;
  const x = upload(i.x, "inputs.x"), y = zerosLike(x);
  activation_forward(act, y, x);
  const out: Outputs = { y: y.f32 };
  if (i.dy !== undefined) {
    const dx = zerosLike(x);
    activation_backward(act, dx, upload(i.dy, "inputs.dy"), y);
    out.dx = dx.f32;
  }
  compareAll(check, "", c.expected, out, exactTolerance);
}

/** Adam's settings from a fixture's `hyperparams` (PyTorch's defaults for what it leaves out). */
function adamOptions(raw: unknown, field: string): AdamOptions {
  const h = raw === undefined ? {} : asObject(raw, field);
  const betas = h.betas === undefined ? ADAM_DEFAULTS.betas : asList(h.betas, `${field}.betas`);
  if (betas.length !== 2) throw new SchemaError(`${field}.betas`, "expected two numbers");
  if (h.amsgrad !== undefined && typeof h.amsgrad !== "boolean") {
    throw new SchemaError(`${field}.amsgrad`, "expected true or false");
  }
  return {
    lr: optionalNumber(h.lr, `${field}.lr`, ADAM_DEFAULTS.lr),
    betas: [asNumber(betas[0], `${field}.betas[0]`), asNumber(betas[1], `${field}.betas[1]`)],
    eps: optionalNumber(h.eps, `${field}.eps`, ADAM_DEFAULTS.eps),
    weight_decay: optionalNumber(h.weight_decay, `${field}.weight_decay`, ADAM_DEFAULTS.weight_decay),
    amsgrad: (h.amsgrad as boolean | undefined) ?? ADAM_DEFAULTS.amsgrad,
  };
}

/** Adam over all of a case's parameters laid end to end in one buffer, as the network does. */
function runAdam(c: Json, check: CaseCheck): void {
  const opts = adamOptions(c.hyperparams, "hyperparams");
  const inits = asList(c.inputs.params_init, "inputs.params_init").map((t, k) =>
    asTensor(t, `inputs.params_init[${k}]`)
  );
  const allGrads = asList(c.inputs.grads, "inputs.grads");
  const sizes = inits.map((t) => t.data.length);
  const n = sizes.reduce((a, b) => a + b, 0);
  const flat = (tensors: FixtureTensor[]) => tensors.flatMap((t) => t.data);
  const params = arena.f32([n]).set(flat(inits));
  const grads = arena.f32([n]), m = arena.f32([n]), v = arena.f32([n]), vmax = arena.f32([n]);
  const tol = { rtol: TOL.adam.rtol, atol: TOL.adam.atol };
  asList(c.expected.steps, "expected.steps").forEach((raw, s) => {
    const step = asObject(raw, `expected.steps[${s}]`);
    const t = optionalNumber(step.step, `expected.steps[${s}].step`, s + 1);
    if (!Number.isInteger(t) || t < 1 || t > allGrads.length) {
      throw new SchemaError(
        `expected.steps[${s}].step`,
        `${t} is not a step of the ${allGrads.length} given gradients`,
      );
    }
    const stepGrads = asList(allGrads[t - 1], `inputs.grads[${t - 1}]`);
    grads.set(flat(stepGrads.map((g, k) => asTensor(g, `inputs.grads[${t - 1}][${k}]`))));
    adam_update(params, grads, m, v, vmax, opts, t);
    const state: Record<string, Tensor> = { params, exp_avg: m, exp_avg_sq: v, max_exp_avg_sq: vmax };
    for (const [key, value] of Object.entries(step)) {
      if (key === "step") continue;
      const list = asList(value, `expected.steps[${s}].${key}`);
      const buf = state[key];
      if (!buf) {
        check.fail(`steps[${s}].${key}`, "no output computed for this expected value");
        continue;
      }
      let off = 0;
      (list as Json[]).forEach((want, k) => {
        const w = asTensor(want, `steps[${s}].${key}[${k}]`);
        check.close(`steps[${s}].${key}[${k}]`, buf.f32.subarray(off, off + sizes[k]), w, tol);
        off += sizes[k];
      });
    }
  });
}

/** The {@link NetSpec} of a network_step case, read from its architecture and its stored shapes. */
function networkSpec(file: Json, c: Json): NetSpec {
  const arch = file.architecture === undefined ? {} : asObject(file.architecture, "architecture");
  const p = asObject(c.inputs.params_init, "inputs.params_init");
  const layers = Object.keys(p).filter((k) => /^fc\d+\.weight$/.test(k)).length;
  const matrix = (name: string) => {
    const t = asTensor(p[name], `inputs.params_init.${name}`);
    if (t.shape.length !== 2 || t.shape.some((d) => d < 1 || d > MAX_WIDTH)) {
      throw new SchemaError(`inputs.params_init.${name}`, `shape [${t.shape}] is not [out, in] within 1…${MAX_WIDTH}`);
    }
    return t;
  };
  const fc0 = matrix("fc0.weight"), predict = matrix("predict.weight");
  if (layers > MAX_LAYERS) throw new SchemaError("inputs.params_init", `${layers} layers, more than ${MAX_LAYERS}`);
  const activation = arch.activation ?? "tanh";
  if (!ACTIVATIONS.includes(activation as Activation)) {
    throw new SchemaError(
      "architecture.activation",
      `expected one of ${ACTIVATIONS}, got ${JSON.stringify(activation)}`,
    );
  }
  const bnJson = c.bn === undefined || c.bn === null ? null : asObject(c.bn, "bn");
  const type = bnJson?.type ?? null;
  if (type !== null && typeof type !== "string") throw new SchemaError("bn.type", "expected a layer name");
  const bn: BnVariant = type === null ? "none" : /MyBN/i.test(type) ? "mybn" : "torch";
  return {
    inputs: fc0.shape[1],
    hidden: fc0.shape[0],
    layers,
    outputs: predict.shape[0],
    activation: activation as Activation,
    bn,
    eps: optionalNumber(bnJson?.eps, "bn.eps", bn === "mybn" ? MYBN.eps : 1e-5),
    momentum: optionalNumber(bnJson?.momentum, "bn.momentum", 0.5),
  };
}

function loadNamed(net: Net, get: (name: string) => Tensor, named: unknown, what: string): void {
  for (const [name, t] of Object.entries(asObject(named, what))) {
    get.call(net, name).set(asTensor(t, `${what}.${name}`).data);
  }
}

/**
 * The whole network: each Adam step is checked from the stored state of the
 * step before (parameters, running statistics, Adam moments, step counter),
 * not chained from our own results, as the README prescribes.
 */
function runNetworkStep(file: Json, c: Json, check: CaseCheck, options: ConformanceOptions): void {
  const spec = networkSpec(file, c);
  const batches = asList(file.batches, "batches").map((raw, k) => {
    const b = asObject(raw, `batches[${k}]`);
    return { x: asTensor(b.x, `batches[${k}].x`), y: asTensor(b.y, `batches[${k}].y`) };
  });
  const probe = asTensor(file.probe_x, "probe_x");
  const maxBatch = Math.max(probe.shape[0], ...batches.map((b) => b.x.shape[0]));
  const net = new Net(spec, maxBatch);
  const opts = adamOptions(file.architecture?.optimizer, "architecture.optimizer");
  const bn = spec.bn !== "none";
  const fused = options.path === "fused";
  if (fused && !fusable(spec)) return check.fail("path", "the fused step does not take this network");

  const names = (v: unknown, field: string) =>
    asList(v, field).map((n, k) => {
      if (typeof n !== "string") throw new SchemaError(`${field}[${k}]`, "expected a parameter name");
      return canonicalName(n);
    });
  const order = c.param_order === undefined ? undefined : names(c.param_order, "param_order");
  if (order && order.join() !== net.parameterNames.join()) {
    check.fail("param_order", `expected ${order.join(", ")}; the network has ${net.parameterNames.join(", ")}`);
    return;
  }
  const zeroGrads = new Set(names(c.structurally_zero_grads ?? [], "structurally_zero_grads"));
  const exactTol = exactTolerance;

  const evalProbe = (name: string, want: unknown) => {
    const n = probe.shape[0];
    net.input(n).set(probe.data);
    const pred = net.forward(n, false);
    const w = asTensor(want, name);
    check.close(name, pred.f32, w, bn ? TOL.networkProbe : exactTol(w));
  };

  const loadState = (params: Json, buffers: Json, m: Json | null, v: Json | null, step: number) => {
    net.reset();
    loadNamed(net, net.param, params, "params");
    loadNamed(net, net.buffer, buffers ?? {}, "buffers");
    if (m) loadNamed(net, net.adamMoment1, m, "adam_exp_avg");
    if (v) loadNamed(net, net.adamMoment2, v, "adam_exp_avg_sq");
    net.step = step;
  };

  loadState(c.inputs.params_init, c.inputs.buffers_init, null, null, 0);
  if (c.expected.probe_pred_eval_before_training !== undefined) {
    evalProbe("probe_pred_eval_before_training", c.expected.probe_pred_eval_before_training);
  }

  const steps = asList(c.expected.steps, "expected.steps").map((st, s) => asObject(st, `expected.steps[${s}]`));
  steps.forEach((st, s) => {
    const p = `steps[${s}].`;
    if (s > 0) {
      const prev = steps[s - 1];
      loadState(prev.params_after, prev.buffers_after, prev.adam_exp_avg, prev.adam_exp_avg_sq, s);
    } else {
      loadState(c.inputs.params_init, c.inputs.buffers_init, null, null, 0);
    }
    const b = optionalNumber(st.batch, p + "batch", s);
    const batch = batches[b];
    if (!batch) throw new SchemaError(p + "batch", `${b} is not one of the ${batches.length} batches`);
    const n = batch.x.shape[0];
    net.input(n).set(batch.x.data);
    net.target(n).set(batch.y.data);
    // The fused step takes the whole step, Adam included: the checks below read what it left.
    const loss = fused ? fusedStep(net, batch, opts) : net.lossAndGrad(n);
    const wantLoss = asNumber(st.loss, p + "loss");
    check.close(p + "loss", loss, wantLoss, exactTol(wantLoss));
    if (st.pred !== undefined) {
      const want = asTensor(st.pred, p + "pred");
      const t = bn ? tolerance(want, TOL.networkBnPred.rtol, TOL.networkBnPred.atolRel) : exactTol(want);
      check.close(p + "pred", (fused ? net.fusedPrediction(n) : net.prediction(n)).f32, want, t);
    }

    // Gradients: per tensor for `none`; against the step's global scale G with BN.
    const grads = Object.entries(asObject(st.grads, p + "grads")).map(([k, t]) =>
      [k, asTensor(t, p + "grads." + k)] as const
    );
    const G = Math.max(...grads.map(([, t]) => maxAbs(t)));
    const gTol = TOL.networkGradRel * G;
    for (const [name, want] of grads) {
      const got = net.grad(name).f32;
      if (!bn) check.close(p + "grads." + name, got, want, exactTol(want));
      else if (zeroGrads.has(canonicalName(name))) {
        check.close(p + "grads." + name, got, { shape: want.shape, data: want.data.map(() => 0) }, {
          rtol: 0,
          atol: gTol,
        });
      } else check.close(p + "grads." + name, got, want, { rtol: 0, atol: gTol });
    }

    if (!fused) net.optimizerStep(opts);
    const [b1, b2] = opts.betas;
    const paramsAfter = asObject(st.params_after, p + "params_after");
    const moment1 = asObject(st.adam_exp_avg, p + "adam_exp_avg");
    const moment2 = asObject(st.adam_exp_avg_sq, p + "adam_exp_avg_sq");
    for (const [name, wantGrad] of grads) {
      const small = (i: number) => Math.abs(wantGrad.data[i]) < 1e-3 * G;
      const after = asTensor(paramsAfter[name], p + "params_after." + name);
      const m = asTensor(moment1[name], p + "adam_exp_avg." + name);
      const v = asTensor(moment2[name], p + "adam_exp_avg_sq." + name);
      if (!bn) {
        check.close(p + "params_after." + name, net.param(name).f32, after, exactTol(after));
        check.close(p + "adam_exp_avg." + name, net.adamMoment1(name).f32, m, exactTol(m));
        check.close(p + "adam_exp_avg_sq." + name, net.adamMoment2(name).f32, v, exactTol(v));
        continue;
      }
      // Adam turns gradient noise on near-zero gradients into updates of up to
      // ±lr: allow 2·lr there, 1e-5 elsewhere (README). The moments inherit the
      // gradient bound gTol through their update formulas.
      check.close(
        p + "params_after." + name,
        net.param(name).f32,
        after,
        (i) => small(i) ? { rtol: 0, atol: 2 * opts.lr } : { rtol: 1e-5, atol: 1e-5 },
      );
      check.close(p + "adam_exp_avg." + name, net.adamMoment1(name).f32, m, { rtol: 1e-5, atol: (1 - b1) * gTol });
      check.close(
        p + "adam_exp_avg_sq." + name,
        net.adamMoment2(name).f32,
        v,
        (i) => ({ rtol: 1e-5, atol: (1 - b2) * gTol * (2 * Math.abs(wantGrad.data[i]) + gTol) }),
      );
    }
    for (const [name, want] of Object.entries(asObject(st.buffers_after ?? {}, p + "buffers_after"))) {
      const w = asTensor(want, p + "buffers_after." + name);
      const t = TOL.bn;
      check.close(p + "buffers_after." + name, net.buffer(name).f32, w, tolerance(w, t.rtol, t.atolRel));
    }
  });

  if (c.expected.probe_pred_eval_after_steps !== undefined && steps.length > 0) {
    const last = steps[steps.length - 1];
    loadState(last.params_after, last.buffers_after, null, null, steps.length);
    evalProbe("probe_pred_eval_after_steps", c.expected.probe_pred_eval_after_steps);
  }
}

/** How the network cases run: through the per-layer kernels or the fused step. */
export interface ConformanceOptions {
  /** `layers` (the per-layer kernels, the default) or `fused` (one kernel call per step). */
  path: "layers" | "fused";
}

/** One fused training step on a fixture batch (the rows in order). */
function fusedStep(net: Net, batch: { x: FixtureTensor; y: FixtureTensor }, opts: AdamOptions): number {
  const n = batch.x.shape[0];
  const xs = arena.f32([n, 1]).set(batch.x.data), ys = arena.f32([n, 1]).set(batch.y.data);
  const order = arena.u32([n]);
  order.u32.forEach((_, i, o) => o[i] = i);
  return net.fusedTrainStep(xs, ys, order, 0, n, opts);
}

type Runner = (file: Json, c: Json, check: CaseCheck, options: ConformanceOptions) => void;

/** The runner for each fixture kind (the `file` field without `.json`). */
const RUNNERS: Record<string, Runner> = {
  batchnorm_train: (_f, c, check) => runBatchnormTrain(c, check),
  batchnorm_eval: (_f, c, check) => runBatchnormEval(c, check),
  batchnorm_sequence: (_f, c, check) =>
    runSequence(c, check, "torch", asNumber(c.eps, "eps"), asNumber(c.momentum, "momentum")),
  seed_mybn: (_f, c, check) => runSeedMybn(c, check),
  linear: (_f, c, check) => runLinear(c, check),
  activations_loss: (_f, c, check) => runActivationOrLoss(c, check),
  adam: (_f, c, check) => runAdam(c, check),
  network_step: runNetworkStep,
};

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The manifest case: every listed file exists with its sha256, size and case count. */
async function checkIndex(dir: string, index: Record<string, unknown>, check: CaseCheck): Promise<void> {
  for (const [k, raw] of asList(index.files, "files").entries()) {
    try {
      const entry = asObject(raw, `files[${k}]`);
      const name = entry.file;
      // A manifest names files beside it, never a path elsewhere.
      if (typeof name !== "string" || !/^[^/\\]+$/.test(name) || name === "..") {
        throw new SchemaError(`files[${k}].file`, `expected a file name in this directory, got ${shown(name)}`);
      }
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await Deno.readFile(`${dir}/${name}`);
      } catch {
        check.fail(name, "listed in index.json but missing");
        continue;
      }
      if (entry.bytes !== undefined && bytes.length !== entry.bytes) {
        check.fail(name, `${bytes.length} bytes, index.json says ${shown(entry.bytes)}`);
      }
      if (entry.sha256 !== undefined && (await sha256(bytes)) !== entry.sha256) {
        check.fail(name, "sha256 differs from index.json");
      }
      if (entry.cases !== undefined) {
        const n = caseCount(bytes);
        if (n !== entry.cases) check.fail(name, `${n ?? "no list of"} cases, index.json says ${shown(entry.cases)}`);
      }
    } catch (err) {
      if (!(err instanceof SchemaError)) throw err;
      check.fail(err.field, err.detail);
    }
  }
}

/** The length of a fixture file's `cases` list, or null when it is not JSON with such a list. */
function caseCount(bytes: Uint8Array): number | null {
  try {
    const cases = JSON.parse(new TextDecoder().decode(bytes))?.cases;
    return Array.isArray(cases) ? cases.length : null;
  } catch {
    return null;
  }
}

/** A result that reports a problem with a whole file (it has no case to report under). */
function fileProblem(file: string, field: string, message: string): CaseResult {
  const check = new CaseCheck();
  check.fail(field, message);
  return { file, name: "(file)", check };
}

/**
 * Runs every case of one parsed fixture file. A file that is not an object
 * with a list of cases is one failing result; a case that breaks the schema
 * fails naming the field, and the other cases still run.
 */
function runFixture(kind: string, file: Json, fileName: string, options: ConformanceOptions): CaseResult[] {
  const runner = Object.hasOwn(RUNNERS, kind) ? RUNNERS[kind] : undefined;
  if (typeof file !== "object" || file === null || Array.isArray(file)) {
    return [fileProblem(fileName, "file", `expected a JSON object, got ${shown(file)}`)];
  }
  if (file.cases === undefined || (Array.isArray(file.cases) && file.cases.length === 0)) {
    return [fileProblem(fileName, "cases", "the file has no cases")];
  }
  if (!Array.isArray(file.cases)) return [fileProblem(fileName, "cases", `expected a list, got ${shown(file.cases)}`)];
  return (file.cases as unknown[]).map((c, k) => {
    const check = new CaseCheck();
    const mark = arena.mark();
    const name = typeof (c as Json)?.name === "string" ? (c as Json).name as string : `#${k}`;
    try {
      if (!runner) check.fail("file", `no runner for fixture kind ${JSON.stringify(kind)}`);
      else {
        const kase = asObject(c, "case");
        asObject(kase.inputs, "inputs");
        asObject(kase.expected, "expected");
        runner(file, kase, check, options);
      }
      if (runner !== undefined && check.tensors === 0 && check.ok) check.fail("case", "nothing was compared");
    } catch (err) {
      if (err instanceof SchemaError) check.fail(err.field, err.detail);
      else check.fail("case", `error: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      arena.release(mark);
    }
    return { file: fileName, name, check };
  });
}

/** Runs every fixture file in `dir` (sorted by name) and returns one result per case. */
export async function runConformance(
  dir: string,
  options: ConformanceOptions = { path: "layers" },
): Promise<CaseResult[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile && e.name.endsWith(".json")) names.push(e.name);
  names.sort();
  const results: CaseResult[] = [];
  for (const name of names) {
    let file: Json;
    try {
      file = JSON.parse(await Deno.readTextFile(`${dir}/${name}`));
    } catch (err) {
      results.push(fileProblem(name, "file", `cannot read: ${err instanceof Error ? err.message : String(err)}`));
      continue;
    }
    if (typeof file === "object" && file !== null && file.files !== undefined && file.cases === undefined) {
      const check = new CaseCheck();
      await checkIndex(dir, file, check).catch((err) => {
        if (!(err instanceof SchemaError)) throw err;
        check.fail(err.field, err.detail);
      });
      check.tensors++;
      results.push({ file: name, name: "manifest", check });
      continue;
    }
    const kind = typeof file?.file === "string" ? file.file.replace(/\.json$/, "") : name.replace(/\.json$/, "");
    results.push(...runFixture(kind, file, name, options));
  }
  return results;
}

/** The report line of a failing case: its worst tensor, and how many others failed. */
export function failureLine(r: CaseResult): string {
  const ms = r.check.mismatches;
  const ratio = (m: typeof ms[number]) => m.message !== undefined ? Infinity : m.error / m.allowed;
  const worst = ms.reduce((a, b) => ratio(b) > ratio(a) ? b : a);
  const more = ms.length > 1 ? ` (+${ms.length - 1} more)` : "";
  return `FAIL ${r.file} ${r.name}: ${describeMismatch(worst)}${more}`;
}
