// notebooks/bnlab.ipynb: executed headless with Jupyter's nbconvert on
// Deno's kernel, no cell may fail, and the losses it prints must equal
// `deno task train`'s for the same settings and those in its committed
// outputs (every column but the training times, which differ run to run).
import assert from "node:assert/strict";
import { inTempDir, run, train } from "./cli.ts";

const NOTEBOOKS = new URL("../notebooks/", import.meta.url).pathname;
const NBCONVERT = "/usr/bin/jupyter-nbconvert";

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Jupyter's nbconvert, installed with apt-get where it is missing and can be; otherwise why there is none. */
async function findJupyter(): Promise<string | null> {
  if (await exists(NBCONVERT)) return null;
  if (!await exists("/usr/bin/apt-get")) return "no jupyter-nbconvert, and no apt-get to install it";
  console.log("installing Jupyter with apt-get for the notebook test …");
  const packages = ["install", "-y", "--no-install-recommends", "jupyter-nbconvert", "python3-ipykernel"];
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  let out = await run("/usr/bin/apt-get", packages, "/", { env });
  if (out.code !== 0) {
    await run("/usr/bin/apt-get", ["update"], "/", { env });
    out = await run("/usr/bin/apt-get", packages, "/", { env });
  }
  return await exists(NBCONVERT)
    ? null
    : `apt-get install jupyter-nbconvert failed: ${out.stderr.trim().split("\n").at(-1)}`;
}

const missing = await findJupyter();
if (missing) console.log(`ignoring the notebook test: ${missing}`);

/** A cell output: a stream, a display (text or a chart), or an error. */
interface Output {
  output_type: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
  ename?: string;
}

interface Notebook {
  cells: { cell_type: string; outputs?: Output[] }[];
}

/** Every line a notebook's cells printed, in order, and the errors they raised. */
function printed(nb: Notebook): { lines: string[]; errors: string[]; code: number } {
  const lines: string[] = [], errors: string[] = [];
  let code = 0;
  for (const cell of nb.cells) {
    if (cell.cell_type !== "code") continue;
    code++;
    for (const o of cell.outputs ?? []) {
      if (o.output_type === "error") errors.push(o.ename ?? "error");
      if (o.output_type === "stream") lines.push(...[o.text ?? ""].flat().join("").split("\n"));
      // The notebook prints through text displays (see its say()); charts carry an SVG as well.
      const text = o.data?.["text/plain"];
      if (text !== undefined && o.data?.["image/svg+xml"] === undefined) {
        lines.push(...[text].flat().join("").split("\n"));
      }
    }
  }
  return { lines, errors, code };
}

/** The lines that carry losses: the per-epoch lists and the summary rows, the training-time column cut. */
function lossLines(lines: readonly string[]): string[] {
  const out: string[] = [];
  let cut = -1;
  for (const l of lines) {
    if (/test loss per epoch:/.test(l)) out.push(l);
    else if (l.startsWith("variant ") && l.includes("training time")) {
      cut = l.indexOf("training time");
      out.push(l.slice(0, cut).trimEnd());
    } else if (cut >= 0 && /^(mybn|torch|none) /.test(l)) out.push(l.slice(0, cut).trimEnd());
    else cut = -1;
  }
  return out;
}

Deno.test({
  name: "the notebook runs headless without an error and prints deno task train's losses, as its committed outputs do",
  ignore: missing !== null,
  fn: async () => {
    await inTempDir(async (dir) => {
      // The kernelspec points at this Deno.
      const install = await run(Deno.execPath(), ["jupyter", "--install", "--force"], dir);
      assert.equal(install.code, 0, install.stderr);
      const start = performance.now();
      const nb = await run(NBCONVERT, [
        "--to",
        "notebook",
        "--execute",
        "--ExecutePreprocessor.timeout=600",
        "bnlab.ipynb",
        "--output",
        `${dir}/executed.ipynb`,
      ], NOTEBOOKS);
      assert.equal(nb.code, 0, nb.stderr);
      const seconds = (performance.now() - start) / 1000;
      const executed = printed(JSON.parse(await Deno.readTextFile(`${dir}/executed.ipynb`)));
      const committed = printed(JSON.parse(await Deno.readTextFile(`${NOTEBOOKS}bnlab.ipynb`)));
      console.log(`notebook: ${executed.code} code cells executed in ${seconds.toFixed(1)} s`);
      assert.deepEqual(executed.errors, []);
      assert.deepEqual(committed.errors, []);

      const cli = await train(dir, ["--out", `${dir}/cli`]);
      assert.equal(cli.code, 0, cli.stderr);
      const seeds = await train(dir, ["--seeds", "10", "--no-diagnostics", "--out", `${dir}/seeds`]);
      assert.equal(seeds.code, 0, seeds.stderr);
      const want = lossLines(
        [...cli.stdout.split("\n"), ...seeds.stdout.split("\n")].filter((l) => !/seed \d/.test(l)),
      );
      const got = lossLines(executed.lines);
      // Three per-epoch lists, the default summary (header and three rows) and the ten seeds' summary.
      assert.equal(got.length, 3 + 4 + 4, got.join("\n"));
      assert.deepEqual(got, want);
      assert.deepEqual(lossLines(committed.lines), got, "the committed outputs are the losses of this code");
    }, "bnlab-notebook-");
  },
});
