import * as k from "./kernels/build/peak.wasm";
for (const iters of [1e5, 1e6, 1e7]) {
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    const reps = 2e7 / iters;
    for (let i = 0; i < reps; i++) k.peak_fma(iters, 1);
    const s = (performance.now() - t0) / 1000;
    console.log(iters, r, (2e7 * 96 / s / 1e9).toFixed(1));
  }
}
