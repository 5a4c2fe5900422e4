/**
 * Running bnlab's commands as a user would, for the end-to-end tests: each in
 * a fresh temporary directory, with read and write permission there only
 * (plus, for training, its worker threads' modules).
 *
 * @example
 * ```ts
 * import { inTempDir, train } from "./cli.ts";
 * await inTempDir(async (dir) => {
 *   const r = await train(dir, ["--epochs", "1", "--out", `${dir}/out`]);
 * });
 * ```
 * @module
 */

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
const PREDICT = new URL("../src/predict.ts", import.meta.url).pathname;
// What `deno task train` may read besides its output: the worker threads' modules.
const SRC = new URL("../src", import.meta.url).pathname;
const KERNELS = new URL("../kernels/build", import.meta.url).pathname;

/** What a finished command printed, and its exit code. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** Waits for `child` and decodes what it printed. */
export async function finish(child: Deno.ChildProcess): Promise<Finished> {
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The `deno run` command line of the train command allowed to read and write `dir`. */
export function trainCommand(dir: string): string[] {
  return [Deno.execPath(), "run", `--allow-read=${dir},${SRC},${KERNELS}`, `--allow-write=${dir}`, MAIN];
}

/** Starts `cmd args` in `cwd` with pipes for its output and no colours. */
export function spawn(cmd: string, args: string[], cwd: string): Deno.ChildProcess {
  return new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).spawn();
}

/** Runs `cmd args` in `cwd` to the end. */
export function run(cmd: string, args: string[], cwd: string): Promise<Finished> {
  return finish(spawn(cmd, args, cwd));
}

/** Starts the train command in `dir` (see {@link trainCommand}). */
export function spawnTrain(dir: string, args: string[]): Deno.ChildProcess {
  const [deno, ...rest] = trainCommand(dir);
  return spawn(deno, [...rest, ...args], dir);
}

/** Runs the train command in `dir` to the end. */
export function train(dir: string, args: string[]): Promise<Finished> {
  return finish(spawnTrain(dir, args));
}

/** Runs the predict command in `dir`, allowed to read `dir` only. */
export function predict(dir: string, args: string[]): Promise<Finished> {
  return run(Deno.execPath(), ["run", `--allow-read=${dir}`, PREDICT, ...args], dir);
}

/** Runs `fn` in a new temporary directory, removed afterwards. */
export async function inTempDir(fn: (dir: string) => Promise<void>, prefix = "bnlab-test-"): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
