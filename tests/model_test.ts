// The network's layout: PyTorch's names and order over contiguous buffers.
import assert from "node:assert/strict";
import { arena } from "../src/kernels/arena.ts";
import { Net, netBytes, notebookSpec } from "../src/net/model.ts";
import { notebookData } from "../src/net/dataset.ts";
import { Random } from "../src/net/random.ts";
import { DEFAULTS, trainBytes, trainVariant } from "../src/net/train.ts";

Deno.test("parameters follow the notebook Net's state_dict names and order", () => {
  const mark = arena.mark();
  try {
    const torch = new Net(notebookSpec("torch"), 64);
    const expected = [0, 1, 2, 3].flatMap((l) => [`fc${l}.weight`, `fc${l}.bias`, `bn${l}.weight`, `bn${l}.bias`]);
    assert.deepEqual(torch.parameterNames, [...expected, "predict.weight", "predict.bias"]);
    assert.deepEqual(torch.bufferNames, [0, 1, 2, 3].flatMap((l) => [`bn${l}.running_mean`, `bn${l}.running_var`]));
    const none = new Net(notebookSpec("none"), 64);
    assert.deepEqual(none.parameterNames, [
      ...[0, 1, 2, 3].flatMap((l) => [`fc${l}.weight`, `fc${l}.bias`]),
      "predict.weight",
      "predict.bias",
    ]);
    assert.deepEqual(none.bufferNames, []);
  } finally {
    arena.release(mark);
  }
});

Deno.test("named parameters are consecutive slices of one flat buffer, as are gradients and Adam moments", () => {
  const mark = arena.mark();
  try {
    const net = new Net(notebookSpec("mybn"), 8);
    let offset = net.params.ptr;
    for (const name of net.parameterNames) {
      const p = net.param(name);
      assert.equal(p.ptr, offset, name);
      assert.equal(net.grad(name).ptr - net.grads.ptr, p.ptr - net.params.ptr);
      assert.equal(net.adamMoment1(name).ptr - net.adamM.ptr, p.ptr - net.params.ptr);
      assert.equal(net.adamMoment2(name).ptr - net.adamV.ptr, p.ptr - net.params.ptr);
      offset += p.size * 4;
    }
    assert.equal(offset, net.params.ptr + net.params.size * 4);
    // 10 + 10 + 4·(10 + 10) for fc0/bn0 … and 3·(100 + 10) more for fc1..3, 10 + 1 for predict.
    assert.equal(net.params.size, 10 + 10 + 3 * 110 + 4 * 20 + 11);
  } finally {
    arena.release(mark);
  }
});

Deno.test("MyBN's names are aliases of PyTorch's, and each variant starts from its own running statistics", () => {
  const mark = arena.mark();
  try {
    const mybn = new Net(notebookSpec("mybn"), 8);
    assert.equal(mybn.param("bn2.gamma"), mybn.param("bn2.weight"));
    assert.equal(mybn.param("bn2.beta").ptr, mybn.param("bn2.bias").ptr);
    assert.equal(mybn.buffer("bn1.moving_var").ptr, mybn.buffer("bn1.running_var").ptr);
    assert.deepEqual([...mybn.buffer("bn0.moving_var").f32], new Array(10).fill(0));
    assert.deepEqual([...mybn.param("bn0.gamma").f32], new Array(10).fill(1));
    const torch = new Net(notebookSpec("torch"), 8);
    assert.deepEqual([...torch.buffer("bn3.running_var").f32], new Array(10).fill(1));
    assert.deepEqual([...torch.buffer("bn3.running_mean").f32], new Array(10).fill(0));
    assert.throws(() => torch.param("bn9.weight"), /no parameter called bn9\.weight/);
  } finally {
    arena.release(mark);
  }
});

Deno.test("netBytes is exactly what a Net allocates, and trainBytes what a whole run does", async () => {
  for (
    const [bn, hidden, layers, batch] of [["torch", 10, 4, 64], ["none", 37, 2, 100], ["mybn", 256, 3, 1024]] as const
  ) {
    const mark = arena.mark();
    try {
      const spec = { ...notebookSpec(bn), hidden, layers };
      const before = arena.used;
      new Net(spec, batch);
      const actual = arena.used - before;
      assert.equal(netBytes(spec, batch), actual, `${bn} ${hidden}×${layers}`);
    } finally {
      arena.release(mark);
    }
  }
  const config = { ...DEFAULTS, epochs: 1, hidden: 12 };
  const data = notebookData(0);
  const before = arena.used;
  let during = 0;
  await trainVariant("torch", data, config, { onTrained: () => void (during = arena.used - before) });
  assert.equal(during, trainBytes("torch", config, data.train.x.length, data.test.x.length));
});

Deno.test("--bn-init legacy draws each γ from U(0, 1) after the Linear weights, which stay as with γ = 1", () => {
  const mark = arena.mark();
  try {
    const ones = new Net(notebookSpec("torch"), 8), legacy = new Net(notebookSpec("torch"), 8);
    ones.initialize(new Random(3, "init"));
    legacy.initialize(new Random(3, "init"), "legacy");
    const gammas: number[] = [];
    for (const name of ones.parameterNames) {
      if (/^bn\d+\.weight$/.test(name)) {
        assert.ok(ones.param(name).f32.every((g) => g === 1), name);
        gammas.push(...legacy.param(name).f32);
      } else {
        assert.deepEqual(legacy.param(name).f32, ones.param(name).f32, `${name} is the same draw`);
      }
    }
    assert.equal(gammas.length, 40);
    assert.ok(gammas.every((g) => g >= 0 && g < 1), "γ in [0, 1)");
    assert.equal(new Set(gammas).size, 40, "a draw per unit");
    const none = new Net(notebookSpec("none"), 8);
    none.initialize(new Random(3, "init"), "legacy"); // no BN: nothing more to draw
    assert.deepEqual(none.param("fc0.weight").f32, ones.param("fc0.weight").f32);
  } finally {
    arena.release(mark);
  }
});
