/**
 * Test bodies that allocate in the shared arena and give it all back, pass or fail.
 *
 * @example
 * ```ts
 * import { withArena } from "./scoped.ts";
 * import { arena } from "../src/kernels/arena.ts";
 * Deno.test("allocates", withArena(() => void arena.f32([4])));
 * ```
 * @module
 */
import { arena } from "../src/kernels/arena.ts";

/** `fn` wrapped so that everything it allocates in the arena is released when it returns or throws. */
export function withArena(fn: () => void): () => void {
  return () => {
    const mark = arena.mark();
    try {
      fn();
    } finally {
      arena.release(mark);
    }
  };
}
