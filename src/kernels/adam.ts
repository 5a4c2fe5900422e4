/**
 * Typed wrapper of `kernels/adam.ts`: one Adam step over one flat buffer that
 * holds every parameter, with PyTorch's semantics (bias correction, eps added
 * after it, optional L2 weight decay and AMSGrad).
 *
 * @example
 * ```ts
 * import { arena } from "./arena.ts";
 * import { adam_update, ADAM_DEFAULTS } from "./adam.ts";
 * const p = arena.f32([3]).set([1, 2, 3]), g = arena.f32([3]).set([1, -1, 0]);
 * const m = arena.f32([3]), v = arena.f32([3]);
 * adam_update(p, g, m, v, null, { ...ADAM_DEFAULTS, lr: 0.02 }, 1);
 * // p = [0.98, 2.02, 3]
 * ```
 * @module
 */
import * as k from "bnlab-kernels/adam.wasm";
import type { Tensor } from "./arena.ts";
import { expectSize } from "./shapes.ts";

/** Adam's hyper-parameters, as `torch.optim.Adam` names them. */
export interface AdamOptions {
  /** Learning rate. */
  lr: number;
  /** Decay rates of the first and second moments. */
  betas: readonly [number, number];
  /** Added to the bias-corrected sqrt of the second moment. */
  eps: number;
  /** L2 penalty added to the gradient (Adam, not AdamW). */
  weight_decay: number;
  /** Use the maximum of past second moments (needs a `vmax` buffer). */
  amsgrad: boolean;
}

/** PyTorch's defaults. */
export const ADAM_DEFAULTS: Readonly<AdamOptions> = {
  lr: 1e-3,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weight_decay: 0,
  amsgrad: false,
};

/** Step `t` (from 1) of Adam over all of `params`, updating `m`, `v` (and `vmax`) in place. */
export function adam_update(
  params: Tensor,
  grads: Tensor,
  m: Tensor,
  v: Tensor,
  vmax: Tensor | null,
  opts: AdamOptions,
  t: number,
): void {
  const n = params.size;
  expectSize("adam_update grads", grads, n);
  expectSize("adam_update m", m, n);
  expectSize("adam_update v", v, n);
  if (opts.amsgrad) {
    if (!vmax) throw new TypeError("adam_update: amsgrad needs a vmax buffer");
    expectSize("adam_update vmax", vmax, n);
  }
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`adam_update: step must be an integer ≥ 1, got ${t}`);
  const [beta1, beta2] = opts.betas;
  k.adam_update(
    params.ptr,
    grads.ptr,
    m.ptr,
    v.ptr,
    vmax?.ptr ?? 0,
    n,
    opts.lr,
    beta1,
    beta2,
    opts.eps,
    opts.weight_decay,
    t,
    opts.amsgrad ? 1 : 0,
  );
}
