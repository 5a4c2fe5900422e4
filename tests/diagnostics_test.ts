// Per-layer diagnostics: histograms and gradient norms that show what BN does
// to tanh's saturation and to the gradients, recorded without disturbing training.
import assert from "node:assert/strict";
import { histogram } from "../src/kernels/data.ts";
import { parseCsv } from "../src/outputs/csv.ts";
import { notebookData } from "../src/net/dataset.ts";
import { LayerRecorder, PRE_ACTIVATION_BINS, snapshotEpochs } from "../src/net/diagnostics.ts";
import type { Net } from "../src/net/model.ts";
import { DEFAULTS, trainVariant } from "../src/net/train.ts";
import { inTempDir, train } from "./cli.ts";

Deno.test("snapshots are the first, middle and last epoch, without repeats", () => {
  assert.deepEqual(snapshotEpochs(10), [0, 5, 10]);
  assert.deepEqual(snapshotEpochs(2), [0, 1, 2]);
  assert.deepEqual(snapshotEpochs(1), [0, 1]);
});

Deno.test("recording reads only: the losses are bit-identical with and without a recorder", async () => {
  const config = { ...DEFAULTS, epochs: 3 };
  for (const variant of ["mybn", "none"] as const) {
    const plain = await trainVariant(variant, notebookData(0), config);
    const recorder = new LayerRecorder(config.layers, config.activation, config.epochs);
    const watched = await trainVariant(variant, notebookData(0), config, recorder.hooks());
    assert.deepEqual(watched.testLoss, plain.testLoss, variant);
    assert.deepEqual(watched.trainLoss, plain.trainLoss, variant);
  }
});

Deno.test("the recorder keeps three snapshots of every layer and each epoch's mean weight-gradient norm", async () => {
  const config = { ...DEFAULTS, epochs: 4 };
  const recorder = new LayerRecorder(config.layers, config.activation, config.epochs);
  // An independent measurement of the same norms, in plain JavaScript (onBackward makes every step a call).
  const norms: number[][] = [];
  let steps = 0;
  await trainVariant("torch", notebookData(0), config, {
    ...recorder.hooks(),
    onBackward: (net: Net) => {
      if (steps++ % 16 === 0) norms.push([]);
      norms.at(-1)!.push(Math.hypot(...net.grad("fc1.weight").f32));
    },
  });
  const d = recorder.result();
  assert.deepEqual(d.snapshots, [0, 2, 4]);
  assert.deepEqual(d.weights, ["fc0.weight", "fc1.weight", "fc2.weight", "fc3.weight", "predict.weight"]);
  assert.equal(d.histograms.length, 3 * 4 * 2);
  for (const h of d.histograms) assert.equal(h.counts.reduce((a, b) => a + b, 0), 100 * 10, `${h.epoch} ${h.layer}`);
  assert.equal(d.gradNorms.length, 4);
  for (const [epoch, row] of d.gradNorms.entries()) {
    const mean = norms[epoch].reduce((a, b) => a + b, 0) / norms[epoch].length;
    // f64 sums of the same f32 squares in another order: ~1e-15 relative.
    assert.ok(Math.abs(row[1] - mean) <= 1e-12 * mean, `epoch ${epoch}: ${row[1]} vs ${mean}`);
  }
});

Deno.test("the recorder's histograms are each snapshot's counts at its eval, kept as a copy (narrow) or counted at once (wide)", async () => {
  // Width 10: 8,000 values a snapshot, kept and counted later; width 384: 307,200, past the 2^18 kept.
  for (const hidden of [10, 384]) {
    const config = { ...DEFAULTS, hidden, epochs: 2 };
    const recorder = new LayerRecorder(config.layers, config.activation, config.epochs);
    const hooks = recorder.hooks();
    const post = { lo: -1, hi: 1, count: 20 };
    const want: { epoch: number; counts: { pre: number[][]; post: number[][] } }[] = [];
    await trainVariant("torch", notebookData(0), config, {
      ...hooks,
      onEval: (epoch, net, rows) => {
        hooks.onEval!(epoch, net, rows);
        want.push({ epoch, counts: net.layerHistograms(rows, PRE_ACTIVATION_BINS, post) });
      },
    });
    const got = recorder.result().histograms;
    assert.equal(got.length, 3 * config.layers * 2, `width ${hidden}`);
    for (const h of got) {
      const w = want.find((w) => w.epoch === h.epoch)!.counts;
      assert.deepEqual(h.bins, h.kind === "pre" ? PRE_ACTIVATION_BINS : post);
      assert.deepEqual(
        h.counts,
        h.kind === "pre" ? w.pre[h.layer] : w.post[h.layer],
        `width ${hidden}: ${h.epoch} ${h.layer} ${h.kind}`,
      );
    }
  }
});

Deno.test("a net's layer histograms, copied in one piece (where the fused kernels left the values, or from each layer), count what layerOutputs gives", async () => {
  for (const [variant, path] of [["mybn", "fused"], ["none", "fused"], ["torch", "layers"]] as const) {
    let checked = 0;
    const bins = { lo: -3, hi: 3, count: 12 }, post = { lo: -1, hi: 1, count: 20 };
    const check = (net: Net, rows: number) => {
      const got = net.layerHistograms(rows, bins, post);
      for (let l = 0; l < DEFAULTS.layers; l++) {
        const { preActivation, activation } = net.layerOutputs(rows, l);
        assert.deepEqual(
          got.pre[l],
          histogram(preActivation, bins),
          `${variant} ${path} layer ${l} pre (${rows} rows)`,
        );
        assert.deepEqual(got.post[l], histogram(activation, post), `${variant} ${path} layer ${l} post (${rows} rows)`);
      }
      checked++;
    };
    // The test set (100 rows, a whole number of vectors), and batches of 39 rows (stride 40) and a last one of 25 (stride 28) after training steps.
    await trainVariant(variant, notebookData(0), { ...DEFAULTS, epochs: 1, batchSize: 39, path }, {
      onEval: (_epoch, net, rows) => check(net, rows),
      afterStep: (net, batch) => (batch.step % 9 === 0 || batch.rows !== 39) && check(net, batch.rows),
    });
    assert.ok(checked >= 4, `${variant} ${path}: ${checked} checks`);
  }
});

/** Fraction of a layer's post-activations in tanh's outer bins (|h| ≥ 0.9) after the last epoch. */
function saturated(recorder: LayerRecorder, layer: number, epochs: number): number {
  const h = recorder.result().histograms.find((h) => h.epoch === epochs && h.layer === layer && h.kind === "post")!;
  return (h.counts[0] + h.counts.at(-1)!) / h.counts.reduce((a, b) => a + b, 0);
}

Deno.test("without BN the tanh units saturate and the middle layers' gradients vanish (seeds 0–2)", async () => {
  // Measured over seeds 0–7: mean saturated fraction 0.64–0.71 without BN, 0.16–0.23 with either BN;
  // fc1/fc2 gradient norms in the last epoch 3.6e-4–1.1e-2 without BN, 8.7–160 with BN.
  for (let seed = 0; seed < 3; seed++) {
    const seen: Record<string, { sat: number; grads: number[] }> = {};
    for (const variant of ["mybn", "torch", "none"] as const) {
      const recorder = new LayerRecorder(DEFAULTS.layers, DEFAULTS.activation, DEFAULTS.epochs);
      await trainVariant(variant, notebookData(seed), { ...DEFAULTS, seed }, recorder.hooks());
      const sat = [0, 1, 2, 3].reduce((s, l) => s + saturated(recorder, l, DEFAULTS.epochs), 0) / 4;
      seen[variant] = { sat, grads: recorder.result().gradNorms.at(-1)!.slice(1, 3) };
    }
    const table = `seed ${seed}: ${JSON.stringify(seen)}`;
    assert.ok(seen.none.sat > 0.5, table);
    assert.ok(seen.mybn.sat < 0.35 && seen.torch.sat < 0.35, table);
    assert.ok(seen.none.grads.every((g) => g < 0.05), table);
    assert.ok([...seen.mybn.grads, ...seen.torch.grads].every((g) => g > 1), table);
  }
});

Deno.test("a run writes the diagnostics CSVs and charts; --no-diagnostics writes none", async () => {
  await inTempDir(async (dir) => {
    const r = await train(dir, ["--epochs", "2", "--out", `${dir}/on`]);
    assert.equal(r.code, 0, r.stderr);
    const hist = parseCsv(await Deno.readTextFile(`${dir}/on/histograms.csv`));
    assert.deepEqual(hist.header, [
      "variant",
      "seed",
      "epoch",
      "layer",
      "kind",
      "bin_lo",
      "bin_hi",
      "count",
      "fraction",
    ]);
    // 3 variants × 3 snapshots × 4 layers × (24 pre + 20 post bins).
    assert.equal(hist.rows.length, 3 * 3 * 4 * 44);
    const panels = new Map<string, number>();
    for (const [variant, , epoch, layer, kind, , , count, fraction] of hist.rows) {
      const k = `${variant} ${epoch} ${layer} ${kind}`;
      panels.set(k, (panels.get(k) ?? 0) + Number(fraction));
      assert.ok(Number.isInteger(Number(count)));
    }
    for (const [k, total] of panels) assert.ok(Math.abs(total - 1) < 1e-9, `${k}: fractions sum to ${total}`);
    assert.equal(hist.rows[0][5], "-Infinity");
    const grads = parseCsv(await Deno.readTextFile(`${dir}/on/grad-norms.csv`));
    assert.deepEqual(grads.header, ["variant", "seed", "epoch", "weight", "grad_norm"]);
    assert.equal(grads.rows.length, 3 * 2 * 5);
    for (const name of ["layer-histograms", "grad-norms"]) {
      const svg = await Deno.readTextFile(`${dir}/on/${name}.svg`);
      assert.match(svg, /^<svg/);
      for (const v of ["mybn", "torch", "none"]) assert.ok(svg.includes(`>${v}`), `${name}.svg names ${v}`);
    }

    const off = await train(dir, ["--epochs", "2", "--no-diagnostics", "--out", `${dir}/off`]);
    assert.equal(off.code, 0, off.stderr);
    const files = [...Deno.readDirSync(`${dir}/off`)].map((e) => e.name);
    for (const f of ["histograms.csv", "grad-norms.csv", "layer-histograms.svg", "grad-norms.svg"]) {
      assert.ok(!files.includes(f), `${f} written with --no-diagnostics`);
    }
    // The losses do not depend on watching them.
    assert.equal(await Deno.readTextFile(`${dir}/off/losses.csv`), await Deno.readTextFile(`${dir}/on/losses.csv`));
  });
});
