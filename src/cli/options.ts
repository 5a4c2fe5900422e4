/**
 * The flags of `deno task train`, parsed with {@link parseFlags} and
 * validated before any work: a bad flag is one line naming the flag and what
 * it accepts, thrown as a {@link UsageError}.
 *
 * @example
 * ```ts
 * import { parseOptions } from "./options.ts";
 * const opts = parseOptions(["--epochs", "5", "--variants", "torch,none"]);
 * opts.epochs; // 5
 * ```
 * @module
 */
import { ACTIVATIONS } from "../kernels/activations.ts";
import { FUSED_MAX_WIDTH } from "../kernels/fused.ts";
import { parseFlags, UsageError } from "./flags.ts";
import { BN_POSITIONS, BN_VARIANTS, type BnVariant, MAX_LAYERS, MAX_WIDTH, NOTEBOOK_VARIANTS } from "../net/model.ts";
import { FLAG_NAMES, type Grid, SWEEP_KEYS, type SweepKey } from "../experiment/sweep.ts";
import { decimalNumber } from "../outputs/numbers.ts";
import { type ExperimentRequest, MAX_DIAGNOSED_GROUPS } from "../experiment/plan.ts";
import { DEFAULTS, FUSED_AUTO_WIDTH, type TrainConfig } from "../net/train.ts";
import { PROBE_EVERY } from "../experiment/probes.ts";

export { UsageError };

/** Everything `deno task train` is told: the experiment, and where and how to report it. */
export interface TrainOptions extends ExperimentRequest {
  /** Output directory; null means `runs/<timestamp>`. */
  out: string | null;
  /** Log scale for the test-loss chart. */
  logY: boolean;
  /** Replace what an earlier bnlab run wrote into `out`. */
  force: boolean;
  /** No progress line. */
  quiet: boolean;
  /** Print the summary as one JSON object on stdout, and nothing else there. */
  json: boolean;
  /** Show the usage text and exit. */
  help: boolean;
}

/** The usage text. */
export const USAGE = `Usage: deno task train [flags]

Trains the notebook's network (Linear → BN → activation, ×layers, then Linear)
on y = x² + N(0, 1) with each BN variant, prints the losses and a summary, and
writes losses.csv, predictions.csv, SVG charts (with their vega-lite specs),
per-layer diagnostics, a self-contained index.html report and each variant's
final weights as model-<variant>.safetensors (PyTorch state_dict names).

Flags (defaults are the notebook's; LIST flags take a comma list and sweep
over the product of all lists, e.g. --lr 0.01,0.02 --hidden 10,32 is 4 configurations):
  --variants LIST     comma list of mybn, torch, noisy, none  (mybn,torch,none);
                      noisy: torch BN, then a random shift and scale per step and unit
                        mybn:  the notebook's MyBN (eps 1e-6, biased running var, stats start at 0)
                        torch: PyTorch BatchNorm1d (eps 1e-5, unbiased running var, var starts at 1)
                        none:  no BN
  --epochs N          training epochs, ≥ 1                   (10)
  --batch-size LIST   mini-batch size, ≥ 1                   (64)
  --drop-last         drop the last, smaller batch of each epoch
  --lr LIST           Adam learning rate, > 0                 (0.02)
  --hidden LIST       width of the hidden layers, 1…${MAX_WIDTH}      (10)
  --layers LIST       hidden layers, 1…${MAX_LAYERS}                     (4)
  --activation LIST   tanh, sigmoid or relu                   (tanh)
  --bn-position LIST  before the activation (the notebook's order) or after it  (before)
  --momentum LIST     BN momentum in [0, 1]                   (0.5)
  --seed N            first seed of data noise, init and shuffles  (0)
  --seeds N           train every variant on seeds seed … seed+N−1 and report median [min–max]  (1)
  --max-runs N        refuse more runs (configurations × seeds × variants) than this  (64)
  --no-diagnostics    skip the per-layer histograms and gradient norms
                      (on by default, for the first seed of each group, up to ${MAX_DIAGNOSED_GROUPS} groups)
  --diagnostics       draw them for a larger sweep too
  --threads N         threads per run for the large kernels, 1…64  (2 from width 128 on, else 1)
  --path P            the training step and eval: fused (one kernel call each, width ≤ ${FUSED_MAX_WIDTH}),
                      layers (a kernel per layer), auto (fused up to width ${FUSED_AUTO_WIDTH})  (auto)
  --bn-init I         BN's γ at the start: ones, or legacy (~ U(0, 1), as PyTorch before 1.2)  (ones)
  --probes            measure what the BN papers measure, every run: input percentiles,
                      the loss landscape along the gradient, internal covariate shift
                      (percentiles.csv, landscape.csv, ics.csv and their charts)
  --probe-every N     probe every N-th training step  (${PROBE_EVERY})
  --jobs N            runs trained at once, each in its own worker, 1…64
                      (the cores ÷ threads, within --max-memory; 1 for a short experiment)
  --out DIR           output directory                        (runs/<timestamp>)
  --force             replace what an earlier bnlab run wrote into --out (other files stay)
  --log-y             log scale for the test-loss chart
  --max-memory SIZE   refuse a configuration that needs more memory, e.g. 512M, 2G  (half of RAM)
  --quiet             no progress line on stderr (there is none without a terminal)
  --json              print the summary as one JSON object on stdout, and nothing else there
  -h, --help          show this help

Numbers are plain decimals (1e-3 is fine, 0x10 is not); each flag is given once.

Exit status: 0 on success; 2 for a bad flag (nothing is written); 3 when a run
diverged (the others still ran; losses.csv keeps its completed epochs); 130 or 143
when interrupted by SIGINT or SIGTERM, during training or while the outputs are
written (losses.csv keeps every completed epoch); 143 too when the process that
started the run goes away (killing npx, say); 1 for any other failure.`;

function wholeNumber(flag: string, raw: string, min: number, max: number): number {
  const v = decimalNumber(raw);
  if (v === null || !Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

function realNumber(flag: string, raw: string, ok: (v: number) => boolean, range: string): number {
  const v = decimalNumber(raw);
  if (v === null || !ok(v)) {
    throw new UsageError(`--${flag} must be a number ${range}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

function oneOf<T extends string>(flag: string, raw: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`--${flag} must be one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

/** A comma list of `flag`, each entry parsed by `one`; a value listed twice is refused. */
function list<T>(flag: string, raw: string, one: (flag: string, raw: string) => T): T[] {
  const values = raw.split(",").map((s) => one(flag, s));
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(String(v))) throw new UsageError(`--${flag} lists ${v} twice`);
    seen.add(String(v));
  }
  return values;
}

const UNITS: Record<string, number> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** "512M", "1.5G", "2GiB", "1000000" → bytes. */
function byteSize(flag: string, raw: string): number {
  const m = raw.match(/^(\d+(?:\.\d+)?)([kmgt]?)(?:i?b)?$/i);
  const bytes = m ? Number(m[1]) * UNITS[m[2].toUpperCase()] : NaN;
  if (!Number.isFinite(bytes) || bytes < 1) {
    throw new UsageError(`--${flag} must be a size such as 512M or 2G, got ${JSON.stringify(raw)}`);
  }
  return Math.floor(bytes);
}

/** How each sweepable flag's entries are parsed and checked. */
const SWEEP_PARSERS: { [K in SweepKey]: (flag: string, raw: string) => TrainConfig[K] } = {
  lr: (f, r) => realNumber(f, r, (x) => x > 0, "> 0"),
  hidden: (f, r) => wholeNumber(f, r, 1, MAX_WIDTH),
  layers: (f, r) => wholeNumber(f, r, 1, MAX_LAYERS),
  activation: (f, r) => oneOf(f, r, ACTIVATIONS),
  momentum: (f, r) => realNumber(f, r, (x) => x >= 0 && x <= 1, "from 0 to 1"),
  batchSize: (f, r) => wholeNumber(f, r, 1, 1_000_000),
  bnPosition: (f, r) => oneOf(f, r, BN_POSITIONS),
};

/** Parses and validates `args`; throws {@link UsageError} for anything wrong. */
export function parseOptions(args: string[]): TrainOptions {
  const v = parseFlags(args, {
    variants: { type: "string" },
    epochs: { type: "string" },
    "batch-size": { type: "string" },
    "drop-last": { type: "boolean" },
    lr: { type: "string" },
    hidden: { type: "string" },
    layers: { type: "string" },
    activation: { type: "string" },
    "bn-position": { type: "string" },
    momentum: { type: "string" },
    seed: { type: "string" },
    seeds: { type: "string" },
    "max-runs": { type: "string" },
    diagnostics: { type: "boolean" },
    "no-diagnostics": { type: "boolean" },
    out: { type: "string" },
    force: { type: "boolean" },
    "log-y": { type: "boolean" },
    threads: { type: "string" },
    jobs: { type: "string" },
    path: { type: "string" },
    probes: { type: "boolean" },
    "bn-init": { type: "string" },
    "probe-every": { type: "string" },
    quiet: { type: "boolean" },
    "max-memory": { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }).values;
  const variants = list("variants", v.variants ?? NOTEBOOK_VARIANTS.join(","), (_, name) => {
    if (!(BN_VARIANTS as readonly string[]).includes(name)) {
      throw new UsageError(
        `--variants: unknown variant ${JSON.stringify(name)}; choose from ${BN_VARIANTS.join(", ")}`,
      );
    }
    return name as BnVariant;
  });
  if (v.out !== undefined && v.out.trim() === "") throw new UsageError("--out must name a directory");
  if (v.diagnostics && v["no-diagnostics"]) throw new UsageError("--diagnostics and --no-diagnostics contradict");
  if (v["probe-every"] !== undefined && !v.probes) throw new UsageError("--probe-every needs --probes");
  const grid = Object.fromEntries(SWEEP_KEYS.map((key) => {
    const flag = FLAG_NAMES[key];
    const parse = SWEEP_PARSERS[key] as (flag: string, raw: string) => unknown;
    return [key, list(flag, (v as Record<string, string | undefined>)[flag] ?? String(DEFAULTS[key]), parse)];
  })) as Grid;
  const str = (x: string | undefined, d: number) => x ?? String(d);
  return {
    variants,
    grid,
    epochs: wholeNumber("epochs", str(v.epochs, DEFAULTS.epochs), 1, 100_000),
    dropLast: v["drop-last"] ?? false,
    seed: wholeNumber("seed", str(v.seed, DEFAULTS.seed), 0, 2 ** 32 - 1),
    seeds: wholeNumber("seeds", str(v.seeds, 1), 1, 10_000),
    maxRuns: wholeNumber("max-runs", str(v["max-runs"], 64), 1, 1_000_000),
    diagnostics: v.diagnostics ? true : v["no-diagnostics"] ? false : null,
    out: v.out ?? null,
    force: v.force ?? false,
    threads: v.threads === undefined ? null : wholeNumber("threads", v.threads, 1, 64),
    jobs: v.jobs === undefined ? null : wholeNumber("jobs", v.jobs, 1, 64),
    path: oneOf("path", v.path ?? "auto", ["auto", "fused", "layers"] as const),
    bnInit: oneOf("bn-init", v["bn-init"] ?? "ones", ["ones", "legacy"] as const),
    probes: v.probes ? wholeNumber("probe-every", str(v["probe-every"], PROBE_EVERY), 1, 1_000_000) : null,
    maxMemory: v["max-memory"] === undefined ? null : byteSize("max-memory", v["max-memory"]),
    quiet: v.quiet ?? false,
    json: v.json ?? false,
    logY: v["log-y"] ?? false,
    help: v.help ?? false,
  };
}
