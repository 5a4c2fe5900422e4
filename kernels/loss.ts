// Mean squared error with PyTorch's mean reduction over all n elements.

/** Returns mean((pred − target)²), summed in f64. */
export function mse_forward(pred: usize, target: usize, n: i32): f64 {
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const d = <f64>load<f32>(pred + o) - <f64>load<f32>(target + o);
    sum += d * d;
  }
  return sum / <f64>n;
}

/** dpred = 2·(pred − target)/n. */
export function mse_backward(dpred: usize, pred: usize, target: usize, n: i32): void {
  const scale = <f32>(2.0 / <f64>n);
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dpred + o, (load<f32>(pred + o) - load<f32>(target + o)) * scale);
  }
}
