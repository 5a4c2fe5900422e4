/**
 * A bound on waiting: nothing bnlab starts (a worker thread, a subprocess, a
 * browser) is awaited forever. This is a hang detector, not a speed limit:
 * bounds are generous, and the message says what did not answer.
 *
 * @example
 * ```ts
 * import { within } from "./deadline.ts";
 * const text = await within(fetch("http://127.0.0.1:8000/").then((r) => r.text()), 30_000, "the local server");
 * ```
 * @module
 */

/** Rejected by {@link within} when the time is up. */
class DeadlineError extends Error {}

/**
 * `promise`, or a {@link DeadlineError} "`what` did not finish within N s"
 * after `ms` milliseconds. The timer is cleared either way, so it keeps no
 * event loop alive.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
