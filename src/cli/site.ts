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

/**
 * Builds the site into `out`: into a directory beside it first, which then
 * takes its place, so a failed build leaves the previous site (or nothing),
 * never half of one. Returns the files and their total size, or throws naming
 * the bundle that failed.
 */
export async function buildSite(out: string): Promise<{ files: string[]; bytes: number }> {
  const tmp = `${out}.tmp-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  try {
    for (const { file, importMap } of SITE_BUNDLES) {
      const map = importMap ? ["--import-map", new URL(importMap, WEB).pathname] : [];
      const args = ["bundle", "--quiet", "--minify", "--platform", "browser", ...map, "-o", `${tmp}/${file}`];
      const result = await new Deno.Command(Deno.execPath(), {
        args: [...args, new URL("page.ts", WEB).pathname],
        stdout: "inherit",
        stderr: "inherit",
      }).output();
      if (!result.success) throw new Error(`deno bundle of ${file} failed (exit ${result.code})`);
    }
    await Deno.writeTextFile(`${tmp}/index.html`, await Deno.readTextFile(new URL("index.html", WEB)));
    await Deno.remove(out, { recursive: true }).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
    await Deno.rename(tmp, out);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
  const files = [...Deno.readDirSync(out)].filter((e) => e.isFile).map((e) => e.name).sort();
  const bytes = files.reduce((sum, name) => sum + Deno.statSync(`${out}/${name}`).size, 0);
  return { files, bytes };
}

const USAGE = `Usage: deno task site [DIR]

Writes the playground into DIR (default dist/site; the task may write under dist/ only):
index.html and one bundle per build of the kernels. Serve it with deno task serve, or
from any static host.`;

if (import.meta.main) {
  const [arg, ...rest] = Deno.args;
  if (arg === "--help" || arg === "-h") {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (rest.length > 0 || arg?.startsWith("-")) {
    console.error(`site: unexpected ${JSON.stringify(rest[0] ?? arg)}; the one argument is the output directory`);
    Deno.exit(2);
  }
  const out = arg ?? "dist/site";
  try {
    const { files, bytes } = await buildSite(out);
    console.log(`site: ${out}/ holds ${files.join(", ")} (${bytes} bytes)`);
  } catch (err) {
    console.error(`site: ${err instanceof Error ? err.message : String(err)}`);
    Deno.exit(1);
  }
}
