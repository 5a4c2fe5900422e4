/**
 * The kernel workloads that `bench/kernels_bench.ts` (for `deno bench`) and
 * `bench/kernels.ts` (the GFLOP/s table) both measure: each case allocates
 * its tensors once and returns a closure that runs the kernel once, with the
 * floating-point operations or bytes that one run does.
 *
 * @example
 * ```ts
 * import { kernelCases } from "./cases.ts";
 * for (const c of kernelCases()) c.setup()();
 * ```
 * @module
 */
import { activation_backward, activation_forward } from "../src/kernels/activations.ts";
import { ADAM_DEFAULTS, adam_update } from "../src/kernels/adam.ts";
import { arena, type Tensor } from "../src/kernels/arena.ts";
import {
  batchnorm_backward,
  batchnorm_eval_forward,
  batchnorm_forward,
  batchnormSumsLength,
} from "../src/kernels/batchnorm.ts";
import { gather_rows, histogram_blocks } from "../src/kernels/data.ts";
import { linear_backward, linear_forward } from "../src/kernels/linear.ts";
import { mse_backward, mse_forward } from "../src/kernels/loss.ts";

/** One benchmarked kernel call. */
export interface KernelCase {
  /** e.g. `linear_forward 1024×1024→1024`. */
  name: string;
  /** Floating-point operations of one run (0 for a memory-bound kernel). */
  flops: number;
  /** Bytes read and written by one run (for GB/s). */
  bytes: number;
  /** Allocates the tensors and returns the run. */
  setup(): () => void;
}

function filled(shape: number[], seed: number): Tensor {
  const t = arena.f32(shape);
  const d = t.f32;
  let s = seed;
  for (let i = 0; i < d.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = s / 4294967296 - 0.5;
  }
  return t;
}

/** linear_forward and linear_backward (with dx) of a [N, in] → [N, out] layer. */
function linearCases(N: number, inF: number, outF: number): KernelCase[] {
  const size = `${N}×${inF}→${outF}`;
  return [
    {
      name: `linear_forward ${size}`,
      flops: 2 * N * inF * outF,
      bytes: 4 * (N * inF + inF * outF + N * outF),
      setup() {
        const x = filled([N, inF], 1), w = filled([outF, inF], 2), b = filled([outF], 3);
        const y = arena.f32([N, outF]), wt = arena.f32([inF * outF]);
        return () => linear_forward(y, x, w, b, wt);
      },
    },
    {
      name: `linear_backward ${size}`,
      flops: 4 * N * inF * outF,
      bytes: 4 * (2 * N * inF + 2 * inF * outF + N * outF),
      setup() {
        const x = filled([N, inF], 1), w = filled([outF, inF], 2), dy = filled([N, outF], 3);
        const dx = arena.f32([N, inF]), dw = arena.f32([outF, inF]), db = arena.f32([outF]);
        return () => linear_backward(dx, dw, db, dy, x, w);
      },
    },
  ];
}

/** Every kernel: Linear (the products) at large and the network's shapes, BN, activations, MSE, Adam, gather. */
export function kernelCases(): KernelCase[] {
  const cases: KernelCase[] = [
    ...linearCases(1024, 1024, 1024),
    ...linearCases(1024, 256, 256),
    ...linearCases(64, 10, 10),
  ];
  for (const [N, C] of [[1024, 1024], [64, 10]]) {
    const elems = N * C;
    cases.push(
      {
        name: `batchnorm_forward ${N}×${C}`,
        flops: 0,
        bytes: 8 * elems,
        setup() {
          const x = filled([N, C], 3), y = arena.f32([N, C]);
          const g = filled([C], 4), b = filled([C], 5), rm = arena.f32([C]), rv = arena.f32([C]);
          const mean = arena.f64([C]), rstd = arena.f64([C]);
          return () => batchnorm_forward(y, mean, rstd, rm, rv, x, g, b, 1e-5, 0.5, "torch");
        },
      },
      {
        name: `batchnorm_backward ${N}×${C}`,
        flops: 0,
        bytes: 12 * elems,
        setup() {
          const x = filled([N, C], 3), y = arena.f32([N, C]), dy = filled([N, C], 6), dx = arena.f32([N, C]);
          const g = filled([C], 4), b = filled([C], 5), rm = arena.f32([C]), rv = arena.f32([C]);
          const mean = arena.f64([C]), rstd = arena.f64([C]), sums = arena.f64([batchnormSumsLength(C)]);
          const dg = arena.f32([C]), db = arena.f32([C]);
          batchnorm_forward(y, mean, rstd, rm, rv, x, g, b, 1e-5, 0.5, "torch");
          return () => batchnorm_backward(dx, dg, db, sums, dy, x, g, mean, rstd);
        },
      },
      {
        name: `batchnorm_eval_forward ${N}×${C}`,
        flops: 0,
        bytes: 8 * elems,
        setup() {
          const x = filled([N, C], 3), y = arena.f32([N, C]);
          const g = filled([C], 4),
            b = filled([C], 5),
            rm = filled([C], 6),
            rv = arena.f32([C]).set(new Array(C).fill(1));
          return () => batchnorm_eval_forward(y, x, g, b, rm, rv, 1e-5);
        },
      },
      ...(["sigmoid", "relu"] as const).map((act) => ({
        name: `${act}_forward ${N}×${C}`,
        flops: 0,
        bytes: 8 * elems,
        setup() {
          const x = filled([N, C], 7), y = arena.f32([N, C]);
          return () => activation_forward(act, y, x);
        },
      })),
      {
        name: `tanh_forward ${N}×${C}`,
        flops: 0,
        bytes: 8 * elems,
        setup() {
          const x = filled([N, C], 7), y = arena.f32([N, C]);
          return () => activation_forward("tanh", y, x);
        },
      },
      {
        name: `tanh_backward ${N}×${C}`,
        flops: 0,
        bytes: 12 * elems,
        setup() {
          const y = filled([N, C], 7), dy = filled([N, C], 8), dx = arena.f32([N, C]);
          return () => activation_backward("tanh", dx, dy, y);
        },
      },
    );
  }
  for (const n of [1024, 64]) {
    cases.push(
      {
        name: `mse_forward+backward ${n}`,
        flops: 0,
        bytes: 12 * n,
        setup() {
          const p = filled([n, 1], 11), t = filled([n, 1], 12), d = arena.f32([n, 1]);
          return () => {
            mse_forward(p, t);
            mse_backward(d, p, t);
          };
        },
      },
      {
        name: `gather_rows ${n} of 16384`,
        flops: 0,
        bytes: 8 * n,
        setup() {
          const src = filled([16384, 1], 13), dst = arena.f32([n, 1]), index = arena.u32([16384]);
          index.u32.forEach((_, i, a) => a[i] = (i * 7919) % 16384);
          return () => gather_rows(dst, src, index, 0);
        },
      },
    );
  }
  for (const n of [3_148_801, 371]) {
    cases.push({
      name: `adam_update ${n} params`,
      flops: 0,
      bytes: 28 * n,
      setup() {
        const p = filled([n], 9), g = filled([n], 10), m = arena.f32([n]), v = arena.f32([n]);
        let t = 0;
        return () => adam_update(p, g, m, v, null, ADAM_DEFAULTS, ++t);
      },
    });
  }
  // A diagnostics snapshot of the notebook's network: 4 layers × 10 units × the 100 test rows, feature-major.
  cases.push({
    name: "histogram_blocks 4×10×100",
    flops: 0,
    bytes: 4 * 4000,
    setup() {
      const t = filled([4 * 10 * 100], 14);
      const at = { first: 0, blocks: 4, blockStride: 1000, rows: 10, rowStride: 100, cols: 100 };
      return () => histogram_blocks(t, at, { lo: -1, hi: 1, count: 20 });
    },
  });
  return cases;
}
