// What the kernel modules promise about memory: they import the one shared
// memory and nothing else, carry no static data that could clash in it, and
// write nothing outside the tensors they are given.
import assert from "node:assert/strict";
import { activation_backward, activation_forward, ACTIVATIONS } from "../src/kernels/activations.ts";
import { ADAM_DEFAULTS, adam_update } from "../src/kernels/adam.ts";
import { arena, type Tensor } from "../src/kernels/arena.ts";
import { batchnorm_backward, batchnorm_forward, batchnormSumsLength } from "../src/kernels/batchnorm.ts";
import { linear_backward, linear_forward } from "../src/kernels/linear.ts";
import { memory } from "../src/kernels/memory.ts";
import { testRandom } from "./rng.ts";
import { assertUntouched, guardAfter, withArena } from "./scoped.ts";

const BUILD = new URL("../kernels/build/", import.meta.url);

async function modules(): Promise<[string, Uint8Array<ArrayBuffer>][]> {
  const out: [string, Uint8Array<ArrayBuffer>][] = [];
  for await (const e of Deno.readDir(BUILD)) {
    if (e.name.endsWith(".wasm")) out.push([e.name, await Deno.readFile(new URL(e.name, BUILD))]);
  }
  return out.sort();
}

/** The ids of a wasm binary's sections (the format's header is 8 bytes; each section is id, LEB128 size, body). */
function sectionIds(bytes: Uint8Array): number[] {
  const ids: number[] = [];
  let p = 8;
  while (p < bytes.length) {
    ids.push(bytes[p++]);
    let size = 0, shift = 0, b: number;
    do {
      b = bytes[p++];
      size |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    p += size;
  }
  return ids;
}

Deno.test("every kernel module's only import is the shared memory (peak.wasm has none)", async () => {
  const found = await modules();
  assert.deepEqual(found.map(([n]) => n), [
    "activations.wasm",
    "adam.wasm",
    "batchnorm.wasm",
    "data.wasm",
    "fused.wasm",
    "linear.wasm",
    "loss.wasm",
    "matmul.wasm",
    "peak.wasm",
  ]);
  for (const [name, bytes] of found) {
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
    // peak.wasm never touches memory, so the optimiser drops even that import.
    const expected = name === "peak.wasm" ? [] : [{ module: "env", name: "memory", kind: "memory" }];
    assert.deepEqual(imports, expected, name);
  }
});

Deno.test("no kernel module has static data (a data section would be written into the shared memory)", async () => {
  for (const [name, bytes] of await modules()) {
    const ids = sectionIds(bytes);
    assert.ok(ids.includes(10), `${name}: no code section found, so the section parser is wrong`);
    assert.ok(!ids.includes(11), `${name} has a data section`);
  }
});

/** Surrounds nothing but follows `t`: the next allocation, filled with a NaN pattern. */
Deno.test("kernels write nothing past their outputs at sizes that are not multiples of four", () => {
  const mark = arena.mark();
  try {
    const r = testRandom(20);
    for (const [N, I, O] of [[3, 1, 10], [5, 10, 1], [7, 6, 3], [2, 3, 5]]) {
      const x = arena.f32([N, I]).set(r.array(N * I, -1, 1));
      const W = arena.f32([O, I]).set(r.array(O * I, -1, 1));
      const b = arena.f32([O]).set(r.array(O, -1, 1));
      const dy = arena.f32([N, O]).set(r.array(N * O, -1, 1));
      const y = arena.f32([N, O]);
      const gy = guardAfter();
      const dx = arena.f32([N, I]);
      const gdx = guardAfter();
      const dW = arena.f32([O, I]);
      const gdW = guardAfter();
      const db = arena.f32([O]);
      const gdb = guardAfter();
      const wt = arena.f32([O * I]);
      const gwt = guardAfter();
      linear_forward(y, x, W, b, wt);
      linear_backward(dx, dW, db, dy, x, W);
      for (const [g, what] of [[gy, "y"], [gdx, "dx"], [gdW, "dW"], [gdb, "db"], [gwt, "Wᵀ scratch"]] as const) {
        assertUntouched(g, `linear ${N}x${I}->${O} ${what}`);
      }
      for (const act of ACTIVATIONS) {
        const out = arena.f32([N, O]);
        const g1 = guardAfter();
        const d = arena.f32([N, O]);
        const g2 = guardAfter();
        activation_forward(act, out, dy);
        activation_backward(act, d, dy, out);
        assertUntouched(g1, `${act}_forward`);
        assertUntouched(g2, `${act}_backward`);
      }
      if (N >= 2) {
        const yb = arena.f32([N, I]);
        const g1 = guardAfter();
        const dxb = arena.f32([N, I]);
        const g2 = guardAfter();
        const gamma = arena.f32([I]).set(new Array(I).fill(1)), beta = arena.f32([I]);
        const mean = arena.f64([I]), rstd = arena.f64([I]);
        batchnorm_forward(yb, mean, rstd, arena.f32([I]), arena.f32([I]), x, gamma, beta, 1e-5, 0.5, "torch");
        batchnorm_backward(
          dxb,
          arena.f32([I]),
          arena.f32([I]),
          arena.f64([batchnormSumsLength(I)]),
          yb,
          x,
          gamma,
          mean,
          rstd,
        );
        assertUntouched(g1, "batchnorm_forward");
        assertUntouched(g2, "batchnorm_backward");
      }
    }
    for (const n of [1, 2, 3, 5, 7]) {
      const p = arena.f32([n]).set(r.array(n, -1, 1));
      const gp = guardAfter();
      const g = arena.f32([n]).set(r.array(n, -1, 1));
      const m = arena.f32([n]);
      const gm = guardAfter();
      const v = arena.f32([n]);
      const gv = guardAfter();
      adam_update(p, g, m, v, null, ADAM_DEFAULTS, 1);
      for (const [guard, what] of [[gp, "params"], [gm, "m"], [gv, "v"]] as const) {
        assertUntouched(guard, `adam_update n=${n} ${what}`);
      }
    }
  } finally {
    arena.release(mark);
  }
});

Deno.test("arena tensors are 16-byte aligned, zeroed, and keep working views after the memory grows", () => {
  const mark = arena.mark();
  try {
    const a = arena.f32([3]).set([1, 2, 3]);
    const b = arena.f64([2]);
    assert.equal(a.ptr % 16, 0);
    assert.equal(b.ptr % 16, 0);
    assert.ok(b.ptr >= a.ptr + 12 + 16, "at least 16 bytes of padding follow every tensor");
    assert.deepEqual([...b.f64], [0, 0]);
    const before = memory.buffer.byteLength;
    const big = arena.f32([(before / 4) | 0]); // forces memory.grow
    assert.ok(memory.buffer.byteLength > before);
    assert.deepEqual([...a.f32], [1, 2, 3]);
    big.f32[0] = 5;
    assert.equal(big.f32[0], 5);
  } finally {
    arena.release(mark);
  }
});

Deno.test(
  "backward kernels write activation gradients (whatever dx held) and add to parameter gradients",
  withArena(() => {
    // Net.zeroGrad zeroes only the parameter gradients; this is the contract that makes that right.
    const r = testRandom(5);
    const [N, I, O] = [7, 6, 5];
    const x = arena.f32([N, I]).set(r.array(N * I, -2, 2)), W = arena.f32([O, I]).set(r.array(O * I, -1, 1));
    const dy = arena.f32([N, O]).set(r.array(N * O, -1, 1)), y = arena.f32([N, I]).set(r.array(N * I, -0.9, 0.9));
    const dyIn = arena.f32([N, I]).set(r.array(N * I, -1, 1));
    const fresh = (shape: number[]) => arena.f32(shape);
    const stale = (shape: number[]) => arena.f32(shape).set(new Array(shape.reduce((a, b) => a * b)).fill(NaN));
    const same = (a: Tensor, b: Tensor, what: string) => assert.deepEqual(a.f32, b.f32, what);

    const [dx0, dx1] = [fresh([N, I]), stale([N, I])];
    const [dW0, dW1] = [fresh([O, I]), arena.f32([O, I]).set(new Array(O * I).fill(1))];
    const [db0, db1] = [fresh([O]), arena.f32([O]).set(new Array(O).fill(1))];
    linear_backward(dx0, dW0, db0, dy, x, W);
    linear_backward(dx1, dW1, db1, dy, x, W);
    same(dx1, dx0, "linear dx");
    // Starting the sums at 1 instead of 0 moves each rounding: a few f32 ulps of values below 10.
    const added = (got: Float32Array, base: Float32Array, what: string) =>
      got.forEach((v, i) => assert.ok(Math.abs(v - (base[i] + 1)) <= 1e-5, `${what}[${i}]: ${v} vs ${base[i]} + 1`));
    added(dW1.f32, dW0.f32, "linear dW accumulates");
    added(db1.f32, db0.f32, "linear db accumulates");
    for (const act of ACTIVATIONS) {
      const [a0, a1] = [fresh([N, I]), stale([N, I])];
      activation_backward(act, a0, dyIn, y);
      activation_backward(act, a1, dyIn, y);
      same(a1, a0, `${act} dx`);
    }
    const gamma = arena.f32([I]).set(r.array(I, 0.5, 1.5)), beta = arena.f32([I]);
    const mean = arena.f64([I]), rstd = arena.f64([I]);
    batchnorm_forward(
      arena.f32([N, I]),
      mean,
      rstd,
      arena.f32([I]),
      arena.f32([I]),
      x,
      gamma,
      beta,
      1e-5,
      0.5,
      "torch",
    );
    const [b0, b1] = [fresh([N, I]), stale([N, I])];
    const sums = arena.f64([batchnormSumsLength(I)]);
    batchnorm_backward(b0, fresh([I]), fresh([I]), sums, dyIn, x, gamma, mean, rstd);
    batchnorm_backward(b1, fresh([I]), fresh([I]), sums, dyIn, x, gamma, mean, rstd);
    same(b1, b0, "batchnorm dx");
  }),
);
