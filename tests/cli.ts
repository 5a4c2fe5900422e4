/**
 * Running bnlab's commands as a user would, for the end-to-end tests: each in
 * a fresh temporary directory, with read and write permission there only
 * (plus, for training, its worker threads' modules). Every command a test
 * starts goes through {@link spawn}, which kills it after a generous deadline
 * so that a hung command fails its test with a message instead of stalling
 * the suite.
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

const MAIN = new URL("../src/cli/main.ts", import.meta.url).pathname;
const PREDICT = new URL("../src/cli/predict.ts", import.meta.url).pathname;
// What `deno task train` may read besides its output: the worker threads' modules.
const SRC = new URL("../src", import.meta.url).pathname;
const KERNELS = new URL("../kernels/build/", import.meta.url).pathname;

/** What a finished command printed, and its exit code. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * How long a command started by a test may run before it is killed and its
 * test fails: a hang detector, far above any command's normal time (the
 * slowest, a bundle or an apt-get install, take seconds to a few minutes).
 */
export const COMMAND_DEADLINE_MS = 10 * 60_000;

/** The deadline of each running command: what it is, and whether it was killed for running past it. */
const deadlines = new WeakMap<Deno.ChildProcess, { what: string; ms: number; expired: boolean }>();

/** Waits for `child` and decodes what it printed; throws when it was killed at its deadline. */
export async function finish(child: Deno.ChildProcess): Promise<Finished> {
  const out = await child.output();
  const deadline = deadlines.get(child);
  if (deadline?.expired) throw new Error(`${deadline.what} was still running after ${deadline.ms / 1000} s; killed`);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The `deno run` command line of the train command allowed to read and write `dir` (and, as the task, to run ps). */
export function trainCommand(dir: string): string[] {
  return [
    Deno.execPath(),
    "run",
    `--allow-read=${dir},${SRC},${KERNELS}`,
    `--allow-write=${dir}`,
    "--allow-run=ps",
    MAIN,
  ];
}

/** How a test starts a command. */
export interface SpawnOptions {
  /** Kill it after this many milliseconds (default {@link COMMAND_DEADLINE_MS}). */
  deadlineMs?: number;
  /** Extra environment variables (NO_COLOR=1 is always set). */
  env?: Record<string, string>;
}

/**
 * Starts `cmd args` in `cwd` with pipes for its output and no colours; it is
 * killed (SIGKILL) if it still runs at its deadline, and {@link finish} then
 * fails with a message naming it.
 */
export function spawn(cmd: string, args: string[], cwd: string, options: SpawnOptions = {}): Deno.ChildProcess {
  const env = { NO_COLOR: "1", ...options.env };
  const child = new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped", env }).spawn();
  const ms = options.deadlineMs ?? COMMAND_DEADLINE_MS;
  const deadline = { what: [cmd.split("/").at(-1), ...args].join(" "), ms, expired: false };
  deadlines.set(child, deadline);
  const timer = setTimeout(() => {
    deadline.expired = true;
    try {
      child.kill("SIGKILL");
    } catch { /* it exited meanwhile */ }
  }, ms);
  child.status.finally(() => clearTimeout(timer));
  return child;
}

/** Runs `cmd args` in `cwd` to the end (see {@link spawn}). */
export function run(cmd: string, args: string[], cwd: string, options: SpawnOptions = {}): Promise<Finished> {
  return finish(spawn(cmd, args, cwd, options));
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
