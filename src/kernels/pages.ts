/**
 * The sizes of WebAssembly memory, apart from the memory itself (creating it
 * is a side effect the plan and the model files do not need).
 *
 * @example
 * ```ts
 * import { MAX_PAGES, PAGE_BYTES } from "./pages.ts";
 * MAX_PAGES * PAGE_BYTES; // 4 GiB
 * ```
 * @module
 */

/** Bytes in one WebAssembly page. */
export const PAGE_BYTES = 65536;

/** The most pages a wasm32 memory can have (4 GiB); the kernels declare this maximum. */
export const MAX_PAGES = 65536;
