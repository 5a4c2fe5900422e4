/**
 * One description of an experiment's settings, from which every output
 * renders them: `--json`'s `config` (by key), the report's configuration
 * table (by label) and each model file's `__metadata__` (a run's own values).
 *
 * @example
 * ```ts
 * import { runSettings } from "./settings.ts";
 * import { DEFAULTS } from "../net/train.ts";
 * runSettings(DEFAULTS).find(([key]) => key === "lr"); // ["lr", 0.02]
 * ```
 * @module
 */
import type { BnVariant } from "../net/model.ts";
import { type TrainConfig, trainPath } from "../net/train.ts";
import type { Plan } from "./plan.ts";
import type { SweepKey } from "./sweep.ts";

/** A setting's value: one, or the list a sweep takes. */
export type SettingValue = string | number | boolean | (string | number | boolean)[];

/** One setting as the outputs show it. */
export interface Setting {
  /** Its name in JSON and in model metadata, e.g. `batch_size`. */
  key: string;
  /** Its name for a reader, e.g. "batch size". */
  label: string;
  /** Its value, or its values when swept. */
  value: SettingValue;
}

/** The training settings of a run, in the order every output lists them. */
const TRAINING: {
  key: string;
  label: string;
  of: (c: TrainConfig, v?: BnVariant) => string | number | boolean;
  sweep?: SweepKey;
}[] = [
  { key: "epochs", label: "epochs", of: (c) => c.epochs },
  { key: "batch_size", label: "batch size", of: (c) => c.batchSize, sweep: "batchSize" },
  { key: "drop_last", label: "drop the last partial batch", of: (c) => c.dropLast },
  { key: "lr", label: "learning rate (Adam)", of: (c) => c.lr, sweep: "lr" },
  { key: "hidden", label: "hidden width", of: (c) => c.hidden, sweep: "hidden" },
  { key: "layers", label: "hidden layers", of: (c) => c.layers, sweep: "layers" },
  { key: "activation", label: "activation", of: (c) => c.activation, sweep: "activation" },
  { key: "momentum", label: "BN momentum", of: (c) => c.momentum, sweep: "momentum" },
  { key: "bn_position", label: "BN position", of: (c) => c.bnPosition, sweep: "bnPosition" },
  { key: "seed", label: "seed", of: (c) => c.seed },
  { key: "bn_init", label: "BN γ at the start", of: (c) => c.bnInit === "ones" ? "1" : "U(0, 1) (legacy)" },
  { key: "path", label: "training step", of: (c, v) => trainPath(c, v) },
];

/** What every run shares and no flag sets: the optimizer and the data. */
const FIXED: [string, string][] = [
  ["optimizer", "Adam(betas=(0.9, 0.999), eps=1e-8)"],
  ["data", "y = x^2 + N(0, 1), x = linspace(-5, 5, 1000)"],
];

/** A run's own settings, for its model file's metadata: each training setting, the optimizer and the data. */
export function runSettings(config: TrainConfig, variant?: BnVariant): [string, string | number | boolean][] {
  return [...TRAINING.map((s) => [s.key, s.of(config, variant)] as [string, string | number | boolean]), ...FIXED];
}

/** The experiment's settings: the variants, each training setting (a list where swept), the seeds, runs, threads and jobs. */
export function planSettings(plan: Plan): Setting[] {
  const first = plan.runs[0]?.config ?? plan.configurations[0].config;
  const training = TRAINING.map(({ key, label, of, sweep }): Setting => {
    const values = sweep ? plan.request.grid[sweep] : [of(first)];
    return { key, label, value: values.length > 1 ? values : values[0] };
  });
  return [
    { key: "variants", label: "variants", value: plan.request.variants },
    ...training,
    { key: "seeds", label: "seeds", value: plan.seeds.length },
    { key: "runs", label: "runs", value: plan.runs.length },
    { key: "threads", label: "threads per run", value: plan.threads },
    { key: "jobs", label: "runs at once", value: plan.jobs },
  ];
}

/** A setting's value as text: lists joined with ", ". */
export function settingText(value: SettingValue): string {
  return Array.isArray(value) ? value.join(", ") : String(value);
}
