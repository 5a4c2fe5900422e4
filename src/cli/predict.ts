/**
 * `deno task predict`: reads a model file written by `deno task train`
 * (`model-<variant>.safetensors`) and prints the network's eval-mode
 * prediction for each x, one `x<TAB>prediction` line per value.
 *
 * @example
 * ```sh
 * deno task predict --model runs/demo/model-torch.safetensors --x 1.5,2.0
 * # 1.5	2.2871…
 * # 2	4.0712…
 * ```
 * @module
 */
import { arena } from "../kernels/arena.ts";
import { checkNetFits, decodeModel, MAX_MODEL_HEADER, modelSpec } from "../outputs/checkpoint.ts";
import { parseFlags, UsageError } from "./flags.ts";
import { decimalNumber } from "../outputs/numbers.ts";
import { decodeHeader, headerLength, SafetensorsError } from "../outputs/safetensors.ts";

/** The usage text. */
const PREDICT_USAGE = `Usage: deno task predict --model FILE --x LIST

Loads a model-<variant>.safetensors written by deno task train and prints, in
eval mode (running statistics), one line per x: the x, a tab, the prediction.

Flags:
  --model FILE   the model file
  --x LIST       comma list of inputs in decimal notation, e.g. 1.5,2.0 or -5,0,5
  -h, --help     show this help

Exit status: 0 on success; 2 for a bad flag; 1 when the file cannot be read or is not a bnlab model.`;

/** The shortest decimal that reads back as the same float32 (what PyTorch prints for a float32, unrounded). */
export function formatFloat32(v: number): string {
  for (let digits = 1; digits < 9; digits++) {
    const s = Number(v.toPrecision(digits));
    if (Math.fround(s) === v) return String(s);
  }
  return String(Number(v.toPrecision(9)));
}

/** Parses `--x 1.5,2.0` into numbers; throws {@link UsageError} naming the bad entry. */
function parseXs(raw: string): number[] {
  return raw.split(",").map((s) => {
    const v = decimalNumber(s);
    if (v === null) {
      throw new UsageError(`--x must be a comma list of decimal numbers, got ${JSON.stringify(s)} in ${raw}`);
    }
    return v;
  });
}

/**
 * The bytes of the model file at `path`, read only after its header has been
 * found to describe a bnlab network whose tensors fill the rest of the file
 * exactly: a device, a pipe, a huge or lying file is refused after reading at
 * most {@link MAX_MODEL_HEADER} bytes.
 */
async function readModelFile(path: string, maxBatch: number): Promise<Uint8Array> {
  const info = await Deno.stat(path);
  // Asked before opening: opening a FIFO would wait for a writer, and /dev/zero never ends.
  if (!info.isFile) throw new SafetensorsError("not a regular file");
  using file = await Deno.open(path);
  const prefix = await readInto(file, new Uint8Array(Math.min(8, info.size)));
  const n = headerLength(prefix, info.size, MAX_MODEL_HEADER);
  const json = await readInto(file, new Uint8Array(n));
  const header = decodeHeader(json, info.size - 8 - n);
  checkNetFits(modelSpec(header.metadata, header.entries), maxBatch);
  // Only now is the file known to hold exactly the tensors of a network that fits.
  const bytes = new Uint8Array(info.size);
  bytes.set(prefix);
  bytes.set(json, 8);
  await readInto(file, bytes.subarray(8 + n));
  return bytes;
}

/** Fills `into` from `file`; throws when the file ends first (it shrank since it was measured). */
async function readInto(file: Deno.FsFile, into: Uint8Array): Promise<Uint8Array> {
  for (let at = 0; at < into.length;) {
    const n = await file.read(into.subarray(at));
    if (n === null) throw new SafetensorsError(`the file ended ${into.length - at} bytes early`);
    at += n;
  }
  return into;
}

/** Predictions of the model in `bytes` for `xs`, in eval mode. */
export function predict(bytes: Uint8Array, xs: readonly number[]): Float32Array {
  const mark = arena.mark();
  try {
    const { net } = decodeModel(bytes, Math.max(1, xs.length));
    if (net.spec.inputs !== 1 || net.spec.outputs !== 1) {
      throw new SafetensorsError(`the model maps ${net.spec.inputs} inputs to ${net.spec.outputs} outputs, not 1 to 1`);
    }
    net.input(xs.length).set(xs);
    return net.forward(xs.length, false).f32.slice();
  } finally {
    arena.release(mark);
  }
}

/** Runs the predict command with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    const { values } = parseFlags(args, {
      model: { type: "string" },
      x: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      console.log(PREDICT_USAGE);
      return 0;
    }
    if (!values.model) throw new UsageError("--model FILE is required (see --help)");
    if (values.x === undefined) throw new UsageError("--x LIST is required, e.g. --x 1.5,2.0");
    const xs = parseXs(values.x);
    let preds: Float32Array;
    try {
      preds = predict(await readModelFile(values.model, xs.length), xs);
    } catch (err) {
      if (err instanceof SafetensorsError) throw new Error(`${values.model}: ${err.message}`);
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
        throw new Error(`cannot read ${values.model}: ${err.message}`);
      }
      throw err;
    }
    console.log(xs.map((x, i) => `${x}\t${formatFloat32(preds[i])}`).join("\n"));
    return 0;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (err instanceof UsageError) {
      console.error(`predict: ${msg.split("\n")[0]}`);
      return 2;
    }
    console.error(`predict: ${msg}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
