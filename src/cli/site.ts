/**
 * `deno task site`: the playground as static files, built into one directory
 * (default dist/site/): the page (src/web/index.html) and three bundles of
 * src/web/page.ts, one per build of the kernels (see build.ts FLAVOURS), among
 * which the page picks what the browser and the server allow.
 *
 * @example
 * ```sh
 * deno task site            # dist/site/
 * deno task site /tmp/site  # elsewhere
 * ```
 * @module
 */
const WEB = new URL("../web/", import.meta.url);

/** The bundles: file name and the import map that selects its kernels (none: deno.json's, shared memory). */
export const SITE_BUNDLES: readonly { file: string; importMap: string | null }[] = [
  { file: "page.js", importMap: null },
  { file: "page-single.js", importMap: "single.importmap.json" },
  { file: "page-compat.js", importMap: "compat.importmap.json" },
];

/** Builds the site into `out`; returns its files and their total size, or throws naming the bundle that failed. */
export async function buildSite(out: string): Promise<{ files: string[]; bytes: number }> {
  await Deno.mkdir(out, { recursive: true });
  for (const { file, importMap } of SITE_BUNDLES) {
    const map = importMap ? ["--import-map", new URL(importMap, WEB).pathname] : [];
    const args = ["bundle", "--quiet", "--minify", "--platform", "browser", ...map, "-o", `${out}/${file}`];
    const result = await new Deno.Command(Deno.execPath(), {
      args: [...args, new URL("page.ts", WEB).pathname],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!result.success) throw new Error(`deno bundle of ${file} failed (exit ${result.code})`);
  }
  await Deno.writeTextFile(`${out}/index.html`, await Deno.readTextFile(new URL("index.html", WEB)));
  const files = [...Deno.readDirSync(out)].filter((e) => e.isFile).map((e) => e.name).sort();
  const bytes = files.reduce((sum, name) => sum + Deno.statSync(`${out}/${name}`).size, 0);
  return { files, bytes };
}

if (import.meta.main) {
  const out = Deno.args[0] ?? "dist/site";
  try {
    const { files, bytes } = await buildSite(out);
    console.log(`site: ${out}/ holds ${files.join(", ")} (${bytes} bytes)`);
  } catch (err) {
    console.error(`site: ${err instanceof Error ? err.message : String(err)}`);
    Deno.exit(1);
  }
}
