/**
 * What the charts use of vega and vega-lite, in one module: the entry of the
 * bundle `deno task build` makes of them (src/outputs/vega.bundle.js,
 * committed), and the types of that bundle.
 *
 * Importing the npm packages directly loads some 60 packages and, through
 * their Node builds (vega-loader reads files with node:fs), much of Deno's
 * Node compatibility layer: about 115 ms of every `deno task train`. The
 * bundle is the same code built for the browser platform (no node:fs: the
 * charts only render inline data) in one file, which loads in about 25 ms.
 *
 * @example
 * ```ts
 * // @ts-types="./vega.ts"
 * import { compile, parse, View } from "./vega.bundle.js";
 * ```
 * @module
 */
export { parse, View } from "vega";
export { compile } from "vega-lite";
