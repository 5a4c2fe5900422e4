/**
 * Shape checks shared by the kernel wrappers: a kernel trusts its sizes, so a
 * wrong shape must be refused before the call, not discovered as garbage.
 *
 * @example
 * ```ts
 * import { arena } from "./arena.ts";
 * import { expectShape } from "./shapes.ts";
 * expectShape("bias", arena.f32([10]), [10]);
 * ```
 * @module
 */
import type { Tensor } from "./arena.ts";

/** Throws a `RangeError` naming `what` unless `t` has exactly `shape` and is f32. */
export function expectShape(what: string, t: Tensor, shape: readonly number[]): void {
  const same = t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
  if (!same) throw new RangeError(`${what}: expected shape [${shape}], got [${t.shape}]`);
  if (t.dtype !== "f32") throw new TypeError(`${what}: expected f32, got ${t.dtype}`);
}

/** Throws unless `t` is an f64 vector of `n` elements (the kernels' f64 caches and scratch). */
export function expectF64(what: string, t: Tensor, n: number): void {
  if (t.dtype !== "f64" || t.size !== n) {
    throw new RangeError(`${what}: expected ${n} f64 values, got ${t.size} ${t.dtype}`);
  }
}

/** Throws unless `t` is f32 scratch of at least `n` elements. */
export function expectScratch(what: string, t: Tensor, n: number): void {
  if (t.dtype !== "f32" || t.size < n) {
    throw new RangeError(`${what}: expected f32 scratch of ${n}, got ${t.size} ${t.dtype}`);
  }
}
