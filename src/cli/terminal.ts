/**
 * What the train command prints while it works: the plan's first lines (the
 * run count, the BN sanity check, the training settings), a progress line
 * redrawn in place on a terminal's stderr, and a line per finished run.
 *
 * @example
 * ```ts
 * import { announce } from "./terminal.ts";
 * announce(plan, console.log); // "3 runs (1 configuration × 1 seed × 3 variants)", …
 * ```
 * @module
 */
import type { Plan } from "../experiment/plan.ts";
import type { ExperimentProgress, RunResult } from "../experiment/run.ts";
import { formatLoss } from "../experiment/summary.ts";
import type { SweepKey } from "../experiment/sweep.ts";
import { sanityLines } from "../net/sanity.ts";
import { MAX_DIAGNOSED_GROUPS } from "../experiment/plan.ts";
import type { Written } from "../outputs/write.ts";
import { runCount } from "./messages.ts";

/** Prints the plan's first lines through `say`. */
export function announce(plan: Plan, say: (line?: string) => void): void {
  const { request: r } = plan;
  say(runCount(plan.runs.length, plan.configurations.length, plan.seeds.length, r.variants.length));
  if (plan.diagnosticsSkipped) {
    say(
      `(no per-layer diagnostics for ${plan.groups.length} groups, more than ${MAX_DIAGNOSED_GROUPS}: add --diagnostics)`,
    );
  }
  for (const line of sanityLines(r.grid.momentum[0], r.bnInit, r.seed)) say(line);
  const list = (key: SweepKey) => r.grid[key].join(",");
  say(
    `\nTraining ${r.variants.join(", ")}: ${r.epochs} epochs, batch ${list("batchSize")}, lr ${list("lr")}, ` +
      `${list("layers")}×${list("hidden")} ${list("activation")}, momentum ${list("momentum")}, ` +
      (plan.seeds.length > 1 ? `seeds ${plan.seeds[0]}–${plan.seeds.at(-1)}` : `seed ${plan.seeds[0]}`) +
      (plan.threads > 1 ? `, ${plan.threads} threads` : "") +
      (plan.jobs > 1 ? `, ${plan.jobs} runs at once` : ""),
  );
}

/** A run's line: its label (padded to `width`) and its test loss per epoch. */
export function runLine(result: RunResult, width: number, seeds: number): string {
  const { run } = result;
  return `  ${run.group.label.padEnd(width)}${seeds > 1 ? ` seed ${run.seed}` : ""} test loss per epoch: ` +
    result.testLoss.map(formatLoss).join(" ");
}

/** The progress line's text: runs done of all, and where the latest report came from. */
export function progressText(p: ExperimentProgress): string {
  const where = `epoch ${p.epoch + 1}/${p.run.config.epochs}, step ${p.step}/${p.steps}`;
  const how = `test loss ${formatLoss(p.testLoss)}, ${p.stepsPerSecond.toFixed(0)} steps/s`;
  return `run ${p.done + 1}/${p.total}, ${p.run.label}: ${where}, ${how}`;
}

/** Where and why a run diverged, and what losses.csv keeps of it. */
export function divergedLine(r: RunResult): string {
  const { epoch, step, detail } = r.stopped!;
  return `${r.run.label} diverged at epoch ${epoch}, step ${step} (${detail}); ` +
    `losses.csv keeps its ${r.trainLoss.length} completed epochs`;
}

/** A stop during training: the first interrupted run (and how many more), and what `out`/losses.csv keeps. */
export function interruptedLine(signal: string, interrupted: readonly RunResult[], out: string): string {
  const first = interrupted[0];
  const where = first ? `${first.run.label}, epoch ${first.stopped!.epoch}, step ${first.stopped!.step}` : "training";
  const others = interrupted.length > 1 ? ` (and ${interrupted.length - 1} more runs)` : "";
  const kept = first ? ` (${first.trainLoss.length} of ${first.run.label})` : "";
  return `${signal} during ${where}${others}; ${out}/losses.csv keeps every completed epoch${kept}; ` +
    "no predictions or charts";
}

/** A stop while the outputs were written: which files were and were not. */
export function outputsStoppedLine(written: Written, out: string): string {
  return `${written.stoppedBy} while writing the outputs, after every run completed; ${out}/losses.csv keeps ` +
    `every epoch; written: ${written.files.join(", ")}; not written: ${written.missing.join(", ")}`;
}

/** The stderr progress line of a terminal: redrawn in place; nothing without a terminal or with --quiet. */
export class Progress {
  readonly #enabled: boolean;
  #shown = false;
  constructor(enabled: boolean) {
    this.#enabled = enabled && Deno.stderr.isTerminal();
  }
  show(text: string): void {
    if (!this.#enabled) return;
    Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[2K${text}`));
    this.#shown = true;
  }
  clear(): void {
    if (this.#shown) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[2K"));
    this.#shown = false;
  }
}
