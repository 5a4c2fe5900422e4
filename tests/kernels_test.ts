// What the kernel modules promise about memory: they import the one shared
// memory and nothing else, carry no static data that could clash in it, and
// write nothing outside the tensors they are given.
import assert from "node:assert/strict";
import { activation_backward, activation_forward, ACTIVATIONS } from "../src/kernels/activations.ts";
import { ADAM_DEFAULTS, adam_update } from "../src/kernels/adam.ts";
import { arena, type Tensor } from "../src/kernels/arena.ts";
import { batchnorm_backward, batchnorm_forward, batchnormSumsLength } from "../src/kernels/batchnorm.ts";
import { count_nonfinite, sum_squares } from "../src/kernels/data.ts";
import { linear_backward, linear_forward } from "../src/kernels/linear.ts";
import { matmul_nn_add, matmul_nt, matmul_tn_add } from "../src/kernels/matmul.ts";
import { memory } from "../src/kernels/memory.ts";
import { testRandom } from "./rng.ts";
import { withArena } from "./scoped.ts";

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
function guardAfter(): Tensor {
  return arena.f32([8]).set(new Array(8).fill(NaN));
}

function assertUntouched(guard: Tensor, what: string): void {
  assert.ok(guard.f32.every(Number.isNaN), `${what} wrote past its output`);
}

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
      matmul_nt(y, x, W, null, wt);
      matmul_nn_add(dx, dy, W);
      matmul_tn_add(dW, dy, x);
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
  "sum_squares is Σx² in f64 at every tail length, and counts what count_nonfinite counts",
  withArena(() => {
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 13, 1001]) {
      const t = arena.f32([n]);
      t.f32.forEach((_, i, a) => a[i] = Math.sin(i * 1.7) * 10 ** ((i % 7) - 3));
      const guard = guardAfter();
      let expected = 0;
      for (const v of t.f32) expected += v * v;
      // Both sides sum exact f64 squares of f32 values in another order: at most n·2⁻⁵³ ≈ 1.1e-13 apart
      // relative for n = 1001; 1e-12 leaves a margin.
      assert.ok(Math.abs(sum_squares(t) - expected) <= 1e-12 * expected, `n ${n}: ${sum_squares(t)} vs ${expected}`);
      assertUntouched(guard, "sum_squares");
      if (n > 2) {
        t.f32[1] = NaN;
        t.f32[n - 1] = -Infinity;
        assert.equal(count_nonfinite(t), 2);
        assert.ok(Number.isNaN(sum_squares(t)));
      }
    }
  }),
);

Deno.test("the three products match an f64 reference at sizes that cross every tile, panel and k block", () => {
  // K > 2 k-blocks with a tail, N past several column panels with a 5-column tail, M leaving a
  // 4-row and a 1-row remainder after the 6-row strips; and one small product (no packing).
  for (const [M, N, K] of [[29, 1029, 517], [11, 13, 7]]) {
    const mark = arena.mark();
    try {
      const r = testRandom(M + N + K);
      const a = r.array(M * K, -1, 1), b = r.array(N * K, -1, 1), bias = r.array(N, -1, 1);
      const c0 = r.array(M * N, -1, 1);
      const A = arena.f32([M, K]).set(a), B = arena.f32([N, K]).set(b), At = arena.f32([K, M]), Bt = arena.f32([K, N]);
      At.f32.forEach((_, i, v) => v[i] = A.f32[(i % M) * K + Math.floor(i / M)]);
      Bt.f32.forEach((_, i, v) => v[i] = B.f32[(i % N) * K + Math.floor(i / N)]);
      const nt = arena.f32([M, N]), nn = arena.f32([M, N]).set(c0), tn = arena.f32([M, N]).set(c0);
      matmul_nt(nt, A, B, arena.f32([N]).set(bias), arena.f32([K * N]));
      matmul_nn_add(nn, A, Bt);
      matmul_tn_add(tn, At, Bt);
      let worst = 0;
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let dot = 0, mag = 0;
          for (let k = 0; k < K; k++) {
            const p = A.f32[i * K + k] * B.f32[j * K + k];
            dot += p;
            mag += Math.abs(p);
          }
          // f32 sums of K products, each step one FMA rounding: |error| ≤ K·2⁻²⁴·Σ|a·b| (+ the start value's).
          const c = Math.fround(c0[i * N + j]), bj = Math.fround(bias[j]);
          const tol = K * 2 ** -24 * (mag + 1) + 1e-30;
          for (
            const [got, want] of [[nt.f32[i * N + j], dot + bj], [nn.f32[i * N + j], dot + c], [
              tn.f32[i * N + j],
              dot + c,
            ]]
          ) {
            worst = Math.max(worst, Math.abs(got - want) / tol);
          }
        }
      }
      assert.ok(worst <= 1, `${M}×${N}×${K}: worst error ${worst.toFixed(3)} of the bound`);
    } finally {
      arena.release(mark);
    }
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
