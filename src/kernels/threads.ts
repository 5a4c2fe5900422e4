/**
 * Worker threads that share the kernels' memory. A job is one kernel whose
 * last two parameters are the range [lo, hi) of output rows, columns or
 * elements it computes; the pool splits [0, total) into one contiguous part
 * per thread (multiples of `align`), the calling thread takes the first part
 * and the workers the others. Disjoint output ranges, each computed with the
 * same operations in the same order, make the results bit-identical whatever
 * the number of threads.
 *
 * Workers are woken through `Atomics` on a control block in the shared memory
 * (a message round trip would cost more than a small job): the caller writes
 * the job, bumps a generation counter and notifies; each worker spins briefly,
 * then waits on that counter, counts itself as having taken the job, runs its
 * part, and counts itself done.
 *
 * The protocol never depends on when a worker starts listening: the pool
 * hands each worker the generation it must wait past, so a job published
 * before a worker first reads the counter is still seen. And it never waits
 * forever: a worker that has not taken a job {@link TAKE_DEADLINE_MS} after
 * it was published fails the job with an error instead of hanging the caller.
 *
 * @example
 * ```ts
 * import { startThreads, stopThreads } from "./threads.ts";
 * await startThreads(2); // from now on large kernels use two threads
 * stopThreads();
 * ```
 * @module
 */
import * as activations from "bnlab-kernels/activations.wasm";
import * as batchnorm from "bnlab-kernels/batchnorm.wasm";
import * as linear from "bnlab-kernels/linear.wasm";
import * as matmul from "bnlab-kernels/matmul.wasm";
import { arena } from "./arena.ts";
import { within } from "./deadline.ts";
import { memory } from "env";

// deno-lint-ignore no-explicit-any
type Kernel = (...args: any[]) => unknown;

/** The kernels a job can run; each takes [lo, hi) as its last two arguments. */
export const KERNELS = {
  linear_forward: linear.linear_forward,
  linear_backward_input: linear.linear_backward_input,
  linear_backward_weight: linear.linear_backward_weight,
  batchnorm_forward: batchnorm.batchnorm_forward,
  batchnorm_backward: batchnorm.batchnorm_backward,
  tanh_forward: activations.tanh_forward,
  sigmoid_forward: activations.sigmoid_forward,
  relu_forward: activations.relu_forward,
} satisfies Record<string, Kernel>;

/** The name of a kernel that threads can share. */
export type ParallelKernel = keyof typeof KERNELS;

const BY_INDEX: Kernel[] = Object.values(KERNELS);
const INDEX = new Map(Object.keys(KERNELS).map((name, i) => [name, i]));

const MAX_ARGS = 16;
// Control block: i32 slots, then f64 arguments from byte 64.
const GEN = 0, DONE = 1, KERNEL = 2, NARGS = 3, TOTAL = 4, ALIGN = 5, THREADS = 6, SCRATCH_ARG = 7;
const SCRATCH_BASE = 8, SCRATCH_STRIDE = 9;
/** Workers that have read the current job (a worker that never does is stuck, not slow). */
const TAKEN = 10;
/** The first worker whose part threw (its thread number), or 0. */
const FAILED = 11;
const ARGS_BYTE = 64;
const CONTROL_BYTES = ARGS_BYTE + 8 * MAX_ARGS;
const STOP = -1;
/** Spins of a waiting thread before it sleeps in Atomics.wait (about 20–50 µs). */
const SPINS = 20000;

/**
 * How long a published job (or the stop request) may go untaken by a worker
 * before the pool reports itself stuck. A worker takes a job within
 * microseconds, or milliseconds on a loaded machine; this bound is a hang
 * detector, not a speed limit, and running the part itself has none.
 */
const TAKE_DEADLINE_MS = 30_000;

/** How long a worker may take to load its modules and report ready. */
const START_DEADLINE_MS = 60_000;

/** [lo, hi) of part `t` of `n` over [0, total), parts being multiples of `align`. */
export function part(total: number, align: number, n: number, t: number): [number, number] {
  const chunk = Math.ceil(total / align / n) * align;
  const lo = Math.min(t * chunk, total);
  return [lo, Math.min(lo + chunk, total)];
}

/** Waits until `ctrl[index]` is no longer `value`: spins, then sleeps. */
function waitWhile(ctrl: Int32Array, index: number, value: number): void {
  for (let i = 0; i < SPINS; i++) if (Atomics.load(ctrl, index) !== value) return;
  while (Atomics.load(ctrl, index) === value) Atomics.wait(ctrl, index, value);
}

function views(control: number): { ctrl: Int32Array; args: Float64Array } {
  return {
    ctrl: new Int32Array(memory.buffer, control, ARGS_BYTE / 4),
    args: new Float64Array(memory.buffer, control + ARGS_BYTE, MAX_ARGS),
  };
}

/** Runs thread `t`'s part of the current job. */
function runPart(ctrl: Int32Array, args: Float64Array, t: number, call: number[]): void {
  const n = ctrl[NARGS];
  call.length = n;
  for (let i = 0; i < n; i++) call[i] = args[i];
  const scratchArg = ctrl[SCRATCH_ARG];
  if (scratchArg >= 0 && t > 0) call[scratchArg] = ctrl[SCRATCH_BASE] + (t - 1) * ctrl[SCRATCH_STRIDE];
  const [lo, hi] = part(ctrl[TOTAL], ctrl[ALIGN], ctrl[THREADS], t);
  if (lo < hi) BY_INDEX[ctrl[KERNEL]](...call, lo, hi);
}

/**
 * A worker's loop (src/worker.ts): wait for each job after `generation`, run
 * this thread's part, repeat until told to stop. `generation` is the counter's
 * value when the pool started the worker, so a job published before this loop
 * first looks is not missed.
 */
export function serve(control: number, thread: number, generation: number): void {
  const { ctrl, args } = views(control);
  const call: number[] = [];
  for (let gen = generation;;) {
    waitWhile(ctrl, GEN, gen);
    gen = Atomics.load(ctrl, GEN);
    Atomics.add(ctrl, TAKEN, 1);
    const stop = ctrl[KERNEL] === STOP;
    if (!stop) {
      try {
        runPart(ctrl, args, thread, call);
      } catch {
        Atomics.compareExchange(ctrl, FAILED, 0, thread);
      }
    }
    Atomics.add(ctrl, DONE, 1);
    Atomics.notify(ctrl, DONE);
    if (stop) return;
  }
}

/** How a pool starts; the defaults are what bnlab runs with. */
export interface PoolOptions {
  /** The worker module; tests substitute one that misbehaves. Default: src/worker.ts. */
  worker?: URL;
  /** See {@link TAKE_DEADLINE_MS}, the default. */
  takeDeadlineMs?: number;
}

/** The calling thread plus `size − 1` workers. */
export class ThreadPool {
  /** Threads in the pool, the calling one included. */
  readonly size: number;
  readonly #workers: Worker[];
  readonly #ctrl: Int32Array;
  readonly #args: Float64Array;
  readonly #call: number[] = [];
  /** The arena range [start, end) of the control block and scratch, given back on stop when nothing lies above. */
  readonly #start: number;
  readonly #end: number;
  readonly #takeDeadlineMs: number;
  #state: "running" | "stopped" | "stuck" = "running";
  /** Jobs run so far (split over the threads). */
  jobs = 0;

  private constructor(
    size: number,
    workers: Worker[],
    control: number,
    arenaRange: [number, number],
    deadline: number,
  ) {
    this.size = size;
    this.#workers = workers;
    // The memory is shared: growing it never detaches these views.
    ({ ctrl: this.#ctrl, args: this.#args } = views(control));
    [this.#start, this.#end] = arenaRange;
    this.#takeDeadlineMs = deadline;
  }

  /** Starts `size − 1` workers and resolves when they are ready (or rejects, leaving none running). */
  static async start(size: number, options: PoolOptions = {}): Promise<ThreadPool> {
    const script = options.worker ?? new URL("./worker.ts", import.meta.url);
    // Asked first: a worker without read permission would prompt on a terminal.
    if (
      script.protocol === "file:" &&
      Deno.permissions.querySync({ name: "read", path: script }).state !== "granted"
    ) {
      throw new Error(`no read permission for ${script.pathname}, which worker threads load`);
    }
    const start = arena.mark();
    const control = arena.f64([CONTROL_BYTES / 8]);
    const stride = matmul.gemm_scratch_bytes();
    const scratch = arena.f32([(size - 1) * stride / 4]);
    const { ctrl } = views(control.ptr);
    ctrl[SCRATCH_BASE] = scratch.ptr;
    ctrl[SCRATCH_STRIDE] = stride;
    const workers: Worker[] = [];
    const deadline = options.takeDeadlineMs ?? TAKE_DEADLINE_MS;
    const pool = new ThreadPool(size, workers, control.ptr, [start, arena.mark()], deadline);
    const ready: Promise<void>[] = [];
    for (let t = 1; t < size; t++) {
      const w = new Worker(script, { type: "module" });
      ready.push(
        new Promise((resolve, reject) => {
          w.onmessage = () => resolve();
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`worker thread ${t} failed to start: ${e.message}`));
          };
        }),
      );
      w.postMessage({ memory, control: control.ptr, thread: t, generation: Atomics.load(ctrl, GEN) });
      workers.push(w);
    }
    try {
      await within(Promise.all(ready), START_DEADLINE_MS, `starting ${size - 1} worker threads`);
    } catch (err) {
      pool.#terminate("stuck");
      throw err;
    }
    return pool;
  }

  /**
   * Runs `kernel` with `args` over [0, total) on every thread and returns when
   * all parts are done. The argument at `scratchArg` (or none, for -1) is
   * replaced by each worker's own packing scratch. Throws when a part threw,
   * or when a worker did not take the job within the pool's deadline
   * ({@link TAKE_DEADLINE_MS} by default; the pool is then unusable).
   */
  run(kernel: ParallelKernel, total: number, align: number, scratchArg: number, ...args: number[]): void {
    if (this.#state !== "running") throw new Error(`the thread pool is ${this.#state}`);
    const ctrl = this.#ctrl, slots = this.#args;
    this.jobs++;
    ctrl[KERNEL] = INDEX.get(kernel)!;
    ctrl[NARGS] = args.length;
    ctrl[TOTAL] = total;
    ctrl[ALIGN] = align;
    ctrl[THREADS] = this.size;
    ctrl[SCRATCH_ARG] = scratchArg;
    slots.set(args);
    this.#publish();
    let own: { error: unknown } | null = null;
    try {
      runPart(ctrl, slots, 0, this.#call);
    } catch (error) {
      own = { error };
    }
    // Even when this thread's part threw, the workers are still writing: wait for them.
    if (!this.#awaitWorkers()) {
      this.#terminate("stuck");
      throw new Error(
        `thread pool stuck: a worker did not take the ${kernel} job within ${this.#takeDeadlineMs / 1000} s`,
      );
    }
    if (own) throw own.error;
    const failed = Atomics.load(ctrl, FAILED);
    if (failed !== 0) throw new Error(`${kernel} failed on worker thread ${failed}`);
  }

  /** Stops the workers (each acknowledges first, so none touches the control block afterwards). */
  stop(): void {
    if (this.#state !== "running") return;
    this.#ctrl[KERNEL] = STOP;
    this.#publish();
    const acknowledged = this.#awaitWorkers();
    this.#terminate(acknowledged ? "stopped" : "stuck");
    // Give the control block and scratch back when nothing was allocated after them.
    if (acknowledged && arena.used === this.#end) arena.release(this.#start);
  }

  /** Makes the job in the control block the next generation and wakes the workers. */
  #publish(): void {
    const ctrl = this.#ctrl;
    Atomics.store(ctrl, DONE, 0);
    Atomics.store(ctrl, TAKEN, 0);
    Atomics.store(ctrl, FAILED, 0);
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);
  }

  /**
   * Waits until every worker counted itself done; false when one had not even
   * taken the job within the pool's deadline after it was published.
   */
  #awaitWorkers(): boolean {
    const ctrl = this.#ctrl, workers = this.size - 1;
    for (let i = 0; i < SPINS; i++) if (Atomics.load(ctrl, DONE) >= workers) return true;
    const deadline = performance.now() + this.#takeDeadlineMs;
    for (let done = Atomics.load(ctrl, DONE); done < workers; done = Atomics.load(ctrl, DONE)) {
      // Sleep in slices, so that a job nobody took is noticed.
      Atomics.wait(ctrl, DONE, done, 100);
      if (Atomics.load(ctrl, TAKEN) < workers && performance.now() > deadline) return false;
    }
    return true;
  }

  #terminate(state: "stopped" | "stuck"): void {
    this.#state = state;
    for (const w of this.#workers) w.terminate();
  }
}

let current: ThreadPool | null = null;

/** The process's pool, or null when kernels run on the calling thread only. */
export function threadPool(): ThreadPool | null {
  return current;
}

/** Makes large kernels use `n` threads from now on (n = 1 stops the workers). */
export async function startThreads(n: number): Promise<void> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`threads must be a whole number ≥ 1, got ${n}`);
  if (current?.size === n) return;
  stopThreads();
  if (n > 1) current = await ThreadPool.start(n);
}

/** Back to one thread. */
export function stopThreads(): void {
  current?.stop();
  current = null;
}

/**
 * Work (in floating-point operations or their equivalent) below which a
 * kernel stays on the calling thread: waking a worker costs some 10–50 µs.
 */
const MIN_PARALLEL_WORK = 2_000_000;

/**
 * Runs `kernel(...args, lo, hi)` over [0, total): split over the pool (see
 * {@link ThreadPool.run}) when there is one and `work` (flops or their
 * equivalent) is worth it, else in one call on this thread. Every threaded
 * wrapper calls this, with its argument list once.
 */
export function dispatch(
  work: number,
  kernel: ParallelKernel,
  total: number,
  align: number,
  scratchArg: number,
  ...args: number[]
): void {
  if (current !== null && work >= MIN_PARALLEL_WORK) current.run(kernel, total, align, scratchArg, ...args);
  else (KERNELS[kernel] as Kernel)(...args, 0, total);
}
