/**
 * `losses.csv`, appended to as epochs complete: the header when the run
 * starts, a row per completed epoch, the final row when a run completes (rows
 * reach the file at the end of an epoch at most once a second, and when a run
 * finishes or the file is closed). Nothing on disk is ever rewritten, so the
 * cost of a row does not grow with the number of runs, and the file is whole
 * lines at every moment: an interrupted or diverged run leaves every epoch it
 * completed.
 *
 * Rows follow the plan's order whatever order parallel runs finish in: the
 * rows of the earliest unfinished run go to disk, and those of later runs
 * wait in memory until every run before them has finished.
 *
 * @example
 * ```ts
 * import { LossesWriter } from "./losses.ts";
 * const losses = await LossesWriter.create("runs/demo/losses.csv", plan.runs);
 * losses.epoch(run, { testLoss: [60], trainLoss: [70] });
 * losses.finish(run, result);
 * await losses.close();
 * ```
 * @module
 */
import type { PlannedRun } from "../experiment/plan.ts";
import type { TrainResult } from "../net/train.ts";
import { lossesHeader, lossRow, type RunKey } from "./csv.ts";

/**
 * The whole `losses.csv` of finished runs, in plan order: what a
 * {@link LossesWriter} leaves on disk once every run has finished (the
 * browser page offers it for download).
 */
export function lossesCsv(
  results: readonly (Pick<TrainResult, "testLoss" | "trainLoss" | "stopped"> & {
    run: PlannedRun;
  })[],
): string {
  const lines = [lossesHeader(runKey(results[0].run))];
  for (const r of [...results].sort((a, b) => a.run.index - b.run.index)) {
    r.trainLoss.forEach((_, e) => lines.push(line(epochRow(r.run, r, e))));
    if (r.stopped === null) lines.push(line(finalRow(r.run, r)));
  }
  return lines.join("\n") + "\n";
}

/** A row of `losses.csv` before it is formatted: an epoch row has the epoch's mean training loss, a final row none. */
interface Row {
  run: PlannedRun;
  epoch: number;
  testLoss: number;
  trainLoss?: number;
}

/** Epoch `e`'s row of `run`: the test loss at its start and its mean training loss. */
function epochRow(run: PlannedRun, r: Pick<TrainResult, "testLoss" | "trainLoss">, e: number): Row {
  return { run, epoch: e, testLoss: r.testLoss[e], trainLoss: r.trainLoss[e] };
}

/** The final row of a completed `run`: the test loss after its last epoch, no training loss. */
function finalRow(run: PlannedRun, r: Pick<TrainResult, "testLoss">): Row {
  return { run, epoch: r.testLoss.length - 1, testLoss: r.testLoss.at(-1)! };
}

/** `row` as a line of the file. */
function line(row: Row): string {
  return lossRow(runKey(row.run), row.epoch, row.testLoss, row.trainLoss);
}

/** The cells that name `run` in the CSV files. */
export function runKey(run: PlannedRun): RunKey {
  return { variant: run.group.variant, swept: run.group.configuration.swept, seed: run.seed };
}

/**
 * How often, at most, epoch rows are handed to the file, in milliseconds: a
 * row reaches it at the end of the first epoch at least this long after the
 * last write, or when its run finishes. Long epochs still show on disk one by
 * one; the notebook's 10-epoch runs, done in a few milliseconds, write once
 * each instead of starting a write at every epoch of the timed training.
 */
const WRITE_INTERVAL_MS = 1000;

/** Appends `losses.csv` in plan order as epochs complete. */
export class LossesWriter {
  readonly #file: Deno.FsFile;
  /** Rows of runs after the head, waiting for their turn. */
  readonly #waiting = new Map<number, Row[]>();
  readonly #finished = new Set<number>();
  /** The earliest run not yet finished: its rows are ready to be written. */
  #head = 0;
  /** Rows that may be written, in the file's order, not yet handed to it. */
  #ready: Row[] = [];
  /** The clock of {@link WRITE_INTERVAL_MS}, in milliseconds. */
  readonly #now: () => number;
  /** When rows were last handed to the file. */
  #lastWrite: number;
  /** Writes in the order they were asked for. */
  #writes: Promise<void> = Promise.resolve();

  private constructor(file: Deno.FsFile, now: () => number) {
    this.#file = file;
    this.#now = now;
    this.#lastWrite = now();
  }

  /**
   * Creates (or empties) the file at `path` and writes the header of `runs`'
   * columns. `now` is the clock the rows' writes are spaced by (a test's own).
   */
  static async create(
    path: string,
    runs: readonly PlannedRun[],
    now: () => number = () => performance.now(),
  ): Promise<LossesWriter> {
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    const writer = new LossesWriter(file, now);
    writer.#write([lossesHeader(runKey(runs[0]))]);
    await writer.#writes;
    return writer;
  }

  /** Epoch `trainLoss.length − 1` of `run` completed: its row (on disk within about {@link WRITE_INTERVAL_MS}). */
  epoch(run: PlannedRun, partial: Pick<TrainResult, "testLoss" | "trainLoss">): void {
    const e = partial.trainLoss.length - 1;
    this.#add(run.index, epochRow(run, partial, e));
    if (this.#now() - this.#lastWrite >= WRITE_INTERVAL_MS) this.#writeReady();
  }

  /** `run` finished: the final row when it completed, then the rows of the runs that waited for it. */
  finish(run: PlannedRun, result: Pick<TrainResult, "testLoss" | "stopped">): void {
    if (result.stopped === null) {
      this.#add(run.index, finalRow(run, result));
    }
    this.#finished.add(run.index);
    while (this.#finished.has(this.#head)) {
      this.#head++;
      this.#ready.push(...(this.#waiting.get(this.#head) ?? []));
      this.#waiting.delete(this.#head);
    }
    this.#writeReady();
  }

  /** Hands the rows that may be written to the file; resolves when they and every earlier row are on disk. */
  flushed(): Promise<void> {
    this.#writeReady();
    return this.#writes;
  }

  /**
   * Waits for every write, then writes what still waits (runs after one that
   * never finished: an interrupted plan), in plan order, and closes the file.
   */
  async close(): Promise<void> {
    for (const i of [...this.#waiting.keys()].sort((a, b) => a - b)) this.#ready.push(...this.#waiting.get(i)!);
    this.#waiting.clear();
    this.#writeReady();
    try {
      await this.#writes;
    } finally {
      this.#file.close();
    }
  }

  #add(index: number, row: Row): void {
    if (index === this.#head) {
      this.#ready.push(row);
      return;
    }
    const waiting = this.#waiting.get(index) ?? [];
    waiting.push(row);
    this.#waiting.set(index, waiting);
  }

  #writeReady(): void {
    if (this.#ready.length === 0) return;
    const lines = this.#ready.map(line);
    this.#ready = [];
    this.#lastWrite = this.#now();
    this.#write(lines);
  }

  #write(lines: string[]): void {
    const bytes = new TextEncoder().encode(lines.join("\n") + "\n");
    this.#writes = this.#writes.then(() => writeAll(this.#file, bytes));
  }
}

/** Writes all of `bytes` (a write may take only part of them). */
async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
}
