/**
 * `losses.csv`, appended to as epochs complete: the header when the run
 * starts, a row when an epoch completes, the final row when a run completes.
 * Nothing on disk is ever rewritten, so the cost of a row does not grow with
 * the number of runs, and the file is whole lines at every moment: an
 * interrupted or diverged run leaves every epoch it completed.
 *
 * Rows follow the plan's order whatever order parallel runs finish in: the
 * rows of the earliest unfinished run go straight to disk, and those of later
 * runs wait in memory until every run before them has finished.
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
    r.trainLoss.forEach((_, e) => lines.push(epochRow(r.run, r, e)));
    if (r.stopped === null) lines.push(finalRow(r.run, r));
  }
  return lines.join("\n") + "\n";
}

/** Epoch `e`'s row of `run`: the test loss at its start and its mean training loss. */
function epochRow(run: PlannedRun, r: Pick<TrainResult, "testLoss" | "trainLoss">, e: number): string {
  return lossRow(runKey(run), e, r.testLoss[e], r.trainLoss[e]);
}

/** The final row of a completed `run`: the test loss after its last epoch, no training loss. */
function finalRow(run: PlannedRun, r: Pick<TrainResult, "testLoss">): string {
  return lossRow(runKey(run), r.testLoss.length - 1, r.testLoss.at(-1)!);
}

/** The cells that name `run` in the CSV files. */
export function runKey(run: PlannedRun): RunKey {
  return { variant: run.group.variant, swept: run.group.configuration.swept, seed: run.seed };
}

/** Appends `losses.csv` in plan order as epochs complete. */
export class LossesWriter {
  readonly #file: Deno.FsFile;
  /** Lines of runs after the head, waiting for their turn. */
  readonly #waiting = new Map<number, string[]>();
  readonly #finished = new Set<number>();
  /** The earliest run not yet finished: its lines go straight to the file. */
  #head = 0;
  /** Writes in the order they were asked for. */
  #writes: Promise<void> = Promise.resolve();

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** Creates (or empties) the file at `path` and writes the header of `runs`' columns. */
  static async create(path: string, runs: readonly PlannedRun[]): Promise<LossesWriter> {
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    const writer = new LossesWriter(file);
    writer.#write([lossesHeader(runKey(runs[0]))]);
    await writer.#writes;
    return writer;
  }

  /** Epoch `trainLoss.length − 1` of `run` completed: its row. */
  epoch(run: PlannedRun, partial: Pick<TrainResult, "testLoss" | "trainLoss">): void {
    const e = partial.trainLoss.length - 1;
    this.#add(run.index, epochRow(run, partial, e));
  }

  /** `run` finished: the final row when it completed, then the rows of the runs that waited for it. */
  finish(run: PlannedRun, result: Pick<TrainResult, "testLoss" | "stopped">): void {
    if (result.stopped === null) {
      this.#add(run.index, finalRow(run, result));
    }
    this.#finished.add(run.index);
    const lines: string[] = [];
    while (this.#finished.has(this.#head)) {
      this.#head++;
      lines.push(...(this.#waiting.get(this.#head) ?? []));
      this.#waiting.delete(this.#head);
    }
    if (lines.length > 0) this.#write(lines);
  }

  /** Resolves when every row asked for so far that may be written is on disk. */
  flushed(): Promise<void> {
    return this.#writes;
  }

  /**
   * Waits for every write, then writes what still waits (runs after one that
   * never finished: an interrupted plan), in plan order, and closes the file.
   */
  async close(): Promise<void> {
    const rest = [...this.#waiting.keys()].sort((a, b) => a - b).flatMap((i) => this.#waiting.get(i)!);
    this.#waiting.clear();
    if (rest.length > 0) this.#write(rest);
    try {
      await this.#writes;
    } finally {
      this.#file.close();
    }
  }

  #add(index: number, line: string): void {
    if (index === this.#head) return this.#write([line]);
    const waiting = this.#waiting.get(index) ?? [];
    waiting.push(line);
    this.#waiting.set(index, waiting);
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
