/**
 * Typed wrappers of `kernels/matmul.ts`: the matrix products behind `linear`,
 * named with BLAS's transpose letters (N: as stored, T: transposed), all run
 * by one register-blocked f32x4 kernel with fused multiply-adds.
 *
 * @example
 * ```ts
 * import { arena } from "./arena.ts";
 * import { matmul_nt } from "./matmul.ts";
 * const a = arena.f32([2, 3]).set([1, 2, 3, 4, 5, 6]);
 * const b = arena.f32([1, 3]).set([1, 1, 1]);
 * const out = arena.f32([2, 1]);
 * matmul_nt(out, a, b, null, arena.f32([3, 1])); // out = [6, 15]
 * ```
 * @module
 */
import * as k from "../../kernels/build/matmul.wasm";
import { arena, type Tensor } from "./arena.ts";
import { expectScratch, expectShape } from "./shapes.ts";

/**
 * The calling thread's packing space for the matmul kernel, allocated once.
 * (Worker threads get theirs from the main thread: only it allocates.)
 */
export const GEMM_SCRATCH: Tensor = arena.f32([k.gemm_scratch_bytes() / 4]);

/** Bytes of packing scratch one thread's matmuls need. */
export function gemmScratchBytes(): number {
  return k.gemm_scratch_bytes();
}

/** Rows of C one register tile covers: thread splits of a product are multiples of it. */
export const GEMM_ROWS = 6;

/** out[M,N] = a[M,K]·b[N,K]ᵀ (+ bias[N]); `bt` is scratch of at least K·N floats for bᵀ. */
export function matmul_nt(out: Tensor, a: Tensor, b: Tensor, bias: Tensor | null, bt: Tensor): void {
  const [M, K] = a.shape, N = b.shape[0];
  expectShape("matmul_nt b", b, N, K);
  expectShape("matmul_nt out", out, M, N);
  if (bias) expectShape("matmul_nt bias", bias, N);
  expectScratch("matmul_nt bt", bt, K * N);
  k.matmul_nt(out.ptr, a.ptr, b.ptr, bias?.ptr ?? 0, bt.ptr, GEMM_SCRATCH.ptr, M, N, K);
}

/** out[M,N] += a[M,K]·b[K,N]. */
export function matmul_nn_add(out: Tensor, a: Tensor, b: Tensor): void {
  const [M, K] = a.shape, N = b.shape[1];
  expectShape("matmul_nn_add b", b, K, N);
  expectShape("matmul_nn_add out", out, M, N);
  k.matmul_nn_add(out.ptr, a.ptr, b.ptr, GEMM_SCRATCH.ptr, M, N, K);
}

/** out[M,N] += a[K,M]ᵀ·b[K,N]. */
export function matmul_tn_add(out: Tensor, a: Tensor, b: Tensor): void {
  const [K, M] = a.shape, N = b.shape[1];
  expectShape("matmul_tn_add b", b, K, N);
  expectShape("matmul_tn_add out", out, M, N);
  k.matmul_tn_add(out.ptr, a.ptr, b.ptr, GEMM_SCRATCH.ptr, M, N, K);
}
