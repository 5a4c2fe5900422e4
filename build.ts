/**
 * Builds the project's two generated, committed products, each skipped when
 * its inputs did not change since the last build:
 * - every `kernels/*.ts` entry to `kernels/build/<name>.wasm`, with the
 *   AssemblyScript compiler (committed as Deno's std commits its generated
 *   wasm, so training and tests never need the compiler);
 * - the charts' renderer, vega and vega-lite as one file
 *   (`src/outputs/vega.bundle.js`, from `src/outputs/vega.ts`, which says
 *   why), with `deno bundle`.
 *
 * `--check` builds both into a temporary directory and fails, naming each
 * file, when the committed ones differ from a fresh build.
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
/** The charts' renderer: its entry, the committed bundle, and the stamp of the inputs it was built from. */
const CHARTS = { entry: "src/outputs/vega.ts", bundle: "src/outputs/vega.bundle.js", stamp: "src/outputs/.vega.stamp" };

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

async function fingerprint(files: string[], flags: readonly string[], tool = asc.version): Promise<string> {
  const parts = [tool, ...flags];
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

/**
 * Bundles the charts' entry into `out` (browser platform, minified: see
 * src/outputs/vega.ts), with a header naming what it holds and under which
 * licences; exits 1 when `deno bundle` fails.
 */
async function bundleCharts(out: string): Promise<void> {
  const tmp = `${out}.tmp`;
  const { success, code } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--minify", "-o", tmp, CHARTS.entry],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!success) {
    await Deno.remove(tmp).catch(() => {});
    console.error(`build: deno bundle of ${CHARTS.entry} failed (exit ${code})`);
    Deno.exit(1);
  }
  const { imports } = JSON.parse(await Deno.readTextFile("deno.json"));
  const header = [
    `// Generated by \`deno task build\` from ${CHARTS.entry}: do not edit.`,
    `// ${imports["vega"]} and ${imports["vega-lite"]} (BSD-3-Clause, University of Washington`,
    "// Interactive Data Lab) with their dependencies (d3: ISC, Mike Bostock), as",
    "// deno.lock pins them, bundled for the browser platform and minified.\n",
  ].join("\n");
  await Deno.writeTextFile(tmp, header + await Deno.readTextFile(tmp));
  await Deno.rename(tmp, out);
}

/** The inputs the charts' bundle is made from: the entry, the pinned packages and Deno (its esbuild). */
function chartsFingerprint(): Promise<string> {
  return fingerprint(
    [CHARTS.entry, "deno.json", "deno.lock"],
    ["bundle", "--platform", "browser", "--minify"],
    Deno.version.deno,
  );
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
  const stamp = await chartsFingerprint();
  if ((await exists(CHARTS.bundle)) && (await Deno.readTextFile(CHARTS.stamp).catch(() => "")) === stamp) return;
  await Deno.remove(CHARTS.stamp).catch(() => {});
  await bundleCharts(CHARTS.bundle);
  await Deno.writeTextFile(CHARTS.stamp, stamp);
  console.error(`build: bundled ${CHARTS.entry} into ${CHARTS.bundle}`);
}

/** Whether two files hold the same bytes (a missing `committed` file differs). */
async function sameBytes(built: string, committed: string): Promise<boolean> {
  const a = await Deno.readFile(built);
  const b = await Deno.readFile(committed).catch(() => null);
  return b !== null && a.length === b.length && a.every((x, i) => x === b[i]);
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
        if (!await sameBytes(`${fresh}/${name}.wasm`, `${dir}/${name}.wasm`)) stale.push(`${dir}/${name}.wasm`);
      }
      for await (const e of Deno.readDir(dir)) {
        if (e.name.endsWith(".wasm") && !entries.includes(e.name.slice(0, -5))) extra.push(`${dir}/${e.name}`);
      }
    } finally {
      await Deno.remove(fresh, { recursive: true });
    }
  }
  const bundleDir = await Deno.makeTempDir({ dir: OUT, prefix: ".fresh-" });
  let staleBundle = false;
  try {
    await bundleCharts(`${bundleDir}/vega.bundle.js`);
    staleBundle = !await sameBytes(`${bundleDir}/vega.bundle.js`, CHARTS.bundle);
  } finally {
    await Deno.remove(bundleDir, { recursive: true });
  }
  const modules = entries.length * FLAVOURS.length;
  if (stale.length === 0 && extra.length === 0 && !staleBundle) {
    console.log(
      `build --check: the ${modules} committed modules (${FLAVOURS.length} builds) and ${CHARTS.bundle} equal a fresh build`,
    );
    return 0;
  }
  if (stale.length > 0) {
    console.error(
      `build --check: ${
        stale.join(", ")
      } differ from a fresh build of ${KERNELS}/: run deno task build and commit kernels/build/`,
    );
  }
  if (staleBundle) {
    console.error(
      `build --check: ${CHARTS.bundle} differs from a fresh bundle of ${CHARTS.entry} (with Deno ${Deno.version.deno}): run deno task build and commit it`,
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
