// Adam with PyTorch's semantics (torch.optim.Adam, single-tensor path), over
// one flat buffer holding every parameter, so one call updates the network.
// Scalars are formed in f64 as PyTorch forms them in Python; element-wise
// work is f32 as PyTorch does it for f32 parameters:
//   g = grad + wd·p;  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//   denom = sqrt(v)/sqrt(1 − β2^t) + eps    (eps after the bias correction)
//   p -= lr/(1 − β1^t) · m/denom
// With amsgrad, vmax = max(vmax, v) replaces v in denom.

import { powi } from "./lib/math";
import { storeTail } from "./lib/simd";

/** One Adam step (t counts from 1) over n parameters. `vmax` is used only when amsgrad ≠ 0. */
export function adam_update(
  params: usize, grads: usize, m: usize, v: usize, vmax: usize, n: i32,
  lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64, t: i32, amsgrad: i32,
): void {
  const stepSize = f32x4.splat(<f32>(lr / (1 - powi(beta1, t))));
  const sqrtBc2 = f32x4.splat(<f32>Math.sqrt(1 - powi(beta2, t)));
  const b1 = f32x4.splat(<f32>beta1), c1 = f32x4.splat(<f32>(1 - beta1));
  const b2 = f32x4.splat(<f32>beta2), c2 = f32x4.splat(<f32>(1 - beta2));
  const e = f32x4.splat(<f32>eps), wd = f32x4.splat(<f32>weightDecay);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const rest = n - i;
    const p = v128.load(params + o);
    let g = v128.load(grads + o);
    if (weightDecay != 0) g = f32x4.add(g, f32x4.mul(wd, p));
    const mv = f32x4.add(f32x4.mul(b1, v128.load(m + o)), f32x4.mul(c1, g));
    const vv = f32x4.add(f32x4.mul(b2, v128.load(v + o)), f32x4.mul(c2, f32x4.mul(g, g)));
    storeTail(m + o, mv, rest);
    storeTail(v + o, vv, rest);
    let vUsed = vv;
    if (amsgrad) {
      vUsed = f32x4.max(v128.load(vmax + o), vv);
      storeTail(vmax + o, vUsed, rest);
    }
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(vUsed), sqrtBc2), e);
    storeTail(params + o, f32x4.sub(p, f32x4.mul(stepSize, f32x4.div(mv, denom))), rest);
  }
}
