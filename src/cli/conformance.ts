/**
 * `deno task conformance <dir>`: bnlab's kernels and network against every
 * PyTorch reference fixture in a directory (../shared/fixtures/README.md's
 * schema), one line per failing case, then `N passed, M failed`.
 *
 * @example
 * ```sh
 * deno task conformance ../shared/fixtures
 * # 57 passed, 0 failed
 * ```
 * @module
 */
import { type CaseResult, failureLine, runConformance } from "../conformance/conformance.ts";
import { parseFlags, UsageError } from "./flags.ts";

const USAGE = `Usage: deno task conformance <fixtures-dir>

Runs bnlab's kernels and network against every PyTorch reference fixture in
<fixtures-dir> (the schema of ../shared/fixtures/README.md), prints one line per
failing case, and ends with "N passed, M failed". Exit status 0 only when
nothing failed, 1 when a case failed, 2 for bad usage.

Options:
  --path P        run the network cases through the per-layer kernels (layers,
                  the default) or the fused one-call step (fused)
  -v, --verbose   also print one line per passing case
  -h, --help      show this help`;

/** Runs the conformance command with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(
      args,
      { path: { type: "string" }, verbose: { type: "boolean", short: "v" }, help: { type: "boolean", short: "h" } },
      true,
    );
    const path = parsed.values.path;
    if (path !== undefined && path !== "layers" && path !== "fused") {
      throw new UsageError(`--path must be layers or fused, got ${JSON.stringify(path)}`);
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`conformance: ${err.message}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    console.error("conformance: expected exactly one fixtures directory (see --help)");
    return 2;
  }
  const dir = parsed.positionals[0];
  try {
    if (!(await Deno.stat(dir)).isDirectory) throw new Error("not a directory");
  } catch (err) {
    console.error(`conformance: ${dir}: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  let results: CaseResult[];
  try {
    results = await runConformance(dir, { path: (parsed.values.path ?? "layers") as "layers" | "fused" });
  } catch (err) {
    console.error(`conformance: ${dir}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  let failed = 0;
  for (const r of results) {
    if (!r.check.ok) {
      failed++;
      console.log(failureLine(r));
    } else if (parsed.values.verbose) {
      console.log(`ok   ${r.file} ${r.name} (${r.check.tensors} tensors)`);
    }
  }
  if (results.length === 0) console.error(`conformance: no fixture files (*.json) in ${dir}`);
  console.log(`${results.length - failed} passed, ${failed} failed`);
  return failed === 0 && results.length > 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
