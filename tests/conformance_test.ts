// The PyTorch reference fixtures, case by case, and the conformance runner's
// own behaviour: it must fail on a wrong value and report it as documented.
import assert from "node:assert/strict";
import { failureLine, runConformance } from "../src/conformance/conformance.ts";
import { type Finished, run } from "./cli.ts";

const SHARED = new URL("../../shared/fixtures/", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

function runCli(dir: string): Promise<Finished> {
  return run(Deno.execPath(), ["run", "--allow-read", "src/cli/conformance.ts", dir], ROOT);
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

Deno.test("the network cases pass through the fused step too, and the CLI takes --path fused", async () => {
  const results = await runConformance(SHARED, { path: "fused" });
  assert.equal(results.length, 57);
  assert.deepEqual(results.filter((r) => !r.check.ok).map(failureLine), []);
  const network = results.filter((r) => r.file === "network_step.json");
  assert.equal(network.length, 3);
  assert.ok(network.every((r) => r.check.tensors > 100), "every step's loss, gradients and state were compared");
  const cli = await run(
    Deno.execPath(),
    ["run", "--allow-read", "src/cli/conformance.ts", "--path", "fused", SHARED],
    ROOT,
  );
  assert.equal(cli.stdout, "57 passed, 0 failed\n");
  const bad = await run(
    Deno.execPath(),
    ["run", "--allow-read", "src/cli/conformance.ts", "--path", "gpu", SHARED],
    ROOT,
  );
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'conformance: --path must be layers or fused, got "gpu"\n');
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

Deno.test("malformed fixtures each fail naming the file, the case and the field; the summary line still ends the run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const linear = JSON.parse(await Deno.readTextFile(`${SHARED}/linear.json`));
    const [a, b, c] = linear.cases;
    a.expected.y = null;
    b.expected.dW = "NaN";
    c.expected.y.data[3] = String(c.expected.y.data[3]); // a number written as a string
    const bn = JSON.parse(await Deno.readTextFile(`${SHARED}/batchnorm_train.json`));
    bn.cases[0].eps = "1e-5";
    const write = (name: string, value: unknown) => Deno.writeTextFile(`${dir}/${name}`, JSON.stringify(value));
    await write("a_null.json", null);
    await write("b_cases.json", { file: "linear.json", cases: "abc" });
    await write("c_linear.json", { file: "linear.json", cases: [a, b, c, null] });
    await write("d_empty.json", {});
    await write("e_bn.json", { file: "batchnorm_train.json", cases: [bn.cases[0]] });
    await write("f_kind.json", { file: "toString.json", cases: [{ name: "t", inputs: {}, expected: {} }] });
    await write("index.json", { files: [null, { file: "a_null.json", cases: 1 }, { file: "../../etc/passwd" }] });
    const { code, stdout, stderr } = await runCli(dir);
    assert.equal(code, 1, stderr);
    assert.equal(stderr, "");
    assert.deepEqual(stdout.trimEnd().split("\n"), [
      "FAIL a_null.json (file): file: expected a JSON object, got null",
      'FAIL b_cases.json (file): cases: expected a list, got "abc"',
      `FAIL c_linear.json ${a.name}: y: expected a number or a {shape, data} tensor, got null`,
      `FAIL c_linear.json ${b.name}: dW: expected a number or a {shape, data} tensor, got "NaN"`,
      `FAIL c_linear.json ${c.name}: y.data[3]: expected a number, got "${c.expected.y.data[3]}"`,
      "FAIL c_linear.json #3: case: expected an object, got null",
      "FAIL d_empty.json (file): cases: the file has no cases",
      `FAIL e_bn.json ${bn.cases[0].name}: eps: expected a number, got "1e-5"`,
      'FAIL f_kind.json t: file: no runner for fixture kind "toString"',
      "FAIL index.json manifest: files[0]: expected an object, got null (+2 more)",
      "0 passed, 10 failed",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("conformance words flag mistakes as train does", async () => {
  for (
    const [args, message] of [[["--frob", "x"], "unknown flag --frob (see --help)"], [
      ["-v", "-v", "x"],
      "--verbose is given twice; give each flag once",
    ]]
  ) {
    const r = await run(Deno.execPath(), ["run", "--allow-read", "src/cli/conformance.ts", ...args], ROOT);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `conformance: ${message}\n`);
  }
});
