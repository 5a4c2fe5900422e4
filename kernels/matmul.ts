// The matmul family behind `linear`, named with BLAS's transpose letters
// (N: as stored, T: transposed). All buffers are row-major f32.
//
//   matmul_nt      out[M,N]  = A[M,K] · B[N,K]ᵀ (+ bias[N])   x·Wᵀ   (forward)
//   matmul_nn_add  out[M,N] += A[M,K] · B[K,N]                dy·W   (dx)
//   matmul_tn_add  out[M,N] += A[K,M]ᵀ · B[K,N]               dyᵀ·x  (dW)
//
// All three run on one register-blocked kernel, `gemm_rows`: a 6×8 tile of C
// held in twelve f32x4 accumulators while k runs, each step loading two vectors
// of a B row and broadcasting six A elements into twelve fused multiply-adds
// (relaxed-simd FMA: one rounding per step instead of two, so results differ
// from a mul-then-add order in the last bit). A is read through a row and a
// column stride, so Aᵀ costs nothing; B must be row-major [K, N], so the
// forward first transposes W (out×in, small next to the product).
//
// Large products are blocked GotoBLAS-style: k and j in blocks of KC × NC, the
// B block copied ("packed") into 8-column panels and each 6-row strip of A
// into k-major order, so the innermost loop reads both operands sequentially.
// Without packing, a B column walk with a row stride of 4 KiB (N = 1024) maps
// every row to one L1 set and misses on each step. Small products (B under
// 16 KiB) skip the packing, which would cost more than it saves there.

import { madd, storeTail } from "./lib/simd";

const MR = 6;
const KC = 256;
// A 256 × 1024 block of B (1 MiB) stays in a core's L2; each A strip is packed
// once per block, so a wide block packs A once per k block (with 128-column
// blocks A was packed eight times at N = 1024, and 1024³ ran 8–10% slower).
const NC = 1024;
/** Below this many B elements the operands stay where they are. */
const PACK_MIN = 4096;

/** Bytes of scratch one `gemm_rows` call needs for packing (per thread). */
export function gemm_scratch_bytes(): i32 {
  return (MR * KC + KC * NC) * 4;
}

/** The first `n` (1…8) of eight columns: two vectors, stored lane-exact past n. */
// @ts-ignore: decorator
@inline function store8(p: usize, lo: v128, hi: v128, n: i32): void {
  storeTail(p, lo, n);
  storeTail(p + 16, hi, n - 4);
}

/** Row r (< R) of a tile's C: loaded when accumulating, else the bias (or zero). */
// @ts-ignore: decorator
@inline function startRow(p: usize, init: bool, b: v128, offset: usize): v128 {
  return init ? b : v128.load(p + offset);
}

/**
 * One R×8 tile of C, R = 6, 4 or 1 (a constant at every call site, so the
 * unused rows compile away): C[R rows from p0, stride ldc] (init ? bias : C)
 * + Σ_k A·B with A(r, k) at pa + r·ars + k·aks and B(k, 0..7) at pb + k·bks.
 * Twelve f32x4 accumulators at R = 6, each k step loading two vectors of a B
 * row and broadcasting R elements of A. `@inline`, so the packed call sites
 * get their constant strides folded in.
 */
// @ts-ignore: decorator
@inline function tile(
  R: i32, p0: usize, ldc: usize, n: i32, init: bool, bias: usize,
  pa: usize, ars: usize, aks: usize, pb: usize, bks: usize, kc: i32,
): void {
  const p1 = p0 + ldc, p2 = p1 + ldc, p3 = p2 + ldc, p4 = p3 + ldc, p5 = p4 + ldc;
  const zero = f32x4.splat(0);
  const b0 = init && bias ? v128.load(bias) : zero;
  const b1 = init && bias ? v128.load(bias, 16) : zero;
  let c00 = startRow(p0, init, b0, 0), c01 = startRow(p0, init, b1, 16);
  let c10 = zero, c11 = zero, c20 = zero, c21 = zero, c30 = zero, c31 = zero;
  let c40 = zero, c41 = zero, c50 = zero, c51 = zero;
  if (R >= 4) {
    c10 = startRow(p1, init, b0, 0); c11 = startRow(p1, init, b1, 16);
    c20 = startRow(p2, init, b0, 0); c21 = startRow(p2, init, b1, 16);
    c30 = startRow(p3, init, b0, 0); c31 = startRow(p3, init, b1, 16);
  }
  if (R == 6) {
    c40 = startRow(p4, init, b0, 0); c41 = startRow(p4, init, b1, 16);
    c50 = startRow(p5, init, b0, 0); c51 = startRow(p5, init, b1, 16);
  }
  for (let k = 0; k < kc; k++) {
    const v0 = v128.load(pb);
    const v1 = v128.load(pb, 16);
    let av = v128.load32_splat(pa);
    c00 = madd(av, v0, c00);
    c01 = madd(av, v1, c01);
    if (R >= 4) {
      av = v128.load32_splat(pa + ars);
      c10 = madd(av, v0, c10);
      c11 = madd(av, v1, c11);
      av = v128.load32_splat(pa + 2 * ars);
      c20 = madd(av, v0, c20);
      c21 = madd(av, v1, c21);
      av = v128.load32_splat(pa + 3 * ars);
      c30 = madd(av, v0, c30);
      c31 = madd(av, v1, c31);
    }
    if (R == 6) {
      av = v128.load32_splat(pa + 4 * ars);
      c40 = madd(av, v0, c40);
      c41 = madd(av, v1, c41);
      av = v128.load32_splat(pa + 5 * ars);
      c50 = madd(av, v0, c50);
      c51 = madd(av, v1, c51);
    }
    pa += aks;
    pb += bks;
  }
  store8(p0, c00, c01, n);
  if (R >= 4) {
    store8(p1, c10, c11, n);
    store8(p2, c20, c21, n);
    store8(p3, c30, c31, n);
  }
  if (R == 6) {
    store8(p4, c40, c41, n);
    store8(p5, c50, c51, n);
  }
}

/**
 * R rows of C (from cRow) across the columns [j0, j1) of the current block,
 * one R×8 tile per 8 columns: with `pack`, B from its packed panels and A from
 * (paP, arsP, aksP), else both in place (A from pa, ars, aks).
 */
// @ts-ignore: decorator
@inline function strip(
  R: i32, cRow: usize, ldc: usize, j0: i32, j1: i32, init: bool, bias: usize, kc: i32,
  pack: bool, paP: usize, arsP: usize, aksP: usize, packedB: usize,
  pa: usize, ars: usize, aks: usize, bK: usize, ldb: usize,
): void {
  for (let j = j0; j < j1; j += 8) {
    const jo = <usize>j << 2;
    const biasJ = bias ? bias + jo : 0;
    if (pack) {
      const panel = packedB + (<usize>(j - j0) >> 3) * (<usize>kc << 5);
      tile(R, cRow + jo, ldc, j1 - j, init, biasJ, paP, arsP, aksP, panel, 32, kc);
    } else {
      tile(R, cRow + jo, ldc, j1 - j, init, biasJ, pa, ars, aks, bK + jo, ldb, kc);
    }
  }
}

/** Copies B[k0.., j0..j1) (kc rows) into 8-column panels, each kc × 8 floats. */
function packB(dst: usize, b: usize, ldb: usize, kc: i32, j0: i32, j1: i32): void {
  for (let j = j0; j < j1; j += 8) {
    let s = b + (<usize>j << 2);
    for (let k = 0; k < kc; k++) {
      v128.store(dst, v128.load(s));
      v128.store(dst, v128.load(s, 16), 16);
      dst += 32;
      s += ldb;
    }
  }
}

/**
 * Copies the 6 × kc strip of A at `a` (strides ars, aks) into k-major order: 6
 * floats per k. Row-major A (aks = 4, the forward and dx products) goes four k
 * at a time through registers: six row vectors become six k-major vectors in
 * twelve shuffles. A stored transposed (ars = 4, the dW product) is k-major
 * already and is copied 24 bytes per k.
 */
function packA(dst: usize, a: usize, ars: usize, aks: usize, kc: i32): void {
  let k = 0;
  if (aks == 4) {
    for (; k + 4 <= kc; k += 4) {
      const s = a + (<usize>k << 2);
      const r0 = v128.load(s), r1 = v128.load(s + ars), r2 = v128.load(s + 2 * ars);
      const r3 = v128.load(s + 3 * ars), r4 = v128.load(s + 4 * ars), r5 = v128.load(s + 5 * ars);
      // tXYlo = [rX k, rY k, rX k+1, rY k+1], tXYhi the same for k+2, k+3.
      const t01lo = f32x4.shuffle(r0, r1, 0, 4, 1, 5), t01hi = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
      const t23lo = f32x4.shuffle(r2, r3, 0, 4, 1, 5), t23hi = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
      const t45lo = f32x4.shuffle(r4, r5, 0, 4, 1, 5), t45hi = f32x4.shuffle(r4, r5, 2, 6, 3, 7);
      v128.store(dst, f32x4.shuffle(t01lo, t23lo, 0, 1, 4, 5));
      v128.store(dst, f32x4.shuffle(t45lo, t01lo, 0, 1, 6, 7), 16);
      v128.store(dst, f32x4.shuffle(t23lo, t45lo, 2, 3, 6, 7), 32);
      v128.store(dst, f32x4.shuffle(t01hi, t23hi, 0, 1, 4, 5), 48);
      v128.store(dst, f32x4.shuffle(t45hi, t01hi, 0, 1, 6, 7), 64);
      v128.store(dst, f32x4.shuffle(t23hi, t45hi, 2, 3, 6, 7), 80);
      dst += 96;
    }
  } else if (ars == 4) {
    for (; k < kc; k++) {
      const s = a + <usize>k * aks;
      v128.store(dst, v128.load(s));
      store<u64>(dst, load<u64>(s, 16), 16);
      dst += 24;
    }
  }
  for (; k < kc; k++) {
    const s = a + <usize>k * aks;
    store<f32>(dst, load<f32>(s));
    store<f32>(dst, load<f32>(s + ars), 4);
    store<f32>(dst, load<f32>(s + 2 * ars), 8);
    store<f32>(dst, load<f32>(s + 3 * ars), 12);
    store<f32>(dst, load<f32>(s + 4 * ars), 16);
    store<f32>(dst, load<f32>(s + 5 * ars), 20);
    dst += 24;
  }
}

/**
 * Rows [i0, i1) of C[M,N] (=|+=) A·B (+ bias), where A's element (i, k) is at
 * a + 4·(i·rsA + k·csA) and B is row-major [K, N]. With `accumulate` = 0, C is
 * overwritten (starting from `bias`, or zero when `bias` is 0). `scratch`
 * holds `gemm_scratch_bytes()` bytes for packing, or is 0 to never pack.
 * Threads split a product by disjoint row ranges, each with its own scratch:
 * every element gets the same operations in the same order whatever the split.
 */
export function gemm_rows(
  c: usize, a: usize, rsA: i32, csA: i32, b: usize, bias: usize, scratch: usize,
  N: i32, K: i32, accumulate: i32, i0: i32, i1: i32,
): void {
  const ars = <usize>rsA << 2;
  const aks = <usize>csA << 2;
  const ldb = <usize>N << 2;
  const ldc = ldb;
  const pack = scratch != 0 && K * N >= PACK_MIN;
  const packedA = scratch;
  const packedB = scratch + MR * KC * 4;
  for (let k0 = 0; k0 < max(K, 1); k0 += KC) {
    const kc = min(KC, K - k0);
    const init = k0 == 0 && !accumulate;
    const aK = a + <usize>k0 * aks;
    const bK = b + <usize>k0 * ldb;
    for (let j0 = 0; j0 < N; j0 += NC) {
      const j1 = min(j0 + NC, N);
      if (pack) packB(packedB, bK, ldb, kc, j0, j1);
      let i = i0;
      for (; i + MR <= i1; i += MR) {
        const aStrip = aK + <usize>i * ars;
        if (pack) packA(packedA, aStrip, ars, aks, kc);
        strip(6, c + <usize>i * ldc, ldc, j0, j1, init, bias, kc, pack, packedA, 4, 24, packedB, aStrip, ars, aks, bK, ldb);
      }
      // The rows left over read A in place (one strip does not pay for packing); B may be packed.
      if (i + 4 <= i1) {
        const aStrip = aK + <usize>i * ars;
        strip(4, c + <usize>i * ldc, ldc, j0, j1, init, bias, kc, pack, aStrip, ars, aks, packedB, aStrip, ars, aks, bK, ldb);
        i += 4;
      }
      for (; i < i1; i++) {
        const aRow = aK + <usize>i * ars;
        strip(1, c + <usize>i * ldc, ldc, j0, j1, init, bias, kc, pack, aRow, ars, aks, packedB, aRow, ars, aks, bK, ldb);
      }
    }
  }
}

/**
 * bt[K,N] = bᵀ for b[N,K]: makes a plain row-major right operand for
 * `gemm_rows`. 4×4 blocks go through registers (two rounds of shuffles);
 * the edges past a multiple of four are copied element by element.
 */
export function transpose(bt: usize, b: usize, N: i32, K: i32): void {
  const ldb = <usize>K << 2;
  const ldt = <usize>N << 2;
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const src = b + <usize>n * ldb;
    let k = 0;
    for (; k + 4 <= K; k += 4) {
      const s = src + (<usize>k << 2);
      const r0 = v128.load(s), r1 = v128.load(s + ldb), r2 = v128.load(s + 2 * ldb), r3 = v128.load(s + 3 * ldb);
      const t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5), t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
      const t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5), t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
      const d = bt + <usize>k * ldt + (<usize>n << 2);
      v128.store(d, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
      v128.store(d + ldt, f32x4.shuffle(t0, t2, 2, 3, 6, 7));
      v128.store(d + 2 * ldt, f32x4.shuffle(t1, t3, 0, 1, 4, 5));
      v128.store(d + 3 * ldt, f32x4.shuffle(t1, t3, 2, 3, 6, 7));
    }
    for (; k < K; k++) {
      for (let r = 0; r < 4; r++) {
        store<f32>(bt + <usize>k * ldt + (<usize>(n + r) << 2), load<f32>(src + <usize>r * ldb + (<usize>k << 2)));
      }
    }
  }
  for (; n < N; n++) {
    for (let k = 0; k < K; k++) {
      store<f32>(bt + <usize>k * ldt + (<usize>n << 2), load<f32>(b + <usize>n * ldb + (<usize>k << 2)));
    }
  }
}
