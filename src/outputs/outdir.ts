/**
 * The output directory of a run, taken safely: its path must not pass
 * through a symbolic link (write permission on `runs/` would otherwise reach
 * wherever the link points); an exclusive lock file, created atomically,
 * keeps a second run out while the first writes; every file bnlab writes is
 * listed in a manifest, so that `force` removes exactly what an earlier run
 * wrote and nothing else.
 *
 * @example
 * ```ts
 * import { OutDir } from "./outdir.ts";
 * const out = OutDir.open("runs/demo", { force: false });
 * await out.writeFile("notes.txt", "hello\n");
 * out.release();
 * ```
 * @module
 */
import { writeFileAtomic } from "./files.ts";

/** The lock file: it holds the pid of the run that writes the directory. */
export const LOCK_FILE = ".bnlab-lock";
/** The manifest: one line per file bnlab wrote into the directory. */
export const MANIFEST_FILE = ".bnlab-files";

/** Why a directory cannot be used, as data: the command line words it. */
export type OutDirProblem =
  | { kind: "symlink"; path: string; link: string }
  | { kind: "not-directory"; path: string }
  | { kind: "locked"; path: string; holder: string }
  | { kind: "not-empty"; path: string };

/** A directory that cannot be used; {@link OutDirError.problem} says why. */
export class OutDirError extends Error {
  /** What is wrong. */
  readonly problem: OutDirProblem;
  constructor(problem: OutDirProblem) {
    super(`cannot use ${problem.path}: ${problem.kind}`);
    this.problem = problem;
  }
}

/**
 * The first component of `path` (as written, from the working directory or /)
 * that is a symbolic link, or null. Components this process may not read are
 * passed over (asking would prompt on a terminal): they lie outside what it
 * may write, and a link there cannot widen that.
 */
function firstSymlink(path: string): string | null {
  const parts = path.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join("/");
    if (prefix === "" || prefix === "." || prefix === "..") continue;
    if (Deno.permissions.querySync({ name: "read", path: prefix }).state !== "granted") continue;
    try {
      if (Deno.lstatSync(prefix).isSymlink) return prefix;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
  }
  return null;
}

/** Names a manifest may hold: plain file names in the directory, nothing with a path. */
const PLAIN_NAME = /^[^/\\]+$/;

/** An output directory this process holds the lock of. */
export class OutDir {
  /** The directory's path, as given. */
  readonly path: string;
  readonly #written = new Set<string>();

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Creates (or opens) `path` and locks it. Throws {@link OutDirError} when
   * the path passes through a symbolic link (before anything is created), is
   * not a directory, is locked by another run, or holds files and `force` is
   * off. With `force`, the files an earlier bnlab run listed in its manifest
   * are removed; any other file stays. Synchronous: it runs at start-up, when
   * nothing else waits on the event loop, and each asynchronous file call is
   * a trip to Deno's blocking pool (in a micro-benchmark the same six calls
   * took 7–9 ms that way, 1.4 ms this way).
   */
  static open(path: string, { force }: { force: boolean }): OutDir {
    const link = firstSymlink(path);
    if (link !== null) throw new OutDirError({ kind: "symlink", path, link });
    try {
      Deno.mkdirSync(path, { recursive: true });
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) throw new OutDirError({ kind: "not-directory", path });
      throw err;
    }
    try {
      Deno.writeTextFileSync(`${path}/${LOCK_FILE}`, `${Deno.pid}\n`, { createNew: true });
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      let holder = "";
      try {
        holder = Deno.readTextFileSync(`${path}/${LOCK_FILE}`).trim();
      } catch { /* gone meanwhile: the holder is unknown */ }
      throw new OutDirError({ kind: "locked", path, holder });
    }
    const dir = new OutDir(path);
    try {
      if (force) dir.#removeEarlierRun();
      for (const e of Deno.readDirSync(path)) {
        if (e.name !== LOCK_FILE && !force) throw new OutDirError({ kind: "not-empty", path });
      }
      Deno.writeTextFileSync(`${path}/${MANIFEST_FILE}`, "");
    } catch (err) {
      dir.release();
      throw err;
    }
    return dir;
  }

  /** Removes every file the manifest of an earlier run lists, then the manifest. */
  #removeEarlierRun(): void {
    let listed = "";
    try {
      listed = Deno.readTextFileSync(`${this.path}/${MANIFEST_FILE}`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    for (const name of listed.split("\n")) {
      if (!PLAIN_NAME.test(name) || name === "." || name === ".." || name === LOCK_FILE) continue;
      let info: Deno.FileInfo | null = null;
      try {
        info = Deno.lstatSync(`${this.path}/${name}`);
      } catch { /* already gone */ }
      if (info?.isFile) Deno.removeSync(`${this.path}/${name}`);
    }
    try {
      Deno.removeSync(`${this.path}/${MANIFEST_FILE}`);
    } catch { /* there was none */ }
  }

  /** Adds each of `names` to the manifest (once), in one write, before the files are created: a crash leaves no unlisted file. */
  async record(...names: string[]): Promise<void> {
    const fresh = names.filter((name) => !this.#written.has(name));
    if (fresh.length === 0) return;
    for (const name of fresh) this.#written.add(name);
    await Deno.writeTextFile(`${this.path}/${MANIFEST_FILE}`, fresh.map((name) => `${name}\n`).join(""), {
      append: true,
    });
  }

  /** Writes `name` in the directory atomically (a temporary file, then a rename), listed in the manifest. */
  async writeFile(name: string, content: string | Uint8Array): Promise<void> {
    await this.record(name);
    await writeFileAtomic(`${this.path}/${name}`, content);
  }

  /** Gives the directory up: removes the lock (synchronously, as {@link OutDir.open} took it). */
  release(): void {
    try {
      Deno.removeSync(`${this.path}/${LOCK_FILE}`);
    } catch { /* not there */ }
  }
}
