// bnlab outside its source tree: a bundle (one file, kernels inlined) trains
// from an unrelated directory; a compiled binary does too, where Deno's
// runtime for `deno compile` can be downloaded.
import assert from "node:assert/strict";
import { run } from "./cli.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function trainsIn(dir: string, cmd: string, args: string[]): Promise<void> {
  const r = await run(cmd, [...args, "--epochs", "2", "--out", "runs/standalone"], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^variant\s+final test loss/m);
  const files = [...Deno.readDirSync(`${dir}/runs/standalone`)].map((e) => e.name).sort();
  assert.ok(files.includes("losses.csv") && files.includes("test-loss.svg"), files.join(", "));
}

Deno.test("the bundle is one file that trains from a directory with no kernels/ beside it", async () => {
  const build = await Deno.makeTempDir({ prefix: "bnlab-bundle-" });
  const elsewhere = await Deno.makeTempDir({ prefix: "bnlab-elsewhere-" });
  try {
    const b = await run(
      Deno.execPath(),
      ["bundle", "--platform", "deno", "-o", `${build}/bnlab.js`, "src/cli/main.ts"],
      ROOT,
    );
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual([...Deno.readDirSync(build)].map((e) => e.name), ["bnlab.js"]);
    await Deno.copyFile(`${build}/bnlab.js`, `${elsewhere}/bnlab.js`);
    await trainsIn(elsewhere, Deno.execPath(), ["run", "--allow-read=runs", "--allow-write=runs", "bnlab.js"]);
  } finally {
    await Deno.remove(build, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});

// deno compile needs Deno's runtime (denort) from dl.deno.land. Where it cannot
// be downloaded, the binary test is reported as ignored, with the reason.
const compiled = await Deno.makeTempDir({ prefix: "bnlab-compile-" });
const compile = await run(Deno.execPath(), [
  "compile",
  "--allow-read=runs",
  "--allow-write=runs",
  "--include",
  "src/kernels/worker.ts",
  "-o",
  `${compiled}/bnlab`,
  "src/cli/main.ts",
], ROOT);
const noRuntime = compile.code !== 0 && /denort|dl\.deno\.land|Writing deno compile executable/.test(compile.stderr);
if (noRuntime) {
  console.log(
    "ignoring the compiled-binary test: deno compile could not download Deno's runtime (denort) here: " +
      compile.stderr.split("\n").find((l) => /error/.test(l))?.trim(),
  );
}

Deno.test({
  name: "the compiled binary trains from an unrelated directory",
  ignore: noRuntime,
  async fn() {
    try {
      assert.equal(compile.code, 0, compile.stderr);
      await trainsIn(compiled, `${compiled}/bnlab`, []);
    } finally {
      await Deno.remove(compiled, { recursive: true });
    }
  },
});
if (noRuntime) await Deno.remove(compiled, { recursive: true });
