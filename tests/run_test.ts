// Runs in parallel jobs: the same bytes in every output file as one job, and
// a signal stops every job, keeping every completed epoch.
import assert from "node:assert/strict";
import { parseCsv } from "../src/outputs/csv.ts";
import { finish, inTempDir, spawnTrain, train } from "./cli.ts";

Deno.test("every output file is the same bytes with --jobs 1 and --jobs 2", async () => {
  await inTempDir(async (dir) => {
    const args = ["--seeds", "3", "--epochs", "2", "--variants", "torch,none", "--hidden", "6,8"];
    for (const jobs of ["1", "2"]) {
      const r = await train(dir, [...args, "--jobs", jobs, "--out", `${dir}/jobs${jobs}`]);
      assert.equal(r.code, 0, r.stderr);
      if (jobs === "2") assert.match(r.stdout, /, 2 runs at once$/m);
    }
    const files = [...Deno.readDirSync(`${dir}/jobs1`)].map((e) => e.name).sort();
    assert.deepEqual([...Deno.readDirSync(`${dir}/jobs2`)].map((e) => e.name).sort(), files);
    assert.ok(files.length >= 18, files.join(", "));
    for (const name of files) {
      const [a, b] = [Deno.readFileSync(`${dir}/jobs1/${name}`), Deno.readFileSync(`${dir}/jobs2/${name}`)];
      assert.ok(a.length === b.length && a.every((v, i) => v === b[i]), `${name} differs between --jobs 1 and 2`);
    }
  });
});

Deno.test("SIGTERM stops every job; losses.csv keeps each started run's completed epochs in plan order", async () => {
  await inTempDir(async (dir) => {
    const out = `${dir}/out`;
    const child = spawnTrain(dir, [
      "--seeds",
      "4",
      "--epochs",
      "100000",
      "--variants",
      "none",
      "--jobs",
      "2",
      "--out",
      out,
    ]);
    const deadline = Date.now() + 60_000;
    // Both first runs have completed an epoch when run 0 has a few (they train side by side).
    while ((await Deno.readTextFile(`${out}/losses.csv`).catch(() => "")).split("\n").length < 6) {
      if (Date.now() > deadline) throw new Error("no epochs within 60 s");
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGTERM");
    const r = await finish(child);
    assert.equal(r.code, 143, r.stderr);
    assert.match(
      r.stderr,
      /^train: SIGTERM during none seed 0, epoch \d+, step \d+ \(and 1 more runs\); .*losses\.csv keeps/m,
    );
    const rows = parseCsv(await Deno.readTextFile(`${out}/losses.csv`)).rows;
    const seeds = [...new Set(rows.map((row) => row[1]))];
    assert.deepEqual(seeds, ["0", "1"], "the two runs under way, in plan order; the others never started");
    for (const seed of seeds) {
      const epochs = rows.filter((row) => row[1] === seed).map((row) => Number(row[2]));
      assert.deepEqual(epochs, epochs.map((_, i) => i), `seed ${seed}: epochs 0… in order, each once`);
      assert.ok(rows.filter((row) => row[1] === seed).every((row) => row[4] !== ""), "no final row for a stopped run");
    }
  });
});
