/**
 * Test bodies that allocate in the shared arena and give it all back, pass or
 * fail; and guards that catch a kernel writing past its output.
 *
 * @example
 * ```ts
 * import { withArena } from "./scoped.ts";
 * import { arena } from "../src/kernels/arena.ts";
 * Deno.test("allocates", withArena(() => void arena.f32([4])));
 * ```
 * @module
 */
import { arena, type Tensor } from "../src/kernels/arena.ts";

/**
 * `fn` wrapped so that everything it allocates in the arena is released when
 * it returns or throws (for an async `fn`, when its promise settles).
 */
export function withArena(fn: () => void): () => void;
export function withArena(fn: () => Promise<void>): () => Promise<void>;
export function withArena(fn: () => void | Promise<void>): () => void | Promise<void> {
  return () => {
    const mark = arena.mark();
    let result: void | Promise<void>;
    try {
      result = fn();
    } catch (err) {
      arena.release(mark);
      throw err;
    }
    if (result instanceof Promise) return result.finally(() => arena.release(mark));
    arena.release(mark);
  };
}

/** Eight NaN floats allocated right after the last tensor: a kernel that writes past that tensor changes them. */
export function guardAfter(): Tensor {
  return arena.f32([8]).set(new Array(8).fill(NaN));
}

/** Fails naming `what` when a {@link guardAfter} block was written. */
export function assertUntouched(guard: Tensor, what: string): void {
  if (!guard.f32.every(Number.isNaN)) throw new Error(`${what} wrote past its output`);
}
