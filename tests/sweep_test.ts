// Statistics over seeds and sweeps over settings: what runs, what is written,
// and that the summary's numbers are the CSV's.
import assert from "node:assert/strict";
import { parseCsv } from "../src/outputs/csv.ts";
import { quantile, spread, spreadAtEach } from "../src/experiment/stats.ts";
import { configurations, singleGrid } from "../src/experiment/sweep.ts";
import { DEFAULTS } from "../src/net/train.ts";
import { inTempDir, predict, train } from "./cli.ts";

Deno.test("quantiles interpolate between order statistics as numpy's default does", () => {
  // numpy.quantile([1, 2, 3, 4], [0.25, 0.5, 0.75]) = [1.75, 2.5, 3.25]
  assert.deepEqual([0.25, 0.5, 0.75].map((p) => quantile([4, 1, 3, 2], p)), [1.75, 2.5, 3.25]);
  assert.deepEqual(spread([5, 1, 3]), { n: 3, min: 1, q1: 2, median: 3, q3: 4, max: 5 });
  assert.ok(Number.isNaN(spread([]).median));
  // Per-epoch statistics count only the runs that reached the epoch.
  assert.deepEqual(spreadAtEach([[1, 5, 9], [3, 7], [2]]).map((s) => [s.n, s.median]), [[3, 2], [2, 6], [1, 9]]);
});

Deno.test("a sweep is the product of its lists, the first list varying slowest", () => {
  const grid = { ...singleGrid(DEFAULTS), lr: [0.01, 0.02], hidden: [8, 16, 32] };
  const configs = configurations(grid, DEFAULTS);
  assert.deepEqual(configs.map((c) => c.label), [
    "lr=0.01 hidden=8",
    "lr=0.01 hidden=16",
    "lr=0.01 hidden=32",
    "lr=0.02 hidden=8",
    "lr=0.02 hidden=16",
    "lr=0.02 hidden=32",
  ]);
  assert.deepEqual(configs[4].config, { ...DEFAULTS, lr: 0.02, hidden: 16 });
  assert.deepEqual(configurations(singleGrid(DEFAULTS), DEFAULTS), [{ config: DEFAULTS, swept: [], label: "" }]);
});

/** Final test loss of each run in losses.csv, by variant (the row of the last epoch). */
function finals(csv: { header: string[]; rows: string[][] }, epochs: number): Map<string, number[]> {
  const col = (name: string) => csv.header.indexOf(name);
  const out = new Map<string, number[]>();
  for (const row of csv.rows) {
    if (row[col("epoch")] !== String(epochs)) continue;
    const v = row[col("variant")];
    out.set(v, [...(out.get(v) ?? []), Number(row[col("test_loss")])]);
  }
  return out;
}

Deno.test("--seeds 3 trains every variant on seeds 0–2 and reports median [min–max] of the CSV's values", async () => {
  await inTempDir(async (dir) => {
    const r = await train(dir, ["--seeds", "3", "--epochs", "2", "--out", `${dir}/s`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split("\n")[0], "9 runs (1 configuration × 3 seeds × 3 variants)");
    const csv = parseCsv(await Deno.readTextFile(`${dir}/s/losses.csv`));
    assert.deepEqual(csv.header, ["variant", "seed", "epoch", "test_loss", "train_loss"]);
    assert.deepEqual(
      [...new Set(csv.rows.map((row) => `${row[0]} ${row[1]}`))],
      ["mybn", "torch", "none"].flatMap((v) => [0, 1, 2].map((s) => `${v} ${s}`)),
    );
    assert.match(r.stdout, /^variant\s+final test loss, median \[min–max\] of 3 seeds\s+best epoch \(median\)/m);
    const fixed = (v: number) => v.toFixed(4).replace(".", "\\.");
    for (const [variant, values] of finals(csv, 2)) {
      const s = spread(values);
      assert.equal(new Set(values).size, 3, `${variant}: the seeds gave equal losses ${values}`);
      assert.match(
        r.stdout,
        new RegExp(`^${variant}\\s+${fixed(s.median)} \\[${fixed(s.min)}–${fixed(s.max)}\\]`, "m"),
      );
    }
    // The chart's line and band are the median and quartiles of the same numbers, epoch by epoch.
    const spec = JSON.parse(await Deno.readTextFile(`${dir}/s/test-loss.vl.json`));
    for (const point of spec.data.values) {
      const at = csv.rows.filter((row) => row[0] === point.series && Number(row[2]) === point.epoch)
        .map((row) => Number(row[3]));
      const s = spread(at);
      assert.deepEqual([point.median, point.q1, point.q3, point.seeds], [s.median, s.q1, s.q3, 3]);
    }
    assert.match(spec.title, /median and interquartile range over 3 seeds/);

    // Seed 1 of the three is exactly a run with --seed 1: data noise, init and shuffles all follow the seed.
    const one = await train(dir, ["--seed", "1", "--epochs", "2", "--out", `${dir}/one`]);
    assert.equal(one.code, 0, one.stderr);
    const single = parseCsv(await Deno.readTextFile(`${dir}/one/losses.csv`)).rows;
    assert.deepEqual(csv.rows.filter((row) => row[1] === "1"), single);
  });
});

Deno.test("comma lists sweep their product: runs counted first, a column per swept flag, a model per group", async () => {
  await inTempDir(async (dir) => {
    const args = ["--variants", "torch,none", "--lr", "0.01,0.03", "--hidden", "6,12", "--epochs", "1"];
    const r = await train(dir, [...args, "--out", `${dir}/sweep`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split("\n")[0], "8 runs (4 configurations × 1 seed × 2 variants)");
    const csv = parseCsv(await Deno.readTextFile(`${dir}/sweep/losses.csv`));
    assert.deepEqual(csv.header, ["variant", "lr", "hidden", "seed", "epoch", "test_loss", "train_loss"]);
    const groups = [...new Set(csv.rows.map((row) => row.slice(0, 3).join(" ")))];
    assert.deepEqual(groups.sort(), [
      "none 0.01 12",
      "none 0.01 6",
      "none 0.03 12",
      "none 0.03 6",
      "torch 0.01 12",
      "torch 0.01 6",
      "torch 0.03 12",
      "torch 0.03 6",
    ]);
    // The summary has a row per group with the swept values in their own columns.
    assert.match(r.stdout, /^variant\s+lr\s+hidden\s+final test loss/m);
    assert.match(r.stdout, /^torch\s+0\.03\s+12\s+\d+\.\d{4}\s/m);
    // Charts group by the swept values.
    const spec = JSON.parse(await Deno.readTextFile(`${dir}/sweep/test-loss.vl.json`));
    assert.equal(new Set(spec.data.values.map((v: { series: string }) => v.series)).size, 8);
    assert.ok(spec.data.values.some((v: { series: string }) => v.series === "torch lr=0.01 hidden=6"));
    // With --lr swept, the lr chart: a point per group, a series per variant and other swept setting,
    // its median the group's final test loss (one seed: the run's own).
    const lr = JSON.parse(await Deno.readTextFile(`${dir}/sweep/lr-robustness.vl.json`));
    type LrRow = { series: string; lr: number; median: number };
    const points: LrRow[] = lr.data.values;
    assert.equal(points.length, 8);
    assert.deepEqual([...new Set(points.map((p) => p.series))].sort(), [
      "none hidden=12",
      "none hidden=6",
      "torch hidden=12",
      "torch hidden=6",
    ]);
    const final = csv.rows.find((row) => row.slice(0, 3).join(" ") === "torch 0.03 12" && row[4] === "1")!;
    const point = points.find((p) => p.series === "torch hidden=12" && p.lr === 0.03)!;
    assert.equal(point.median, Number(final[5]));

    const models = [...Deno.readDirSync(`${dir}/sweep`)].map((e) => e.name).filter((n) => n.startsWith("model-"));
    assert.equal(models.length, 8);
    assert.ok(models.includes("model-torch-lr=0.03-hidden=12.safetensors"), models.join(", "));
    const p = await predict(dir, ["--model", `${dir}/sweep/model-none-lr=0.01-hidden=6.safetensors`, "--x", "1"]);
    assert.equal(p.code, 0, p.stderr);

    // A point of the sweep is exactly the run of its settings alone.
    const alone = await train(dir, [
      "--variants",
      "none",
      "--lr",
      "0.03",
      "--hidden",
      "12",
      "--epochs",
      "1",
      "--out",
      `${dir}/alone`,
    ]);
    assert.equal(alone.code, 0, alone.stderr);
    const aloneRows = parseCsv(await Deno.readTextFile(`${dir}/alone/losses.csv`)).rows;
    const inSweep = csv.rows.filter((row) => row[0] === "none" && row[1] === "0.03" && row[2] === "12")
      .map((row) => [row[0], ...row.slice(3)]);
    assert.deepEqual(inSweep, aloneRows);
  });
});
