/**
 * The one `WebAssembly.Memory` that every kernel module imports as
 * `env.memory` (deno.json maps the bare specifier `env` to this file, and the
 * TypeScript that needs the memory imports it by that name too, so that the
 * playground's single-thread bundles can put src/web/memory.ts in its place),
 * so tensors written by one kernel are read in place by the next.
 *
 * @example
 * ```ts
 * import { memory } from "./memory.ts";
 * const view = new Float32Array(memory.buffer, 1024, 16);
 * ```
 * @module
 */

import { MAX_PAGES } from "./pages.ts";

export { MAX_PAGES, PAGE_BYTES } from "./pages.ts";

/**
 * The shared linear memory. It starts at one page and grows on demand
 * (src/arena.ts). It is a shared memory so that worker threads
 * (src/threads.ts) run kernels on the same tensors: a worker receives it from
 * the main thread and sets `globalThis.bnlabMemory` before importing any kernel.
 */
export const memory: WebAssembly.Memory = (globalThis as { bnlabMemory?: WebAssembly.Memory }).bnlabMemory ??
  new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
