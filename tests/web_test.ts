// src/web/settings.ts and the page's downloads, without a browser: a URL
// query means what the same train flags mean, and the files the page offers
// are the bytes the CLI writes for those settings.
import assert from "node:assert/strict";
import { makePlan } from "../src/experiment/plan.ts";
import { runExperiment } from "../src/experiment/run.ts";
import { lossesCsv } from "../src/outputs/losses.ts";
import { modelBytes, modelFileName } from "../src/outputs/write.ts";
import { parseOptions } from "../src/cli/options.ts";
import { fromQuery, PAGE_DEFAULTS, toQuery, toRequest } from "../src/web/settings.ts";
import { respond } from "../src/cli/serve.ts";
import { inTempDir, train } from "./cli.ts";

/** The request part of the CLI's options for `flags`, with the page's one thread and one job. */
function cliRequest(flags: string[]) {
  const { out: _o, logY: _l, force: _f, quiet: _q, json: _j, help: _h, ...request } = parseOptions(flags);
  return { ...request, threads: 1, jobs: 1 };
}

Deno.test("a page query means what the same train flags mean; the notebook's view is the bare URL", () => {
  assert.equal(toQuery(PAGE_DEFAULTS), "");
  assert.deepEqual(toRequest(fromQuery("")), cliRequest([]));
  const query = "variants=torch,noisy&lr=0.05&momentum=0.1&hidden=16&layers=3&activation=sigmoid&batch-size=32" +
    "&epochs=4&seed=7&bn-position=after&bn-init=legacy";
  const flags = query.split("&").flatMap((kv) => {
    const [k, v] = kv.split("=");
    return [`--${k}`, v];
  });
  assert.deepEqual(toRequest(fromQuery(query)), cliRequest(flags));
  assert.deepEqual(fromQuery(toQuery(fromQuery(query))), fromQuery(query), "a round trip through the URL");
});

Deno.test("a page query out of range or unknown falls back to the default, setting by setting", () => {
  const s = fromQuery("lr=-1&hidden=1000&layers=2.5&activation=gelu&variants=foo&seed=-3&epochs=3");
  assert.deepEqual({ ...s, epochs: PAGE_DEFAULTS.epochs }, { ...PAGE_DEFAULTS });
  assert.equal(s.epochs, 3);
});

Deno.test("the page's losses.csv and model files are the bytes the CLI writes for the same settings", async () => {
  await inTempDir(async (dir) => {
    const flags = ["--epochs", "3", "--lr", "0.03"];
    const r = await train(dir, [...flags, "--out", `${dir}/cli`]);
    assert.equal(r.code, 0, r.stderr);
    const plan = makePlan(toRequest(fromQuery("epochs=3&lr=0.03")), { cores: 1, memory: null });
    const results = await runExperiment(plan);
    assert.equal(lossesCsv(results), await Deno.readTextFile(`${dir}/cli/losses.csv`));
    for (const res of results) {
      const name = modelFileName(res.run.group);
      assert.deepEqual(modelBytes(res.run, res.model!), await Deno.readFile(`${dir}/cli/${name}`), name);
    }
  });
});

Deno.test("the server hands out the site's files, cross-origin isolated, and nothing else", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/index.html`, "<!DOCTYPE html>");
    await Deno.writeTextFile(`${dir}/page.js`, "export {};");
    await Deno.writeTextFile(`${dir}/.hidden.js`, "secret");
    await Deno.writeTextFile(`${dir}/notes.txt`, "not a site type");
    const page = await respond(dir, "/");
    assert.equal(page.status, 200);
    assert.equal(await page.text(), "<!DOCTYPE html>");
    assert.equal(page.headers.get("cross-origin-opener-policy"), "same-origin");
    assert.equal(page.headers.get("cross-origin-embedder-policy"), "require-corp");
    assert.equal((await respond(dir, "/page.js")).headers.get("content-type"), "text/javascript; charset=utf-8");
    for (
      const path of [
        "/../deno.json",
        "/%2e%2e/deno.json",
        "/.hidden.js",
        "/notes.txt",
        "/missing.js",
        "//page.js",
        "/%E0%A4%A.js",
      ]
    ) {
      const r = await respond(dir, path);
      assert.equal(r.status, 404, path);
      await r.body?.cancel();
    }
  });
});
