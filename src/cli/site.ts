/**
 * `deno task site`, after `deno bundle` has written dist/site/page.js: puts
 * the page itself beside it, so that dist/site/ is the whole playground, for
 * `deno task serve` or any static host that sends the cross-origin isolation
 * headers (see src/cli/serve.ts).
 *
 * @example
 * ```sh
 * deno task site   # dist/site/index.html and page.js
 * ```
 * @module
 */
const SOURCE = new URL("../web/index.html", import.meta.url);

if (import.meta.main) {
  const out = Deno.args[0] ?? "dist/site";
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(`${out}/index.html`, await Deno.readTextFile(SOURCE));
  const files = [...Deno.readDirSync(out)].filter((e) => e.isFile);
  const bytes = files.reduce((sum, e) => sum + Deno.statSync(`${out}/${e.name}`).size, 0);
  console.log(`site: ${out}/ holds ${files.map((e) => e.name).sort().join(", ")} (${bytes} bytes)`);
}
