/**
 * `deno task serve`: the playground (`deno task site` writes it into
 * dist/site/) on a local server, 127.0.0.1 only. The page trains in the
 * browser; the server only hands out the site's files, with the headers that
 * make the page cross-origin isolated (COOP/COEP), which its shared
 * WebAssembly memory needs.
 *
 * @example
 * ```sh
 * deno task serve --port 8000   # prints http://127.0.0.1:8000/
 * ```
 * @module
 */
import { parseFlags, UsageError } from "./flags.ts";

const USAGE = `Usage: deno task serve [--port N] [--dir DIR]

Serves the playground (built into DIR by deno task site, default dist/site) on
http://127.0.0.1:N/ (default 8000), cross-origin isolated. Ctrl-C stops it.`;

/** Each served file type. */
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  wasm: "application/wasm",
  css: "text/css; charset=utf-8",
  png: "image/png",
  svg: "image/svg+xml",
};

/** Cross-origin isolation (shared memory), and no framing or sniffing. */
const HEADERS = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
  "x-content-type-options": "nosniff",
};

/** The response to a GET of `path` under `dir`: a site file, or 404 (nothing outside `dir`, no directory listing). */
export async function respond(dir: string, path: string): Promise<Response> {
  let name: string;
  try {
    name = path === "/" ? "index.html" : decodeURIComponent(path.slice(1));
  } catch {
    name = ""; // a malformed %-escape names no file
  }
  const type = TYPES[name.slice(name.lastIndexOf(".") + 1)];
  if (!type || name.split("/").some((part) => part === ".." || part === "" || part.startsWith("."))) {
    return new Response("not found\n", { status: 404, headers: HEADERS });
  }
  try {
    return new Response(await Deno.readFile(`${dir}/${name}`), { headers: { ...HEADERS, "content-type": type } });
  } catch {
    return new Response("not found\n", { status: 404, headers: HEADERS });
  }
}

/** Parses the flags and serves until the process is stopped; returns an exit code on a usage error. */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseFlags(args, { port: { type: "string" }, dir: { type: "string" }, help: { type: "boolean" } }).values;
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`serve: ${err.message}`);
    return 2;
  }
  const port = Number(values.port ?? "8000");
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve: --port takes a whole number from 0 to 65535, got ${JSON.stringify(values.port)}`);
    return 2;
  }
  const dir = values.dir ?? "dist/site";
  try {
    await Deno.stat(`${dir}/index.html`);
  } catch {
    console.error(`serve: ${dir}/index.html is missing; run deno task site first`);
    return 1;
  }
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) => console.log(`bnlab playground: http://127.0.0.1:${port}/`),
  }, async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response(null, { status: 405, headers: { ...HEADERS, allow: "GET, HEAD" } });
    }
    const res = await respond(dir, new URL(req.url).pathname);
    return req.method === "HEAD" ? new Response(null, { status: res.status, headers: res.headers }) : res;
  });
  await server.finished;
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
