/**
 * `deno task notebook`: opens notebooks/bnlab.ipynb in Jupyter on Deno's
 * kernel, or says how to get there when Jupyter is not installed.
 *
 * @example
 * ```sh
 * deno task notebook   # jupyter notebook notebooks/bnlab.ipynb, the Deno kernel installed first
 * ```
 * @module
 */
const NOTEBOOK = "notebooks/bnlab.ipynb";

const HOW = `To open ${NOTEBOOK}:
  apt-get install jupyter-notebook     # Jupyter itself (Debian; or pip install notebook)
  deno jupyter --install               # Deno's kernel for it
  jupyter notebook ${NOTEBOOK}
It also reads as it is, outputs included, wherever notebooks are rendered.`;

/** Runs `cmd args`, its output shown; false when the command is missing. */
async function runs(cmd: string, args: string[]): Promise<boolean | null> {
  try {
    const { success } = await new Deno.Command(cmd, { args, stdout: "inherit", stderr: "inherit" }).output();
    return success;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(HOW);
    Deno.exit(0);
  }
  if (await runs("jupyter", ["--version"]) === null) {
    console.log(`jupyter is not installed here.\n\n${HOW}`);
    Deno.exit(1);
  }
  if (!await runs(Deno.execPath(), ["jupyter", "--install"])) Deno.exit(1);
  Deno.exit(await runs("jupyter", ["notebook", NOTEBOOK]) ? 0 : 1);
}
