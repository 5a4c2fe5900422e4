/**
 * A job worker of src/experiment/run.ts: it has its own WebAssembly memory
 * (this thread never sets the shared one), trains the runs it is handed one
 * at a time, and reports each completed epoch, progress and the finished run.
 *
 * @example
 * ```ts
 * // started by runExperiment: new Worker(new URL("./job.ts", import.meta.url), { type: "module" })
 * ```
 * @module
 */
/// <reference lib="deno.worker" />
import { startThreads } from "../kernels/threads.ts";
import { type JobMessage, type JobOrder, trainRun } from "./run.ts";

let sizes = { train: 0, test: 0 };
let stop: string | null = null;
const post = (m: JobMessage) => self.postMessage(m);

self.onmessage = async (e: MessageEvent<JobOrder>) => {
  const order = e.data;
  if (order.type === "stop") {
    stop = order.reason;
  } else if (order.type === "setup") {
    sizes = { train: order.train, test: order.test };
    await startThreads(order.threads);
    post({ type: "ready" });
  } else {
    const { index } = order.run;
    try {
      const result = await trainRun(order.run, sizes, {
        onEpoch: (p) => post({ type: "epoch", index, testLoss: [...p.testLoss], trainLoss: [...p.trainLoss] }),
        onProgress: (epoch, step, steps, rate, testLoss) =>
          post({ type: "progress", index, epoch, step, steps, rate, testLoss }),
        stopRequested: () => stop,
      });
      post({ type: "done", result });
    } catch (err) {
      post({ type: "failed", index, message: err instanceof Error ? err.message : String(err) });
    }
  }
};
