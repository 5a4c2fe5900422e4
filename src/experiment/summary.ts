/**
 * The outcome of a training command, per group (a variant at one point of a
 * sweep, over its seeds): the final test loss as median [min–max], the best
 * epoch of the median curve, the training time; as a terminal table, as rows
 * for the HTML report, and as JSON.
 *
 * @example
 * ```ts
 * import { summarize, summaryTable } from "./summary.ts";
 * import { configurations, groups, singleGrid } from "./sweep.ts";
 * import { DEFAULTS } from "../net/train.ts";
 * const [group] = groups(configurations(singleGrid(DEFAULTS), DEFAULTS), ["none"]);
 * const runs = [{ group, seed: 0, testLoss: [60, 58], trainLoss: [70], millis: 9, stopped: null }];
 * summaryTable(summarize([group], runs)); // ["variant  final test loss  …", "none  58.0000  1  58.0000  9 ms"]
 * ```
 * @module
 */
import type { Plan } from "./plan.ts";
import type { RunResult } from "./run.ts";
import { planSettings } from "./settings.ts";
import { type ProbeSummary, summarizeProbes } from "./probes.ts";
import { quantile, type Spread, spread, spreadAtEach } from "./stats.ts";
import type { Group } from "./sweep.ts";
import type { Stop } from "../net/train.ts";

/** What the summary needs of one run. */
export interface RunOutcome {
  /** The run's variant and configuration. */
  group: Group;
  /** The run's seed. */
  seed: number;
  /** Test loss at each epoch's start, then the final one. */
  testLoss: readonly number[];
  /** Mean training loss of each completed epoch. */
  trainLoss: readonly number[];
  /** Training time, in milliseconds. */
  millis: number;
  /** Where and why the run stopped early, or null. */
  stopped: Stop | null;
}

/** One group's runs, summarised. */
export interface GroupSummary {
  /** The variant and configuration the runs share. */
  group: Group;
  /** The runs of the group, in seed order. */
  runs: RunOutcome[];
  /** Final test losses of the complete runs. */
  final: Spread;
  /** Runs that stopped before the end. */
  stopped: number;
  /** Median over the runs of the test loss at each epoch's start, then the final one. */
  medianCurve: number[];
  /** Training time of all the group's runs, in milliseconds. */
  millis: number;
}

/** Groups `runs` by their group, in the order of `groups`. */
export function summarize(groups: readonly Group[], runs: readonly RunOutcome[]): GroupSummary[] {
  return groups.map((group) => {
    const own = runs.filter((r) => r.group === group);
    const complete = own.filter((r) => r.stopped === null);
    const medianCurve = spreadAtEach(own.map((r) => r.testLoss)).map((s) => s.median);
    return {
      group,
      runs: own,
      final: spread(complete.map((r) => r.testLoss.at(-1)!)),
      stopped: own.length - complete.length,
      medianCurve,
      millis: own.reduce((t, r) => t + r.millis, 0),
    };
  }).filter((s) => s.runs.length > 0);
}

/** A loss for the terminal: fixed-point, or exponent form when very large or small. */
export function formatLoss(v: number): string {
  return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toFixed(4);
}

/** Index of the lowest value (the first, on ties); -1 for none. */
function bestEpoch(curve: readonly number[]): number {
  return curve.length ? curve.reduce((b, v, i) => v < curve[b] ? i : b, 0) : -1;
}

/**
 * The summary as a header row and one row per group: the variant, each swept
 * setting, the final test loss (with several seeds: median [min–max], and how
 * many runs stopped), the best epoch and loss of the (median) curve, and,
 * unless `timing` is off (for a file that must be the same bytes on every
 * run), the training time.
 */
export function summaryRows(summaries: readonly GroupSummary[], timing = true): string[][] {
  const seeds = Math.max(1, ...summaries.map((s) => s.runs.length));
  const swept = summaries[0]?.group.configuration.swept.map(([flag]) => flag) ?? [];
  const header = [
    "variant",
    ...swept,
    seeds > 1 ? `final test loss, median [min–max] of ${seeds} seeds` : "final test loss",
    seeds > 1 ? "best epoch (median)" : "best epoch",
    seeds > 1 ? "best test loss (median)" : "best test loss",
    ...(timing ? ["training time"] : []),
  ];
  const rows = summaries.map((s) => {
    let final: string;
    if (seeds === 1) {
      const stop = s.runs[0].stopped;
      final = stop ? `${stop.reason} at epoch ${stop.epoch}` : formatLoss(s.final.median);
    } else if (s.final.n === 0) {
      final = `all ${s.runs.length} stopped (${s.runs[0].stopped?.reason})`;
    } else {
      const { median, min, max } = s.final;
      final = `${formatLoss(median)} [${formatLoss(min)}–${formatLoss(max)}]` +
        (s.stopped ? `, ${s.stopped} stopped` : "");
    }
    const best = bestEpoch(s.medianCurve);
    return [
      s.group.variant,
      ...s.group.configuration.swept.map(([, v]) => v),
      final,
      best >= 0 ? String(best) : "–",
      best >= 0 ? formatLoss(s.medianCurve[best]) : "–",
      ...(timing ? [`${s.millis.toFixed(0)} ms`] : []),
    ];
  });
  return [header, ...rows];
}

/** {@link summaryRows} as aligned text lines: names left-aligned, numbers right-aligned. */
export function summaryTable(summaries: readonly GroupSummary[]): string[] {
  const rows = summaryRows(summaries);
  const names = 1 + (summaries[0]?.group.configuration.swept.length ?? 0);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) =>
    row.map((cell, c) => c < names ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join("  ").trimEnd()
  );
}

/**
 * The probes' table: per group, the median over its seeds of each run's
 * medians over its probed steps (src/experiment/probes.ts): loss range, gradient
 * change, effective β-smoothness, then ICS distance and cosine per layer.
 * Empty without probes.
 */
export function probeTable(summaries: readonly GroupSummary[], results: readonly RunResult[]): string[] {
  const probed = results.filter((r) => r.probes !== null);
  if (probed.length === 0) return [];
  const layers = summarizeProbes(probed[0].probes!).ics.map((c) => c.layer);
  const header = [
    "group",
    "loss range",
    "grad change",
    "β-smoothness",
    ...layers.flatMap((l) => [`ICS L2 layer ${l}`, `cos layer ${l}`]),
  ];
  const rows = summaries.flatMap((s) => {
    const mine = probed.filter((r) => r.run.group === s.group).map((r) => summarizeProbes(r.probes!));
    if (mine.length === 0) return [];
    const med = (f: (p: ProbeSummary) => number) => quantile(mine.map(f), 0.5);
    const cells = [
      med((p) => p.lossRange),
      med((p) => p.gradChange),
      med((p) => p.smoothness),
      ...layers.flatMap((_, i) => [med((p) => p.ics[i].l2), med((p) => p.ics[i].cosine)]),
    ];
    return [[s.group.label, ...cells.map((v) => v.toPrecision(4))]];
  });
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c].length)));
  return all.map((row) => row.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join("  "));
}

/** The JSON form of each group's summary (`--json`'s `groups`). */
function groupsJson(summaries: readonly GroupSummary[]): object[] {
  return summaries.map((s) => ({
    label: s.group.label,
    variant: s.group.variant,
    swept: Object.fromEntries(s.group.configuration.swept),
    seeds: s.runs.map((r) => r.seed),
    final_test_loss: s.final.n ? s.final : null,
    stopped: s.stopped,
    median_test_loss: s.medianCurve,
    training_ms: s.millis,
  }));
}

/**
 * The experiment as one JSON object (`--json`): the output directory, the
 * plan's settings by key, each group's summary and each run's result.
 */
export function experimentJson(
  out: string,
  plan: Plan,
  results: readonly RunResult[],
  summaries: GroupSummary[],
): string {
  const config = Object.fromEntries(planSettings(plan).map((s) => [s.key, s.value]));
  return JSON.stringify({
    out,
    config,
    groups: groupsJson(summaries),
    results: results.map((r) => {
      const best = bestEpoch(r.testLoss);
      return {
        variant: r.variant,
        swept: Object.fromEntries(r.run.group.configuration.swept),
        seed: r.run.seed,
        final_test_loss: r.stopped ? null : r.testLoss.at(-1),
        best_epoch: best >= 0 ? best : null,
        best_test_loss: best >= 0 ? r.testLoss[best] : null,
        training_ms: r.millis,
        test_loss: r.testLoss,
        train_loss: r.trainLoss,
        stopped: r.stopped,
      };
    }),
  });
}

/** The summary's view of run results: each with its group and seed. */
export function outcomes(results: readonly RunResult[]): RunOutcome[] {
  return results.map((r) => ({ ...r, group: r.run.group, seed: r.run.seed }));
}
