/**
 * `deno task bench:compare`: bnlab against PyTorch on this machine, in one
 * command. It runs ../shared/bench/pytorch_mlp.py (Debian's python3-torch with
 * OpenBLAS: `apt-get install python3-torch libopenblas0-pthread`) for the
 * grid, then bnlab's bench:train grid in this process, and prints both side by
 * side with the ratios, and each bnlab cell's train GFLOP/s as a fraction of
 * the f32x4 peak measured at the start. `--markdown` prints the table for the
 * README, dated. Single-thread PyTorch runs are pinned to one core (taskset)
 * as the PyTorch script recommends.
 *
 * @example
 * ```sh
 * deno task bench:compare --hidden 10,256 --batch 64,1024 --threads 1
 * ```
 * @module
 */
import { startThreads } from "../src/kernels/threads.ts";
import { measurePeak } from "./peak.ts";
import { benchCell, parseBenchFlags, type TrainBenchResult, trainStepFlops } from "./train.ts";

const PYTORCH_SCRIPT = new URL("../../shared/bench/pytorch_mlp.py", import.meta.url).pathname;
const PYTHON = "/usr/bin/python3";

interface PytorchRun {
  engine: string;
  results: TrainBenchResult[];
}

async function runPytorch(args: string[], threads: number): Promise<PytorchRun> {
  const base = [PYTORCH_SCRIPT, ...args, "--threads", String(threads), "--json"];
  const [cmd, cmdArgs] = threads === 1 ? ["taskset", ["-c", "0", PYTHON, ...base]] : [PYTHON, base];
  const out = await new Deno.Command(cmd, { args: cmdArgs, stdout: "piped", stderr: "inherit" }).output();
  if (!out.success) throw new Error(`${PYTHON} ${PYTORCH_SCRIPT} failed (exit ${out.code})`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

if (import.meta.main) {
  const { grid, values } = parseBenchFlags("bench:compare", Deno.args, {
    markdown: { type: "boolean", default: false },
  });
  const gridArgs = [
    ...["--hidden", grid.hidden.join(","), "--batch", grid.batch.join(","), "--variants", grid.variants.join(",")],
    ...["--layers", String(grid.layers), "--window", String(grid.window), "--reps", String(grid.reps)],
  ];
  const torch: TrainBenchResult[] = [];
  let engine = "";
  for (const threads of grid.threads) {
    console.error(`PyTorch, ${threads} thread(s)…`);
    const run = await runPytorch(gridArgs, threads);
    engine = run.engine;
    torch.push(...run.results);
  }
  console.error("bnlab…");
  const peak = measurePeak();
  const { layers, window, reps } = grid;
  const rows: string[][] = [];
  for (const threads of grid.threads) {
    await startThreads(threads);
    for (const hidden of grid.hidden) {
      for (const batch of grid.batch) {
        for (const variant of grid.variants) {
          const b = benchCell(hidden, batch, variant, threads, layers, window, reps, grid.path);
          const t = torch.find((r) =>
            r.hidden === hidden && r.batch === batch && r.variant === variant && r.threads === threads
          );
          const gflops = trainStepFlops(hidden, batch, layers) * b.train_steps_per_s / 1e9;
          rows.push([
            String(hidden),
            String(batch),
            variant,
            String(threads),
            b.train_steps_per_s.toPrecision(4),
            t ? t.train_steps_per_s.toPrecision(4) : "–",
            t ? `${(b.train_steps_per_s / t.train_steps_per_s).toFixed(1)}×` : "–",
            b.eval_samples_per_s.toPrecision(4),
            t ? t.eval_samples_per_s.toPrecision(4) : "–",
            t ? `${(b.eval_samples_per_s / t.eval_samples_per_s).toFixed(1)}×` : "–",
            `${(100 * gflops / (peak * threads)).toFixed(0)}%`,
          ]);
        }
      }
    }
  }
  await startThreads(1);
  const header = [
    "hidden",
    "batch",
    "variant",
    "threads",
    "bnlab train steps/s",
    "PyTorch train steps/s",
    "ratio",
    "bnlab eval samples/s",
    "PyTorch eval samples/s",
    "ratio",
    "bnlab train of peak",
  ];
  const date = new Date().toISOString().slice(0, 10);
  const note = `${date}, ${navigator.hardwareConcurrency} cores; f32x4 peak ${peak.toFixed(1)} GFLOP/s per thread; ` +
    `${engine}; bnlab on Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`;
  if (values.markdown) {
    console.log(`Measured ${note}.\n`);
    console.log(`| ${header.join(" | ")} |`);
    console.log(`|${header.map(() => "---").join("|")}|`);
    for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  } else {
    console.log(note);
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
    const line = (cells: string[]) => cells.map((x, c) => x.padStart(widths[c])).join("  ");
    console.log(line(header));
    for (const r of rows) console.log(line(r));
  }
}
