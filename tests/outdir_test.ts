// The output directory: locked while a run writes it, never reached through a
// symbolic link, and --force removes exactly what an earlier run wrote.
import assert from "node:assert/strict";
import { LOCK_FILE, MANIFEST_FILE, OutDir, OutDirError, type OutDirProblem } from "../src/outputs/outdir.ts";
import { finish, inTempDir, spawnTrain, train } from "./cli.ts";

function problem(path: string, force = false): OutDirProblem {
  try {
    OutDir.open(path, { force });
  } catch (err) {
    if (err instanceof OutDirError) return err.problem;
    throw err;
  }
  throw new Error(`${path} opened`);
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("a second run cannot take a directory a first one holds; it can once the first is done", async () => {
  await inTempDir(async (tmp) => {
    const first = OutDir.open(`${tmp}/out`, { force: false });
    assert.deepEqual(problem(`${tmp}/out`), { kind: "locked", path: `${tmp}/out`, holder: String(Deno.pid) });
    assert.deepEqual(problem(`${tmp}/out`, true), {
      kind: "locked",
      path: `${tmp}/out`,
      holder: String(Deno.pid),
    });
    await first.writeFile("losses.csv", "x\n");
    first.release();
    assert.deepEqual(names(`${tmp}/out`), [MANIFEST_FILE, "losses.csv"]);
    assert.deepEqual(problem(`${tmp}/out`), { kind: "not-empty", path: `${tmp}/out` });
    assert.deepEqual(names(`${tmp}/out`), [MANIFEST_FILE, "losses.csv"], "a refused open leaves no lock");
  });
});

Deno.test("a path through a symbolic link is refused before anything is created", async () => {
  await inTempDir(async (tmp) => {
    await Deno.mkdir(`${tmp}/runs`);
    await Deno.mkdir(`${tmp}/elsewhere`);
    await Deno.symlink(`${tmp}/elsewhere`, `${tmp}/runs/link`);
    assert.deepEqual(problem(`${tmp}/runs/link/sub`), {
      kind: "symlink",
      path: `${tmp}/runs/link/sub`,
      link: `${tmp}/runs/link`,
    });
    assert.deepEqual(names(`${tmp}/elsewhere`), []);
    assert.deepEqual(names(`${tmp}/runs`), ["link"]);
  });
});

Deno.test("--force removes every file the earlier run listed and keeps every other", async () => {
  await inTempDir(async (tmp) => {
    const earlier = OutDir.open(`${tmp}/out`, { force: false });
    for (const name of ["losses.csv", "model-mybn.safetensors", "index.html"]) await earlier.writeFile(name, "old\n");
    earlier.release();
    await Deno.writeTextFile(`${tmp}/out/notes.txt`, "mine\n");
    await Deno.writeTextFile(`${tmp}/out/${MANIFEST_FILE}`, "../outside.txt\nnotes-missing.txt\n", { append: true });
    await Deno.writeTextFile(`${tmp}/outside.txt`, "not in the directory\n");
    const again = OutDir.open(`${tmp}/out`, { force: true });
    assert.deepEqual(names(`${tmp}/out`), [LOCK_FILE, MANIFEST_FILE, "notes.txt"].sort());
    assert.equal(await Deno.readTextFile(`${tmp}/outside.txt`), "not in the directory\n");
    await again.writeFile("losses.csv", "new\n");
    again.release();
    assert.equal(await Deno.readTextFile(`${tmp}/out/${MANIFEST_FILE}`), "losses.csv\n");
  });
});

Deno.test("two trains into one --out: the second exits 2 naming the first, which completes unaffected", async () => {
  await inTempDir(async (dir) => {
    const out = `${dir}/out`;
    const first = spawnTrain(dir, ["--epochs", "300", "--variants", "torch", "--out", out]);
    const deadline = Date.now() + 60_000;
    while (!(await Deno.stat(`${out}/${LOCK_FILE}`).then(() => true, () => false))) {
      if (Date.now() > deadline) throw new Error("the first run took no lock within 60 s");
      await new Promise((r) => setTimeout(r, 10));
    }
    const second = await train(dir, ["--epochs", "1", "--out", out]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      /^train: --out .* is being written by another bnlab run \(pid \d+\); if that run is gone, remove/,
    );
    assert.equal(second.stdout, "");
    const done = await finish(first);
    assert.equal(done.code, 0, done.stderr);
    assert.ok(names(out).includes("index.html") && !names(out).includes(LOCK_FILE), names(out).join(", "));
  });
});

Deno.test("train refuses an --out through a symbolic link and writes nothing anywhere", async () => {
  await inTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/elsewhere`);
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/link`);
    const r = await train(dir, ["--epochs", "1", "--out", `${dir}/link/sub`]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      `train: --out ${dir}/link/sub passes through the symbolic link ${dir}/link; give a path without links\n`,
    );
    assert.deepEqual(names(`${dir}/elsewhere`), []);
    assert.deepEqual(names(dir), ["elsewhere", "link"]);
  });
});

Deno.test("--force over an earlier run with other variants leaves none of its files, and every file of the user's", async () => {
  await inTempDir(async (dir) => {
    const out = `${dir}/out`;
    assert.equal((await train(dir, ["--epochs", "1", "--variants", "mybn,torch", "--out", out])).code, 0);
    await Deno.writeTextFile(`${out}/my-notes.txt`, "keep me\n");
    const again = await train(dir, [
      "--epochs",
      "1",
      "--variants",
      "none",
      "--no-diagnostics",
      "--force",
      "--out",
      out,
    ]);
    assert.equal(again.code, 0, again.stderr);
    const listed = again.stdout.match(/^Wrote [^:]+: (.*)$/m)![1].split(", ");
    assert.deepEqual(names(out), [...listed, "my-notes.txt", MANIFEST_FILE].sort());
    assert.ok(!names(out).some((n) => n.includes("mybn") || n.includes("torch") || n.startsWith("grad-norms")));
  });
});
