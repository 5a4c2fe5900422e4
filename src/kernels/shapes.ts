/**
 * Shape checks shared by the kernel wrappers: a kernel trusts its sizes, so a
 * wrong shape must be refused before the call, not discovered as garbage.
 *
 * @example
 * ```ts
 * import { arena } from "./arena.ts";
 * import { expectShape } from "./shapes.ts";
 * expectShape("bias", arena.f32([10]), 10);
 * ```
 * @module
 */
import type { Tensor } from "./arena.ts";

/**
 * Throws a `RangeError` naming `what` unless `t` is an f32 tensor of shape
 * [d0] or [d0, d1]. The dimensions are separate arguments, not an array, so a
 * check inside a training step allocates nothing.
 */
export function expectShape(what: string, t: Tensor, d0: number, d1?: number): void {
  const s = t.shape;
  const same = d1 === undefined ? s.length === 1 && s[0] === d0 : s.length === 2 && s[0] === d0 && s[1] === d1;
  if (!same) throw new RangeError(`${what}: expected shape [${d1 === undefined ? d0 : `${d0},${d1}`}], got [${s}]`);
  if (t.dtype !== "f32") throw new TypeError(`${what}: expected f32, got ${t.dtype}`);
}

/** Throws unless `t` is f32 with the same shape as `like`. */
export function expectSameShape(what: string, t: Tensor, like: Tensor): void {
  const a = t.shape, b = like.shape;
  let same = a.length === b.length;
  for (let i = 0; same && i < a.length; i++) same = a[i] === b[i];
  if (!same) throw new RangeError(`${what}: expected shape [${b}], got [${a}]`);
  if (t.dtype !== "f32") throw new TypeError(`${what}: expected f32, got ${t.dtype}`);
}

/** Throws unless `t` is f32 with `n` elements, whatever its shape (flat buffers). */
export function expectSize(what: string, t: Tensor, n: number): void {
  if (t.dtype !== "f32" || t.size !== n) {
    throw new RangeError(`${what}: expected ${n} f32 values, got ${t.size} ${t.dtype}`);
  }
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
