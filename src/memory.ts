/**
 * The one `WebAssembly.Memory` that every kernel module imports as
 * `env.memory` (deno.json maps the bare specifier `env` to this file), so
 * tensors written by one kernel are read in place by the next.
 *
 * @example
 * ```ts
 * import { memory } from "./memory.ts";
 * const view = new Float32Array(memory.buffer, 1024, 16);
 * ```
 * @module
 */

/** Bytes in one WebAssembly page. */
export const PAGE_BYTES = 65536;

/** The shared linear memory. It starts at one page and grows on demand (src/arena.ts). */
export const memory: WebAssembly.Memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
