/**
 * Compiles every `kernels/*.ts` entry to `kernels/build/<name>.wasm` with the
 * AssemblyScript compiler, and skips the work when neither the kernel sources
 * nor the compiler flags changed since the last build. The built modules are
 * committed (as Deno's std commits its generated wasm), so training and tests
 * never need the compiler; `--check` builds into a temporary directory and
 * fails, naming each module, when the committed ones differ from a fresh build.
 *
 * Every module imports the one shared memory (`env.memory`, declared shared so
 * that worker threads run kernels on it too) and nothing else:
 * the stub runtime is never called (kernels do not allocate) and `abort` is
 * compiled out.
 *
 * @example
 * ```sh
 * deno task build          # rebuild kernels/build/ when kernels/ changed
 * deno task build --check  # a fresh build must equal what is committed
 * ```
 * @module
 */
// Outside deno.json's imports and the lockfile (the task runs with --no-lock):
// only building the kernels needs the compiler, so nothing else fetches it.
import asc from "npm:assemblyscript@0.28.20/asc";

const KERNELS = "kernels";
const OUT = "kernels/build";

/** The compiler flags of a build: the WebAssembly features it may use, and whether its memory is shared. */
function ascFlags(features: string, shared: boolean): readonly string[] {
  return [
    ...["--runtime", "stub", "-O3", "--noAssert", "--enable", features, "--importMemory"],
    ...(shared ? ["--sharedMemory"] : []),
    ...["--maximumMemory", "65536", "--noExportMemory", "--use", "abort="],
  ];
}

/** The compiler flags of the default build. */
export const ASC_FLAGS: readonly string[] = ascFlags("simd,relaxed-simd,threads", true);

/**
 * The builds: the default (shared memory for worker threads, relaxed SIMD),
 * and two for web pages that are not cross-origin isolated, where browsers
 * give no shared memory: `single` (one thread, relaxed SIMD) and `compat`
 * (one thread, plain SIMD: for engines without relaxed SIMD; its
 * multiply-adds round twice, so results may differ in the last bits).
 */
export const FLAVOURS: readonly { dir: string; flags: readonly string[] }[] = [
  { dir: OUT, flags: ASC_FLAGS },
  { dir: `${OUT}/single`, flags: ascFlags("simd,relaxed-simd,threads", false) },
  { dir: `${OUT}/compat`, flags: ascFlags("simd", false) },
];

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== "build") files.push(...await sourceFiles(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

async function fingerprint(files: string[], flags: readonly string[]): Promise<string> {
  const parts = [asc.version, ...flags];
  for (const f of files) parts.push(f, await Deno.readTextFile(f));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The entry modules: `kernels/<name>.ts` directly in `kernels/`, not its `lib/`. */
function entriesOf(sources: string[]): string[] {
  return sources.filter((f) => f.split("/").length === 2).map((f) => f.slice(KERNELS.length + 1, -3));
}

/** Compiles each entry into `out` with `flags`; exits 1 naming the module that failed. */
async function compile(entries: string[], out: string, flags: readonly string[]): Promise<void> {
  await Deno.mkdir(out, { recursive: true });
  for (const name of entries) {
    // Compile to a temporary name first so a failed build leaves no truncated module.
    const tmp = `${out}/${name}.wasm.tmp`;
    const { error, stderr } = await asc.main([`${KERNELS}/${name}.ts`, "--outFile", tmp, ...flags]);
    if (error) {
      console.error(stderr.toString());
      console.error(`build: ${KERNELS}/${name}.ts failed: ${error.message}`);
      await Deno.remove(tmp).catch(() => {});
      Deno.exit(1);
    }
    await Deno.rename(tmp, `${out}/${name}.wasm`);
  }
}

async function build(): Promise<void> {
  const sources = await sourceFiles(KERNELS);
  const entries = entriesOf(sources);
  for (const { dir, flags } of FLAVOURS) {
    const stampFile = `${dir}/.stamp`;
    const stamp = await fingerprint(sources, flags);
    const outputs = entries.map((name) => `${dir}/${name}.wasm`);
    const upToDate = (await exists(stampFile)) && (await Deno.readTextFile(stampFile)) === stamp &&
      (await Promise.all(outputs.map(exists))).every(Boolean);
    if (upToDate) continue;
    await Deno.remove(stampFile).catch(() => {});
    await compile(entries, dir, flags);
    await Deno.writeTextFile(stampFile, stamp);
    console.error(`build: compiled ${entries.length} kernel modules into ${dir}/`);
  }
}

/** Builds every flavour afresh into a temporary directory and compares every module with the committed one. */
async function check(): Promise<number> {
  const entries = entriesOf(await sourceFiles(KERNELS));
  const stale: string[] = [], extra: string[] = [];
  for (const { dir, flags } of FLAVOURS) {
    // Beside the committed modules: the one place this task may write.
    const fresh = await Deno.makeTempDir({ dir: OUT, prefix: ".fresh-" });
    try {
      await compile(entries, fresh, flags);
      for (const name of entries) {
        const built = await Deno.readFile(`${fresh}/${name}.wasm`);
        const committed = await Deno.readFile(`${dir}/${name}.wasm`).catch(() => null);
        if (!committed || committed.length !== built.length || committed.some((b, i) => b !== built[i])) {
          stale.push(`${dir}/${name}.wasm`);
        }
      }
      for await (const e of Deno.readDir(dir)) {
        if (e.name.endsWith(".wasm") && !entries.includes(e.name.slice(0, -5))) extra.push(`${dir}/${e.name}`);
      }
    } finally {
      await Deno.remove(fresh, { recursive: true });
    }
  }
  const modules = entries.length * FLAVOURS.length;
  if (stale.length === 0 && extra.length === 0) {
    console.log(`build --check: the ${modules} committed modules (${FLAVOURS.length} builds) equal a fresh build`);
    return 0;
  }
  if (stale.length > 0) {
    console.error(
      `build --check: ${
        stale.join(", ")
      } differ from a fresh build of ${KERNELS}/: run deno task build and commit kernels/build/`,
    );
  }
  if (extra.length > 0) console.error(`build --check: ${extra.join(", ")} have no source in ${KERNELS}/`);
  return 1;
}

if (import.meta.main) {
  if (Deno.args[0] === "--check") Deno.exit(await check());
  if (Deno.args.length > 0) {
    console.error(`build: unknown argument ${JSON.stringify(Deno.args[0])}; the one flag is --check`);
    Deno.exit(2);
  }
  await build();
}
