/**
 * The playground's settings: what the page's controls set, as the train
 * command's flags name them, read from and written to the page's URL query
 * (so a link reproduces a view), and turned into the same experiment request
 * `deno task train` makes from those flags.
 *
 * @example
 * ```ts
 * import { fromQuery, toQuery, toRequest } from "./settings.ts";
 * const s = fromQuery("?lr=0.05&variants=torch,none");
 * toQuery(s); // "variants=torch%2Cnone&lr=0.05"
 * toRequest(s).grid.lr; // [0.05]
 * ```
 * @module
 */
import type { Activation } from "../kernels/activations.ts";
import { type ExperimentRequest, NOTEBOOK_REQUEST } from "../experiment/plan.ts";
import { singleGrid } from "../experiment/sweep.ts";
import { BN_VARIANTS, type BnInit, type BnPosition, type BnVariant, NOTEBOOK_VARIANTS } from "../net/model.ts";
import { DEFAULTS } from "../net/train.ts";

/** One view of the playground. */
export interface PageSettings {
  /** BN variants, in the train command's order. */
  variants: BnVariant[];
  /** Adam learning rate. */
  lr: number;
  /** BN momentum. */
  momentum: number;
  /** Hidden width. */
  hidden: number;
  /** Hidden blocks. */
  layers: number;
  /** Hidden activation. */
  activation: Activation;
  /** Mini-batch size. */
  batchSize: number;
  /** Training epochs. */
  epochs: number;
  /** Seed of the data, the init and the shuffles. */
  seed: number;
  /** BN before or after the activation. */
  bnPosition: BnPosition;
  /** BN's γ at the start. */
  bnInit: BnInit;
}

/** The notebook's view: what `deno task train` does with no flags. */
export const PAGE_DEFAULTS: Readonly<PageSettings> = {
  variants: [...NOTEBOOK_VARIANTS],
  lr: DEFAULTS.lr,
  momentum: DEFAULTS.momentum,
  hidden: DEFAULTS.hidden,
  layers: DEFAULTS.layers,
  activation: DEFAULTS.activation,
  batchSize: DEFAULTS.batchSize,
  epochs: DEFAULTS.epochs,
  seed: DEFAULTS.seed,
  bnPosition: DEFAULTS.bnPosition,
  bnInit: DEFAULTS.bnInit,
};

/** Each setting's query key: the train command's flag name (the page's controls carry the same ids). */
export const KEYS: Readonly<Record<keyof PageSettings, string>> = {
  variants: "variants",
  lr: "lr",
  momentum: "momentum",
  hidden: "hidden",
  layers: "layers",
  activation: "activation",
  batchSize: "batch-size",
  epochs: "epochs",
  seed: "seed",
  bnPosition: "bn-position",
  bnInit: "bn-init",
};

/** The bounds the page keeps numbers within (narrower than the CLI's: the page trains while you wait). */
export const LIMITS = {
  lr: [1e-4, 1],
  momentum: [0, 1],
  hidden: [1, 64],
  layers: [1, 8],
  batchSize: [2, 1000],
  epochs: [1, 50],
  seed: [0, 2 ** 32 - 1],
} as const;

function numberIn(raw: string | null, [lo, hi]: readonly [number, number], fallback: number, whole: boolean): number {
  const v = raw === null ? NaN : Number(raw);
  if (!Number.isFinite(v) || v < lo || v > hi || (whole && !Number.isInteger(v))) return fallback;
  return v;
}

function oneOf<T extends string>(raw: string | null, options: readonly T[], fallback: T): T {
  return raw !== null && (options as readonly string[]).includes(raw) ? raw as T : fallback;
}

/** The settings a URL query holds; anything missing or out of range is the default. */
export function fromQuery(query: string): PageSettings {
  const q = new URLSearchParams(query);
  const d = PAGE_DEFAULTS;
  const variants = (q.get(KEYS.variants) ?? "").split(",").filter((v): v is BnVariant =>
    (BN_VARIANTS as readonly string[]).includes(v)
  );
  return {
    variants: variants.length > 0 ? BN_VARIANTS.filter((v) => variants.includes(v)) : [...d.variants],
    lr: numberIn(q.get(KEYS.lr), LIMITS.lr, d.lr, false),
    momentum: numberIn(q.get(KEYS.momentum), LIMITS.momentum, d.momentum, false),
    hidden: numberIn(q.get(KEYS.hidden), LIMITS.hidden, d.hidden, true),
    layers: numberIn(q.get(KEYS.layers), LIMITS.layers, d.layers, true),
    activation: oneOf(q.get(KEYS.activation), ["tanh", "sigmoid", "relu"] as const, d.activation),
    batchSize: numberIn(q.get(KEYS.batchSize), LIMITS.batchSize, d.batchSize, true),
    epochs: numberIn(q.get(KEYS.epochs), LIMITS.epochs, d.epochs, true),
    seed: numberIn(q.get(KEYS.seed), LIMITS.seed, d.seed, true),
    bnPosition: oneOf(q.get(KEYS.bnPosition), ["before", "after"] as const, d.bnPosition),
    bnInit: oneOf(q.get(KEYS.bnInit), ["ones", "legacy"] as const, d.bnInit),
  };
}

/** The query of `s`: only what differs from the defaults, so the notebook's view is the bare URL. */
export function toQuery(s: PageSettings): string {
  const q = new URLSearchParams();
  for (const key of Object.keys(KEYS) as (keyof PageSettings)[]) {
    const value = key === "variants" ? s.variants.join(",") : String(s[key]);
    const fallback = key === "variants" ? PAGE_DEFAULTS.variants.join(",") : String(PAGE_DEFAULTS[key]);
    if (value !== fallback) q.set(KEYS[key], value);
  }
  return q.toString();
}

/** The request `deno task train` makes from the same flags: one run per variant, one thread, one job. */
export function toRequest(s: PageSettings): ExperimentRequest {
  const config = { ...DEFAULTS, ...s };
  return {
    ...NOTEBOOK_REQUEST,
    variants: s.variants,
    grid: singleGrid(config),
    epochs: s.epochs,
    seed: s.seed,
    bnInit: s.bnInit,
    threads: 1,
    jobs: 1,
  };
}
