// Weights PyTorch can load: the safetensors layout, a bit-exact round trip,
// `deno task predict`, and (where /usr/bin/python3 has torch) the notebook's
// own Net loading the torch variant's file.
import assert from "node:assert/strict";
import { ADAM_DEFAULTS } from "../src/kernels/adam.ts";
import { arena } from "../src/kernels/arena.ts";
import { decodeModel, encodeModel, MODEL_FORMAT } from "../src/outputs/checkpoint.ts";
import { Net, notebookSpec } from "../src/net/model.ts";
import { formatFloat32, predict as predictInProcess } from "../src/cli/predict.ts";
import { Random } from "../src/net/random.ts";
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from "../src/outputs/safetensors.ts";
import { inTempDir, predict, run, train } from "./cli.ts";
import { safetensorsBytes } from "./forge.ts";
import { withArena } from "./scoped.ts";

const CHECK_SCRIPT = new URL("./torch_load_check.py", import.meta.url).pathname;
const XS = [-4.5, -1, 0, 1.5, 2, 3.25];

/** A network with non-trivial weights and statistics: the seed's init, then three Adam steps. */
function trainedNet(variant: "torch" | "mybn" | "none"): Net {
  const net = new Net(notebookSpec(variant), 8);
  net.initialize(new Random(7, "init"));
  for (let step = 0; step < 3; step++) {
    net.input(8).set(Array.from({ length: 8 }, (_, i) => i - 3.5 + step));
    net.target(8).set(Array.from({ length: 8 }, (_, i) => (i - 3.5) ** 2));
    net.trainStep(8, { ...ADAM_DEFAULTS, lr: 0.02 });
  }
  return net;
}

function evalPredictions(net: Net, xs: number[]): Float32Array {
  net.input(xs.length).set(xs);
  return net.forward(xs.length, false).f32.slice();
}

Deno.test(
  "a model file holds the notebook's state_dict names, float32 data and the configuration",
  withArena(() => {
    const bytes = encodeModel(trainedNet("torch"), { lr: 0.02, seed: 7 });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(headerLength % 8, 0, "the header is padded to 8 bytes, as the reference writer does");
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    const names = Object.keys(header).filter((k) => k !== "__metadata__");
    const layer = (l: number) => [
      `fc${l}.weight`,
      `fc${l}.bias`,
      `bn${l}.weight`,
      `bn${l}.bias`,
      `bn${l}.running_mean`,
      `bn${l}.running_var`,
      `bn${l}.num_batches_tracked`,
    ];
    assert.deepEqual(names, [0, 1, 2, 3].flatMap(layer).concat(["predict.weight", "predict.bias"]));
    const [begin, end] = header["fc1.weight"].data_offsets;
    assert.deepEqual([header["fc1.weight"].dtype, header["fc1.weight"].shape, end - begin], ["F32", [10, 10], 400]);
    assert.deepEqual(header["bn0.num_batches_tracked"].dtype, "I64");
    assert.deepEqual(header["bn0.num_batches_tracked"].shape, []);
    const meta = header.__metadata__;
    assert.equal(meta.format, MODEL_FORMAT);
    assert.deepEqual([meta.variant, meta.hidden, meta.layers, meta.activation], ["torch", "10", "4", "tanh"]);
    assert.deepEqual([meta.eps, meta.momentum, meta.steps, meta.lr, meta.seed], ["0.00001", "0.5", "3", "0.02", "7"]);

    const decoded = decodeSafetensors(bytes);
    assert.equal(decoded.tensors.get("bn3.num_batches_tracked")!.data[0], 3n, "one BN forward per training step");
    const mybn = [...decodeSafetensors(encodeModel(trainedNet("mybn"), {})).tensors.keys()];
    assert.ok(!mybn.some((n) => n.includes("num_batches_tracked")), "only BatchNorm1d counts batches");
  }),
);

for (const variant of ["torch", "mybn", "none"] as const) {
  Deno.test(`a ${variant} model round-trips bit for bit: every tensor and the eval predictions`, () => {
    const mark = arena.mark();
    try {
      const net = trainedNet(variant);
      const { net: back, metadata } = decodeModel(encodeModel(net, { note: "round trip" }), XS.length);
      assert.equal(metadata.note, "round trip");
      assert.deepEqual(back.spec, net.spec);
      assert.equal(back.step, net.step);
      for (const [name, t] of net.stateDict()) assert.deepEqual(back.stateDict().get(name)!.f32, t.f32, name);
      assert.deepEqual(evalPredictions(back, XS), evalPredictions(net, XS));
    } finally {
      arena.release(mark);
    }
  });
}

Deno.test(
  "a damaged or foreign file is refused with the reason",
  withArena(() => {
    const good = encodeModel(trainedNet("torch"), {});
    const refuses = (bytes: Uint8Array, reason: RegExp) =>
      assert.throws(() => decodeModel(bytes, 1), (err) => err instanceof SafetensorsError && reason.test(err.message));
    refuses(good.subarray(0, 5), /too short/);
    refuses(good.subarray(0, good.length - 4), /tensors cover \d+ of the \d+ data bytes/);
    const plain = encodeSafetensors([{ name: "w", shape: [1], data: new Float32Array(1) }], {});
    refuses(plain, /not a bnlab model file/);
    const { tensors, metadata } = decodeSafetensors(good);
    const without = [...tensors.values()].filter((t) => t.name !== "bn2.running_var");
    refuses(encodeSafetensors(without, metadata), /no tensor bn2\.running_var/);
    refuses(encodeSafetensors([...tensors.values()], { ...metadata, hidden: "12" }), /fc0\.weight has shape \[10,1\]/);
    refuses(encodeSafetensors([...tensors.values()], { ...metadata, variant: "none" }), /unexpected tensors/);
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    refuses(huge, /header length \d+ does not fit/);
  }),
);

Deno.test(
  "values a network cannot use are refused naming the tensor or field, before any network is allocated",
  withArena(() => {
    const { tensors, metadata } = decodeSafetensors(encodeModel(trainedNet("torch"), {}));
    const refuses = (bytes: Uint8Array, reason: RegExp) => {
      const top = arena.used;
      assert.throws(() => decodeModel(bytes, 1), (err) => err instanceof SafetensorsError && reason.test(err.message));
      assert.equal(arena.used, top, `nothing allocated for a file refused with ${reason}`);
    };
    /** The file with one value of one tensor replaced. */
    const withValue = (name: string, index: number, value: number) => {
      const changed = [...tensors.values()].map((t) => {
        if (t.name !== name) return t;
        const data = (t.data as Float32Array).slice();
        data[index] = value;
        return { ...t, data };
      });
      return encodeSafetensors(changed, metadata);
    };
    refuses(withValue("fc1.weight", 3, NaN), /^fc1\.weight\[3\] is NaN/);
    refuses(withValue("predict.bias", 0, Infinity), /^predict\.bias\[0\] is Infinity/);
    refuses(withValue("bn2.running_var", 4, -0.5), /^bn2\.running_var\[4\] is -0\.5: a variance cannot be negative/);
    const all = [...tensors.values()];
    refuses(encodeSafetensors(all, { ...metadata, eps: "0" }), /^__metadata__\.eps must be a number > 0, got "0"/);
    refuses(encodeSafetensors(all, { ...metadata, hidden: "0x0a" }), /^__metadata__\.hidden must be a whole number/);
    refuses(encodeSafetensors(all, { ...metadata, steps: "-1" }), /^__metadata__\.steps must be a whole number ≥ 0/);
    // A header that claims the largest network and holds no tensor: refused on the header, nothing allocated.
    const claim = { ...metadata, hidden: "4096", layers: "64" };
    refuses(encodeSafetensors([], claim), /^the file has no tensor fc0\.weight/);
    // A dtype named like an Object.prototype property is just an unknown dtype.
    const safetensorsRefuses = (bytes: Uint8Array, reason: RegExp) =>
      assert.throws(() => decodeSafetensors(bytes), (e) => e instanceof SafetensorsError && reason.test(e.message));
    const forged = safetensorsBytes({ w: { dtype: "toString", shape: [1], data_offsets: [0, 4] } }, 4);
    safetensorsRefuses(forged, /^w: dtype "toString" is not one of F32,I64$/);
    safetensorsRefuses(safetensorsBytes({ __metadata__: "abc" }, 0), /^__metadata__ is not a JSON object$/);
  }),
);

Deno.test("float32 values print as the shortest decimal that reads back exactly", () => {
  for (const v of [0, 1.5, -2, 0.1, 1 / 3, 123456.789, 1e-30, 3.4e38]) {
    const f = Math.fround(v);
    const s = formatFloat32(f);
    assert.equal(Math.fround(Number(s)), f, s);
    assert.ok(s.replace(/^-|\.|e.*$/g, "").replace(/^0+/, "").length <= 9, s);
  }
  assert.equal(formatFloat32(Math.fround(0.1)), "0.1");
});

Deno.test("deno task predict prints x<TAB>prediction per x from a trained run's model file", async () => {
  await inTempDir(async (dir) => {
    const r = await train(dir, ["--epochs", "2", "--out", `${dir}/out`]);
    assert.equal(r.code, 0, r.stderr);
    for (const variant of ["mybn", "torch", "none"]) {
      const file = `${dir}/out/model-${variant}.safetensors`;
      const p = await predict(dir, ["--model", file, "--x", "1.5,2.0,-3"]);
      assert.equal(p.code, 0, p.stderr);
      const expected = predictInProcess(await Deno.readFile(file), [1.5, 2, -3]);
      assert.equal(
        p.stdout,
        `1.5\t${formatFloat32(expected[0])}\n2\t${formatFloat32(expected[1])}\n-3\t${formatFloat32(expected[2])}\n`,
      );
    }
    // predictions.csv was written from the same networks at the test points.
    const csv = (await Deno.readTextFile(`${dir}/out/predictions.csv`)).split("\n");
    const [x, , mybn] = csv[1].split(",");
    const p = await predict(dir, ["--model", `${dir}/out/model-mybn.safetensors`, `--x=${x}`]);
    assert.equal(Math.fround(Number(p.stdout.split("\t")[1])), Math.fround(Number(mybn)));

    const bad: [string[], number, RegExp][] = [
      [["--x", "1"], 2, /^predict: --model FILE is required/],
      [["--model", "m"], 2, /^predict: --x LIST is required/],
      [
        ["--model", `${dir}/out/model-torch.safetensors`, "--x", "1,abc"],
        2,
        /--x must be a comma list of decimal numbers/,
      ],
      [["--model", `${dir}/missing.safetensors`, "--x", "1"], 1, /^predict: cannot read .*missing\.safetensors/],
      [["--model", `${dir}/out/losses.csv`, "--x", "1"], 1, /^predict: .*losses\.csv: header length/],
      [["--frob"], 2, /^predict: .*frob/],
    ];
    for (const [args, code, message] of bad) {
      const b = await predict(dir, args);
      assert.equal(b.code, code, `${args.join(" ")}: ${b.stderr}`);
      assert.equal(b.stdout, "");
      assert.match(b.stderr, message);
    }
  });
});

/** Why the PyTorch check cannot run here, or null when /usr/bin/python3 imports torch. */
async function torchMissing(): Promise<string | null> {
  try {
    const out = await run("/usr/bin/python3", ["-c", "import torch"], Deno.cwd());
    return out.code === 0 ? null : "/usr/bin/python3 has no torch (apt-get install python3-torch)";
  } catch {
    return "there is no /usr/bin/python3";
  }
}

const noTorch = await torchMissing();
if (noTorch) console.log(`ignoring the PyTorch load check: ${noTorch}`);

Deno.test({
  name: "the notebook's PyTorch Net loads the torch variant's file (strict) and predicts what bnlab predicts",
  ignore: noTorch !== null,
  fn: async () => {
    await inTempDir(async (dir) => {
      const r = await train(dir, ["--variants", "torch", "--out", `${dir}/out`]);
      assert.equal(r.code, 0, r.stderr);
      const file = `${dir}/out/model-torch.safetensors`;
      const xs = [-5, -2.5, -1, 0, 0.5, 1.5, 2, 4.75];
      const mine = predictInProcess(await Deno.readFile(file), xs);
      const check = async (expect: ArrayLike<number>, model = file) => {
        const args = [
          CHECK_SCRIPT,
          model,
          `--x=${xs.join(",")}`,
          `--expect=${Array.from(expect, formatFloat32).join(",")}`,
        ];
        const out = await run("/usr/bin/python3", args, dir);
        return { code: out.code, text: out.stdout + out.stderr };
      };
      const { code, text } = await check(mine);
      console.log(text.trimEnd());
      assert.equal(code, 0, text);
      assert.match(text, /variant torch, 4x10 tanh, eps 0\.00001, 30 tensors loaded with strict=True/);
      assert.match(text, /bn0\.num_batches_tracked = 160/);
      assert.match(text, /within the tolerance 1e-5/);
      // The check can fail: one prediction off by 1e-4 (relative) is outside its tolerance.
      const off = await check(mine.map((v, i) => i === 3 ? v + 1e-4 * Math.max(1, Math.abs(v)) : v));
      assert.equal(off.code, 1, off.text);
      assert.match(off.text, /OUTSIDE the tolerance/);

      // BN after the activation: the file says so, and PyTorch's Net built that way predicts the same.
      const after = await train(dir, ["--variants", "torch", "--bn-position", "after", "--out", `${dir}/after`]);
      assert.equal(after.code, 0, after.stderr);
      const afterFile = `${dir}/after/model-torch.safetensors`;
      const afterMine = predictInProcess(await Deno.readFile(afterFile), xs);
      assert.notDeepEqual(afterMine, mine);
      const afterCheck = await check(afterMine, afterFile);
      assert.equal(afterCheck.code, 0, afterCheck.text);
      assert.match(afterCheck.text, /within the tolerance 1e-5/);
    }, "bnlab-torch-");
  },
});
