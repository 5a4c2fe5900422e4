/**
 * Compiles every `kernels/*.ts` entry to `kernels/build/<name>.wasm` with the
 * AssemblyScript compiler, and skips the work when neither the kernel sources
 * nor the compiler flags changed since the last build.
 *
 * Every module imports the one shared memory (`env.memory`, declared shared so
 * that worker threads run kernels on it too) and nothing else:
 * the stub runtime is never called (kernels do not allocate) and `abort` is
 * compiled out.
 *
 * @example
 * ```sh
 * deno task build
 * ```
 * @module
 */
import asc from "assemblyscript/asc";

const KERNELS = "kernels";
const OUT = "kernels/build";
const STAMP = `${OUT}/.stamp`;

/** The compiler flags every kernel is built with. */
export const ASC_FLAGS: readonly string[] = [
  "--runtime",
  "stub",
  "-O3",
  "--noAssert",
  "--enable",
  "simd,relaxed-simd,threads",
  "--importMemory",
  "--sharedMemory",
  "--maximumMemory",
  "65536",
  "--noExportMemory",
  "--use",
  "abort=",
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

async function fingerprint(files: string[]): Promise<string> {
  const parts = [asc.version, ...ASC_FLAGS];
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

async function build(): Promise<void> {
  const sources = await sourceFiles(KERNELS);
  const entries = sources.filter((f) => f.split("/").length === 2).map((f) => f.slice(KERNELS.length + 1, -3));
  const stamp = await fingerprint(sources);
  const outputs = entries.map((name) => `${OUT}/${name}.wasm`);
  const upToDate = (await exists(STAMP)) && (await Deno.readTextFile(STAMP)) === stamp &&
    (await Promise.all(outputs.map(exists))).every(Boolean);
  if (upToDate) return;

  await Deno.mkdir(OUT, { recursive: true });
  await Deno.remove(STAMP).catch(() => {});
  for (const name of entries) {
    // Compile to a temporary name first so a failed build leaves no truncated module.
    const tmp = `${OUT}/${name}.wasm.tmp`;
    const { error, stderr } = await asc.main([`${KERNELS}/${name}.ts`, "--outFile", tmp, ...ASC_FLAGS]);
    if (error) {
      console.error(stderr.toString());
      console.error(`build: ${KERNELS}/${name}.ts failed: ${error.message}`);
      await Deno.remove(tmp).catch(() => {});
      Deno.exit(1);
    }
    await Deno.rename(tmp, `${OUT}/${name}.wasm`);
  }
  await Deno.writeTextFile(STAMP, stamp);
  console.error(`build: compiled ${entries.length} kernel modules into ${OUT}/`);
}

if (import.meta.main) await build();
