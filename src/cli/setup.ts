/**
 * The train command's first steps after its flags: the plan, with this
 * machine's cores and memory, and the output directory, checked against the
 * task's permissions and locked. What the layers below report as data is
 * worded here with flag names ({@link UsageError}: exit 2).
 *
 * @example
 * ```ts
 * import { parseOptions } from "./options.ts";
 * import { planFor, takeOutDir } from "./setup.ts";
 * const opts = parseOptions(["--seeds", "3"]);
 * const plan = planFor(opts);
 * const dir = takeOutDir(opts);
 * dir.release();
 * ```
 * @module
 */
import { makePlan, type Plan, PlanError } from "../experiment/plan.ts";
import { OutDir, OutDirError } from "../outputs/outdir.ts";
import { outDirMessage, planMessage } from "./messages.ts";
import { type TrainOptions, UsageError } from "./options.ts";

/** The plan of `opts` on this machine, its problems worded with flag names. */
export function planFor(opts: TrainOptions): Plan {
  // Asked first: a call without the permission would prompt on a terminal.
  const mayAsk = Deno.permissions.querySync({ name: "sys", kind: "systemMemoryInfo" }).state === "granted";
  const machine = { cores: navigator.hardwareConcurrency, memory: mayAsk ? Deno.systemMemoryInfo().total : null };
  try {
    return makePlan(opts, machine);
  } catch (err) {
    throw err instanceof PlanError ? new UsageError(planMessage(err.problem)) : err;
  }
}

/** `runs/<UTC time>`, or with `-2`, `-3`, … when runs started within the same second took it. */
function freshRunDir(): string {
  const base = `runs/${new Date().toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z")}`;
  for (let k = 1;; k++) {
    const dir = k === 1 ? base : `${base}-${k}`;
    try {
      Deno.statSync(dir);
    } catch {
      return dir;
    }
  }
}

/** The output directory, locked; its problems worded with flag names. */
export function takeOutDir(opts: TrainOptions): OutDir {
  const out = opts.out ?? freshRunDir();
  const may = (name: "read" | "write") => Deno.permissions.querySync({ name, path: out }).state === "granted";
  if (!may("read") || !may("write")) {
    throw new UsageError(
      `--out ${out}: this task may write only under runs/; to write elsewhere run ` +
        `deno run --allow-read=${out} --allow-write=${out} src/cli/main.ts …`,
    );
  }
  try {
    return OutDir.open(out, { force: opts.force });
  } catch (err) {
    throw err instanceof OutDirError ? new UsageError(outDirMessage(err.problem)) : err;
  }
}
