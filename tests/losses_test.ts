// losses.csv is appended to as epochs complete, in plan order whatever order
// runs finish in, and is whole lines at every moment.
import assert from "node:assert/strict";
import { makePlan, NOTEBOOK_REQUEST } from "../src/experiment/plan.ts";
import { lossesHeader, lossRow } from "../src/outputs/csv.ts";
import { LossesWriter, runKey } from "../src/outputs/losses.ts";
import { inTempDir } from "./cli.ts";

const { runs } = makePlan({ ...NOTEBOOK_REQUEST, seeds: 2 }, { cores: 2, memory: null });

/** Run i's losses over `epochs` epochs: test losses 100·i + e, train losses 100·i + e + 0.5. */
function history(i: number, epochs: number) {
  return {
    testLoss: Array.from({ length: epochs + 1 }, (_, e) => 100 * i + e),
    trainLoss: Array.from({ length: epochs }, (_, e) => 100 * i + e + 0.5),
  };
}

/** The rows `run` would have in a file written all at once. */
function rowsOf(i: number, epochs: number): string[] {
  const h = history(i, epochs), key = runKey(runs[i]);
  return [...h.trainLoss.map((t, e) => lossRow(key, e, h.testLoss[e], t)), lossRow(key, epochs, h.testLoss[epochs])];
}

Deno.test("a later run's rows wait until the runs before it finish; the file only ever grows by whole lines", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/losses.csv`;
    const losses = await LossesWriter.create(path, runs);
    const seen: string[] = [];
    const step = async (what: () => void) => {
      what();
      await losses.flushed();
      const text = await Deno.readTextFile(path);
      assert.ok(text.endsWith("\n"), "whole lines only");
      assert.ok(text.startsWith(seen.at(-1) ?? ""), "nothing on disk was rewritten");
      seen.push(text);
    };
    const [h0, h1] = [history(0, 2), history(1, 2)];
    const epoch = (i: number, e: number, h: typeof h0) =>
      losses.epoch(runs[i], { testLoss: h.testLoss.slice(0, e + 1), trainLoss: h.trainLoss.slice(0, e + 1) });
    // Run 1 trains both its epochs and finishes while run 0 is in its first.
    await step(() => epoch(1, 0, h1));
    await step(() => epoch(1, 1, h1));
    await step(() => losses.finish(runs[1], { testLoss: h1.testLoss, stopped: null }));
    await step(() => epoch(0, 0, h0));
    assert.equal(seen.at(-1), [lossesHeader(runKey(runs[0])), rowsOf(0, 2)[0]].join("\n") + "\n");
    await step(() => epoch(0, 1, h0));
    await step(() => losses.finish(runs[0], { testLoss: h0.testLoss, stopped: null }));
    await losses.close();
    const all = [lossesHeader(runKey(runs[0])), ...rowsOf(0, 2), ...rowsOf(1, 2)].join("\n") + "\n";
    assert.equal(await Deno.readTextFile(path), all, "the same bytes as the file written in plan order");
  });
});

Deno.test("a stopped run keeps its completed epochs and has no final row", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/losses.csv`;
    const losses = await LossesWriter.create(path, runs);
    const h = history(0, 3);
    losses.epoch(runs[0], { testLoss: h.testLoss.slice(0, 1), trainLoss: h.trainLoss.slice(0, 1) });
    const stop = { reason: "interrupted" as const, epoch: 1, step: 4, detail: "SIGTERM" };
    losses.finish(runs[0], { testLoss: h.testLoss.slice(0, 1), stopped: stop });
    await losses.close();
    assert.equal(await Deno.readTextFile(path), [lossesHeader(runKey(runs[0])), rowsOf(0, 3)[0]].join("\n") + "\n");
  });
});

Deno.test("epoch rows reach the file at most once a second, and all of them when the run finishes", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/losses.csv`;
    let clock = 0;
    const losses = await LossesWriter.create(path, runs, () => clock);
    const h = history(0, 3);
    const epoch = (e: number) =>
      losses.epoch(runs[0], { testLoss: h.testLoss.slice(0, e + 1), trainLoss: h.trainLoss.slice(0, e + 1) });
    const rows = async () => (await Deno.readTextFile(path)).split("\n").length - 2;
    /** Waits until `want` rows are on disk (a write, once started, lands within milliseconds). */
    const until = async (want: number) => {
      const deadline = Date.now() + 10_000;
      while ((await rows()) !== want) {
        if (Date.now() > deadline) throw new Error(`${await rows()} rows on disk after 10 s, expected ${want}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    clock = 400;
    epoch(0);
    clock = 999;
    epoch(1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await rows(), 0, "no write within a second of the header");
    clock = 1000;
    epoch(2);
    await until(3); // a second on, the epochs so far together
    losses.finish(runs[0], { testLoss: h.testLoss, stopped: null });
    await until(4); // the final row when the run finishes
    await losses.close();
    assert.equal(await Deno.readTextFile(path), [lossesHeader(runKey(runs[0])), ...rowsOf(0, 3)].join("\n") + "\n");
  });
});
