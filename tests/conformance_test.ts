// The PyTorch reference fixtures, case by case, and the conformance runner's
// own behaviour: it must fail on a wrong value and report it as documented.
import assert from "node:assert/strict";
import { failureLine, runConformance } from "../src/conformance.ts";
import { type Finished, run } from "./cli.ts";

const SHARED = new URL("../../shared/fixtures/", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

function runCli(dir: string): Promise<Finished> {
  return run(Deno.execPath(), ["run", "--allow-read", "src/conformance.ts", dir], ROOT);
}

Deno.test("every case of ../shared/fixtures passes at the README's tolerances", async (t) => {
  const results = await runConformance(SHARED);
  // 8 fixture files with 56 cases, plus the index.json manifest.
  assert.equal(results.length, 57);
  const files = [...new Set(results.map((r) => r.file))];
  for (const file of files) {
    await t.step(file, () => {
      const failures = results.filter((r) => r.file === file && !r.check.ok).map(failureLine);
      assert.deepEqual(failures, []);
    });
  }
});

Deno.test("conformance fails a case whose expected value is off, naming the tensor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = JSON.parse(await Deno.readTextFile(`${SHARED}/linear.json`));
    // One element of one expected tensor, moved by 1e-3 relative: far past rtol 1e-5.
    file.cases[2].expected.dW.data[7] *= 1.001;
    await Deno.writeTextFile(`${dir}/linear.json`, JSON.stringify(file));
    const { code, stdout } = await runCli(dir);
    assert.equal(code, 1);
    const lines = stdout.trim().split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^FAIL linear\.json linear_N64_in10_out10: dW\[7\]: \|Δ\| /);
    assert.equal(lines[1], `${file.cases.length - 1} passed, 1 failed`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("conformance reads fixtures by their `file` field, whatever the file is called", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${SHARED}/adam.json`, `${dir}/renamed.json`);
    const { code, stdout } = await runCli(dir);
    assert.equal(code, 0);
    assert.equal(stdout.trim(), "5 passed, 0 failed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("conformance checks index.json against the files it lists", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${SHARED}/index.json`, `${dir}/index.json`);
    await Deno.copyFile(`${SHARED}/adam.json`, `${dir}/adam.json`);
    const { code, stdout } = await runCli(dir);
    assert.equal(code, 1);
    // Seven of the eight listed files are missing: one line names the first, counts the rest.
    assert.match(
      stdout,
      /^FAIL index\.json manifest: batchnorm_train\.json: listed in index\.json but missing \(\+6 more\)$/m,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("conformance refuses a missing directory and a fixture kind it does not know", async () => {
  const missing = await runCli("/nonexistent/fixtures");
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nonexistent/);

  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/conv.json`, JSON.stringify({ file: "conv2d.json", cases: [{ name: "c" }] }));
    const { code, stdout } = await runCli(dir);
    assert.equal(code, 1);
    assert.match(stdout, /no runner for fixture kind "conv2d"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
