// `deno task predict` under hostile input: whatever the file or the flags, a
// one-line refusal with the documented exit code, after reading at most a
// bounded header, and never a printed prediction from values a network
// cannot hold.
import assert from "node:assert/strict";
import { encodeModel, MAX_MODEL_HEADER, MODEL_FORMAT } from "../src/outputs/checkpoint.ts";
import { Net, notebookSpec } from "../src/net/model.ts";
import { Random } from "../src/net/random.ts";
import { decodeSafetensors, encodeSafetensors } from "../src/outputs/safetensors.ts";
import { type Finished, inTempDir, predict, run } from "./cli.ts";
import { safetensorsBytes } from "./forge.ts";
import { arena } from "../src/kernels/arena.ts";

const PREDICT = new URL("../src/cli/predict.ts", import.meta.url).pathname;

/** A refusal: the exit code, nothing on stdout, one line on stderr matching `message`. */
function refused(r: Finished, code: number, message: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.stdout, "");
  const line = r.stderr.trimEnd();
  assert.equal(line.split("\n").length, 1, r.stderr);
  assert.match(line, message);
}

Deno.test("devices, pipes, oversized and lying files are refused after reading at most the header", async () => {
  await inTempDir(async (dir) => {
    const zero = await run(Deno.execPath(), ["run", "--allow-read", PREDICT, "--model", "/dev/zero", "--x", "1"], dir);
    refused(zero, 1, /^predict: \/dev\/zero: not a regular file$/);

    assert.equal((await run("mkfifo", [`${dir}/fifo`], dir)).code, 0);
    refused(await predict(dir, ["--model", `${dir}/fifo`, "--x", "1"]), 1, /fifo: not a regular file$/);

    // A header length over the cap, in a file long enough to hold it.
    const big = new Uint8Array(8 + MAX_MODEL_HEADER + 8);
    new DataView(big.buffer).setBigUint64(0, BigInt(MAX_MODEL_HEADER + 8), true);
    await Deno.writeFile(`${dir}/big.safetensors`, big);
    refused(
      await predict(dir, ["--model", `${dir}/big.safetensors`, "--x", "1"]),
      1,
      /header length 1048584 is more than the 1048576 bytes allowed$/,
    );

    // 201 bytes whose metadata claims the largest network bnlab builds, and no tensor.
    const meta = { format: MODEL_FORMAT, variant: "torch", inputs: "1", hidden: "4096", layers: "64", outputs: "1" };
    const claim = safetensorsBytes({ __metadata__: { ...meta, activation: "tanh", eps: "1e-5", momentum: "0.1" } }, 0);
    await Deno.writeFile(`${dir}/claim.safetensors`, claim);
    refused(
      await predict(dir, ["--model", `${dir}/claim.safetensors`, "--x", "1"]),
      1,
      /the file has no tensor fc0\.weight$/,
    );

    // Tensors that the header says are there, in a file too short to hold them.
    const lying = safetensorsBytes({ w: { dtype: "F32", shape: [1 << 20], data_offsets: [0, 4 << 20] } }, 16);
    await Deno.writeFile(`${dir}/lying.safetensors`, lying);
    refused(
      await predict(dir, ["--model", `${dir}/lying.safetensors`, "--x", "1"]),
      1,
      /tensors cover 4194304 of the 16/,
    );
  });
});

Deno.test(
  "a NaN weight, an infinite bias, a negative variance or eps 0 is refused on the command line with exit 1",
  async () => {
    await inTempDir(async (dir) => {
      const mark = arena.mark();
      const net = new Net(notebookSpec("torch"), 1);
      net.initialize(new Random(3, "init"));
      const { tensors, metadata } = decodeSafetensors(encodeModel(net, {}));
      arena.release(mark);
      const cases: [string, (name: string, data: Float32Array) => void, Record<string, string>, RegExp][] = [
        ["nan", (n, d) => n === "fc2.weight" && (d[5] = NaN), {}, /fc2\.weight\[5\] is NaN/],
        ["inf", (n, d) => n === "fc0.bias" && (d[0] = -Infinity), {}, /fc0\.bias\[0\] is -Infinity/],
        ["var", (n, d) => n === "bn1.running_var" && (d[2] = -1), {}, /bn1\.running_var\[2\] is -1: a variance/],
        ["eps", () => {}, { eps: "0" }, /__metadata__\.eps must be a number > 0, got "0"/],
      ];
      for (const [name, change, meta, message] of cases) {
        const changed = [...tensors.values()].map((t) => {
          if (!(t.data instanceof Float32Array)) return t;
          const data = t.data.slice();
          change(t.name, data);
          return { ...t, data };
        });
        await Deno.writeFile(`${dir}/${name}.safetensors`, encodeSafetensors(changed, { ...metadata, ...meta }));
        refused(await predict(dir, ["--model", `${dir}/${name}.safetensors`, "--x", "1"]), 1, message);
      }
      // The same file, unchanged, predicts; a negative first x is a value, as anyone types it.
      await Deno.writeFile(`${dir}/good.safetensors`, encodeSafetensors([...tensors.values()], metadata));
      const good = await predict(dir, ["--model", `${dir}/good.safetensors`, "--x", "-5,0,5"]);
      assert.equal(good.code, 0, good.stderr);
      assert.deepEqual(good.stdout.trimEnd().split("\n").map((l) => l.split("\t")[0]), ["-5", "0", "5"]);
      for (
        const [args, message] of [
          [["--x=0x10"], /--x must be a comma list of decimal numbers, got "0x10"/],
          [["--x= 2"], /--x must be a comma list of decimal numbers, got " 2"/],
          [["--x", "1", "--x", "2"], /^predict: --x is given twice; give each flag once$/],
        ] as const
      ) {
        refused(await predict(dir, ["--model", `${dir}/good.safetensors`, ...args]), 2, message);
      }
    });
  },
);
