/**
 * A worker thread of src/threads.ts. It receives the shared memory, makes it
 * the one `src/memory.ts` exports in this thread (before any kernel module is
 * imported), reports ready, and serves jobs until stopped.
 *
 * @example
 * ```ts
 * // started by ThreadPool.start: new Worker(new URL("./worker.ts", import.meta.url), { type: "module" })
 * ```
 * @module
 */
/// <reference lib="deno.worker" />

interface Start {
  memory: WebAssembly.Memory;
  control: number;
  thread: number;
  /** The job counter when the pool started this worker: it serves every job after it. */
  generation: number;
}

self.onmessage = async (e: MessageEvent<Start>) => {
  (globalThis as { bnlabMemory?: WebAssembly.Memory }).bnlabMemory = e.data.memory;
  const { serve } = await import("./threads.ts");
  self.postMessage("ready");
  serve(e.data.control, e.data.thread, e.data.generation);
  self.close();
};
