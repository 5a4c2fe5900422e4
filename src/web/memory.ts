/**
 * The one `WebAssembly.Memory` of the playground's single-thread bundles
 * (`page-single.js`, `page-compat.js`): not shared, because browsers give
 * shared memory only to cross-origin isolated pages, and a static host may
 * not send the headers for that. The bundles' import map (src/web/single.json,
 * compat.json) maps `env`, the name the kernels and the TypeScript both import
 * the memory by, here, so that there is still exactly one memory.
 *
 * @example
 * ```ts
 * import { memory } from "./memory.ts";
 * memory.buffer instanceof ArrayBuffer; // true: not a SharedArrayBuffer
 * ```
 * @module
 */

import { MAX_PAGES } from "../kernels/pages.ts";

export { MAX_PAGES, PAGE_BYTES } from "../kernels/pages.ts";

/** The linear memory: one page to start with; it grows on demand (src/kernels/arena.ts). */
export const memory: WebAssembly.Memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES });
