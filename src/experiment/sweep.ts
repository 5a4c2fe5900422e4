/**
 * Sweeps: the flags that accept comma lists, and the runs their product makes.
 * A run is one variant trained on one seed at one point of the product; runs
 * that differ only in the seed form a group, which the summary and the charts
 * report as one median line.
 *
 * @example
 * ```ts
 * import { configurations, singleGrid } from "./sweep.ts";
 * import { DEFAULTS } from "../net/train.ts";
 * const grid = { ...singleGrid(DEFAULTS), lr: [0.01, 0.02] };
 * configurations(grid, DEFAULTS).map((c) => c.label); // ["lr=0.01", "lr=0.02"]
 * ```
 * @module
 */
import type { BnVariant } from "../net/model.ts";
import type { TrainConfig } from "../net/train.ts";

/** The settings a sweep may vary, in the order the product nests them (the first varies slowest). */
export const SWEEP_KEYS = ["lr", "hidden", "layers", "activation", "momentum", "batchSize", "bnPosition"] as const;
/** One of {@link SWEEP_KEYS}. */
export type SweepKey = typeof SWEEP_KEYS[number];
/** A list of values for each swept setting. */
export type Grid = { [K in SweepKey]: TrainConfig[K][] };

/** The command-line name of each swept setting. */
export const FLAG_NAMES: Readonly<Record<SweepKey, string>> = {
  lr: "lr",
  hidden: "hidden",
  layers: "layers",
  activation: "activation",
  momentum: "momentum",
  batchSize: "batch-size",
  bnPosition: "bn-position",
};

/** The grid of exactly `config`'s values (no sweep). */
export function singleGrid(config: TrainConfig): Grid {
  return {
    lr: [config.lr],
    hidden: [config.hidden],
    layers: [config.layers],
    activation: [config.activation],
    momentum: [config.momentum],
    batchSize: [config.batchSize],
    bnPosition: [config.bnPosition],
  };
}

/** The settings that take more than one value. */
function sweptKeys(grid: Grid): SweepKey[] {
  return SWEEP_KEYS.filter((k) => grid[k].length > 1);
}

/** One point of a grid's product. */
export interface Configuration {
  /** The training settings (`seed` is the first seed). */
  config: TrainConfig;
  /** The swept settings' values at this point, as `flag=value` pairs in {@link SWEEP_KEYS} order. */
  swept: [flag: string, value: string][];
  /** The swept values joined, e.g. "lr=0.01 hidden=64"; empty without a sweep. */
  label: string;
}

/** Every point of `grid`'s product on top of `base`, the first key varying slowest. */
export function configurations(grid: Grid, base: TrainConfig): Configuration[] {
  const keys = sweptKeys(grid);
  let points: TrainConfig[] = [{ ...base, ...Object.fromEntries(SWEEP_KEYS.map((k) => [k, grid[k][0]])) }];
  for (const key of SWEEP_KEYS) {
    points = points.flatMap((p) => grid[key].map((v) => ({ ...p, [key]: v })));
  }
  return points.map((config) => {
    const swept = keys.map((k) => [FLAG_NAMES[k], String(config[k])] as [string, string]);
    return { config, swept, label: swept.map(([f, v]) => `${f}=${v}`).join(" ") };
  });
}

/** A variant at one configuration: the runs of all seeds share it. */
export interface Group {
  /** The BN variant. */
  variant: BnVariant;
  /** The point of the sweep. */
  configuration: Configuration;
  /** "torch", or "torch lr=0.01" in a sweep. */
  label: string;
}

/** The groups of a run, configurations outermost, in the order they train. */
export function groups(configs: readonly Configuration[], variants: readonly BnVariant[]): Group[] {
  return configs.flatMap((configuration) =>
    variants.map((variant) => ({
      variant,
      configuration,
      label: configuration.label ? `${variant} ${configuration.label}` : variant,
    }))
  );
}
