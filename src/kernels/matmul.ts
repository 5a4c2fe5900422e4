/**
 * What `kernels/matmul.ts` shares with its callers: the packing scratch of
 * the register-blocked f32x4 product behind every Linear layer (its products
 * are reached through `linear.ts`, the one API for them), and the row count of
 * its tile, which thread splits are multiples of.
 *
 * @example
 * ```ts
 * import { gemmScratchBytes, GEMM_ROWS } from "./matmul.ts";
 * gemmScratchBytes(); // bytes of packing space one thread needs
 * GEMM_ROWS; // 6
 * ```
 * @module
 */
import * as k from "bnlab-kernels/matmul.wasm";
import { arena, type Tensor } from "./arena.ts";

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
