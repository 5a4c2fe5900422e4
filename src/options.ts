/**
 * The flags of `deno task train`, parsed with `node:util`'s `parseArgs` and
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
import { parseArgs } from "node:util";
import { type Activation, ACTIVATIONS } from "./activations.ts";
import { BN_VARIANTS, type BnVariant } from "./model.ts";
import { DEFAULTS, type TrainConfig } from "./train.ts";

/** A flag that is unknown, malformed or out of range; the CLI prints it and exits 2. */
export class UsageError extends Error {}

/** Everything `deno task train` is told. */
export interface TrainOptions extends TrainConfig {
  variants: BnVariant[];
  /** Output directory; null means `runs/<timestamp>`. */
  out: string | null;
  logY: boolean;
  /** Write into an existing non-empty output directory. */
  force: boolean;
  /** Threads for the large kernels; null chooses by model size (see {@link defaultThreads}). */
  threads: number | null;
  /** Refuse a configuration that needs more bytes than this; null: half of the RAM. */
  maxMemory: number | null;
  /** No progress line. */
  quiet: boolean;
  /** Print the summary as one JSON object on stdout, and nothing else there. */
  json: boolean;
  help: boolean;
}

/** The usage text. */
export const USAGE = `Usage: deno task train [flags]

Trains the notebook's network (Linear → BN → activation, ×layers, then Linear)
on y = x² + N(0, 1) with each BN variant, prints the losses and a summary, and
writes losses.csv, predictions.csv and SVG charts (with their vega-lite specs).

Flags (defaults are the notebook's):
  --variants LIST     comma list of mybn, torch, none        (mybn,torch,none)
                        mybn:  the notebook's MyBN (eps 1e-6, biased running var, stats start at 0)
                        torch: PyTorch BatchNorm1d (eps 1e-5, unbiased running var, var starts at 1)
                        none:  no BN
  --epochs N          training epochs, ≥ 1                   (10)
  --batch-size N      mini-batch size, ≥ 1                   (64)
  --drop-last         drop the last, smaller batch of each epoch
  --lr X              Adam learning rate, > 0                 (0.02)
  --hidden N          width of the hidden layers, 1…4096      (10)
  --layers N          hidden layers, 1…64                     (4)
  --activation NAME   tanh, sigmoid or relu                   (tanh)
  --momentum X        BN momentum in [0, 1]                   (0.5)
  --seed N            seed of data noise, init and shuffles   (0)
  --threads N         threads for the large kernels, 1…64     (2 from width 128 on, else 1)
  --out DIR           output directory                        (runs/<timestamp>)
  --force             write into an existing, non-empty --out
  --log-y             log scale for the test-loss chart
  --max-memory SIZE   refuse a configuration that needs more memory, e.g. 512M, 2G  (half of RAM)
  --quiet             no progress line on stderr (there is none without a terminal)
  --json              print the summary as one JSON object on stdout, and nothing else there
  -h, --help          show this help

Exit status: 0 on success; 2 for a bad flag (nothing is written); 3 when a variant
diverged (the others still ran; losses.csv keeps its completed epochs); 130 or 143
when interrupted by SIGINT or SIGTERM (losses.csv keeps every completed epoch);
1 for any other failure.`;

function wholeNumber(flag: string, raw: string, min: number, max: number): number {
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

function realNumber(flag: string, raw: string, ok: (v: number) => boolean, range: string): number {
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v) || !ok(v)) {
    throw new UsageError(`--${flag} must be a number ${range}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

const UNITS: Record<string, number> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** "512M", "1.5G", "2GiB", "1000000" → bytes. */
function byteSize(flag: string, raw: string): number {
  const m = raw.trim().match(/^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i);
  const bytes = m ? Number(m[1]) * UNITS[m[2].toUpperCase()] : NaN;
  if (!Number.isFinite(bytes) || bytes < 1) {
    throw new UsageError(`--${flag} must be a size such as 512M or 2G, got ${JSON.stringify(raw)}`);
  }
  return Math.floor(bytes);
}

/** Parses and validates `args`; throws {@link UsageError} for anything wrong. */
export function parseOptions(args: string[]): TrainOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        variants: { type: "string" },
        epochs: { type: "string" },
        "batch-size": { type: "string" },
        "drop-last": { type: "boolean" },
        lr: { type: "string" },
        hidden: { type: "string" },
        layers: { type: "string" },
        activation: { type: "string" },
        momentum: { type: "string" },
        seed: { type: "string" },
        out: { type: "string" },
        force: { type: "boolean" },
        "log-y": { type: "boolean" },
        threads: { type: "string" },
        quiet: { type: "boolean" },
        "max-memory": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const unknown = msg.match(/^Unknown option '([^']+)'/);
    if (unknown) throw new UsageError(`unknown flag ${unknown[1]} (see --help)`);
    const positional = msg.match(/^Unexpected argument '([^']+)'/);
    if (positional) throw new UsageError(`unexpected argument ${JSON.stringify(positional[1])} (see --help)`);
    const missing = msg.match(/^Option '(?:-\w, )?(--[\w-]+)(?: <value>)?' argument (?:missing|is ambiguous)/);
    if (missing) {
      throw new UsageError(`${missing[1]} needs a value (write negative numbers as ${missing[1]}=-1)`);
    }
    throw new UsageError(msg.split("\n")[0]);
  }
  const v = parsed.values;
  const variants = (v.variants ?? BN_VARIANTS.join(",")).split(",").map((s) => s.trim());
  for (const name of variants) {
    if (!(BN_VARIANTS as readonly string[]).includes(name)) {
      throw new UsageError(
        `--variants: unknown variant ${JSON.stringify(name)}; choose from ${BN_VARIANTS.join(", ")}`,
      );
    }
  }
  if (new Set(variants).size !== variants.length) throw new UsageError(`--variants lists a variant twice`);
  const activation = v.activation ?? DEFAULTS.activation;
  if (!(ACTIVATIONS as readonly string[]).includes(activation)) {
    throw new UsageError(
      `--activation must be one of ${ACTIVATIONS.join(", ")}, got ${JSON.stringify(activation)}`,
    );
  }
  if (v.out !== undefined && v.out.trim() === "") throw new UsageError("--out must name a directory");
  const str = (x: string | undefined, d: number) => x ?? String(d);
  return {
    variants: variants as BnVariant[],
    epochs: wholeNumber("epochs", str(v.epochs, DEFAULTS.epochs), 1, 100_000),
    batchSize: wholeNumber("batch-size", str(v["batch-size"], DEFAULTS.batchSize), 1, 1_000_000),
    dropLast: v["drop-last"] ?? false,
    lr: realNumber("lr", str(v.lr, DEFAULTS.lr), (x) => x > 0, "> 0"),
    hidden: wholeNumber("hidden", str(v.hidden, DEFAULTS.hidden), 1, 4096),
    layers: wholeNumber("layers", str(v.layers, DEFAULTS.layers), 1, 64),
    activation: activation as Activation,
    momentum: realNumber("momentum", str(v.momentum, DEFAULTS.momentum), (x) => x >= 0 && x <= 1, "from 0 to 1"),
    seed: wholeNumber("seed", str(v.seed, DEFAULTS.seed), 0, 2 ** 32 - 1),
    out: v.out ?? null,
    force: v.force ?? false,
    threads: v.threads === undefined ? null : wholeNumber("threads", v.threads, 1, 64),
    maxMemory: v["max-memory"] === undefined ? null : byteSize("max-memory", v["max-memory"]),
    quiet: v.quiet ?? false,
    json: v.json ?? false,
    logY: v["log-y"] ?? false,
    help: v.help ?? false,
  };
}

/**
 * The thread count that pays for a network of width `hidden`: below 128
 * units a step's kernels are too small to be worth waking a worker (the pool
 * would leave them on one thread anyway), from 128 on two threads train about
 * 1.7× faster (bench:train) where the machine has two cores.
 */
export function defaultThreads(hidden: number): number {
  return hidden >= 128 ? Math.min(2, navigator.hardwareConcurrency) : 1;
}
