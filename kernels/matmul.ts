// The matmul family behind `linear`, named with BLAS's transpose letters
// (N: as stored, T: transposed). All buffers are row-major f32.
//
//   matmul_nt      out[M,N]  = A[M,K] · B[N,K]ᵀ (+ bias[N])   x·Wᵀ   (forward)
//   matmul_nn_add  out[M,N] += A[M,K] · B[K,N]                dy·W   (dx)
//   matmul_tn_add  out[M,N] += A[K,M]ᵀ · B[K,N]               dyᵀ·x  (dW)

import { hsum4, loadMasked, storeTail, tailMask } from "./lib/simd";

/**
 * out = A·Bᵀ (+ bias broadcast over rows when `bias` is not 0).
 * Each output is a dot product along K, four B rows at a time in four f32x4
 * accumulators, reduced by `hsum4` into one vector of four outputs.
 */
export function matmul_nt(out: usize, a: usize, b: usize, bias: usize, M: i32, N: i32, K: i32): void {
  const kBytes = <usize>K << 2;
  const kFull = K & ~3;
  const kMask = tailMask(K - kFull);
  for (let i = 0; i < M; i++) {
    const aRow = a + <usize>i * kBytes;
    const outRow = out + (<usize>i * <usize>N << 2);
    for (let j = 0; j < N; j += 4) {
      // Rows past N repeat row N-1; their lanes are masked off at the store.
      const last = N - 1;
      const b0 = b + <usize>j * kBytes;
      const b1 = b + <usize>min(j + 1, last) * kBytes;
      const b2 = b + <usize>min(j + 2, last) * kBytes;
      const b3 = b + <usize>min(j + 3, last) * kBytes;
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      let k = 0;
      for (; k < kFull; k += 4) {
        const off = <usize>k << 2;
        const av = v128.load(aRow + off);
        s0 = f32x4.add(s0, f32x4.mul(av, v128.load(b0 + off)));
        s1 = f32x4.add(s1, f32x4.mul(av, v128.load(b1 + off)));
        s2 = f32x4.add(s2, f32x4.mul(av, v128.load(b2 + off)));
        s3 = f32x4.add(s3, f32x4.mul(av, v128.load(b3 + off)));
      }
      if (k < K) {
        const off = <usize>k << 2;
        const av = loadMasked(aRow + off, kMask);
        s0 = f32x4.add(s0, f32x4.mul(av, loadMasked(b0 + off, kMask)));
        s1 = f32x4.add(s1, f32x4.mul(av, loadMasked(b1 + off, kMask)));
        s2 = f32x4.add(s2, f32x4.mul(av, loadMasked(b2 + off, kMask)));
        s3 = f32x4.add(s3, f32x4.mul(av, loadMasked(b3 + off, kMask)));
      }
      let r = hsum4(s0, s1, s2, s3);
      const jOff = <usize>j << 2;
      if (bias) r = f32x4.add(r, v128.load(bias + jOff));
      storeTail(outRow + jOff, r, N - j);
    }
  }
}

/** out += A·B: each output row is a sum of B rows scaled by one A element. */
export function matmul_nn_add(out: usize, a: usize, b: usize, M: i32, N: i32, K: i32): void {
  const nBytes = <usize>N << 2;
  for (let i = 0; i < M; i++) {
    const aRow = a + (<usize>i * <usize>K << 2);
    const outRow = out + <usize>i * nBytes;
    for (let j = 0; j < N; j += 4) {
      const jOff = <usize>j << 2;
      let acc = v128.load(outRow + jOff);
      for (let k = 0; k < K; k++) {
        const s = f32x4.splat(load<f32>(aRow + (<usize>k << 2)));
        acc = f32x4.add(acc, f32x4.mul(s, v128.load(b + <usize>k * nBytes + jOff)));
      }
      storeTail(outRow + jOff, acc, N - j);
    }
  }
}

/** out += Aᵀ·B with A stored [K,M]: out row i gathers column i of A. */
export function matmul_tn_add(out: usize, a: usize, b: usize, M: i32, N: i32, K: i32): void {
  const nBytes = <usize>N << 2;
  const mBytes = <usize>M << 2;
  for (let i = 0; i < M; i++) {
    const outRow = out + <usize>i * nBytes;
    const aCol = a + (<usize>i << 2);
    for (let j = 0; j < N; j += 4) {
      const jOff = <usize>j << 2;
      let acc = v128.load(outRow + jOff);
      for (let k = 0; k < K; k++) {
        const s = f32x4.splat(load<f32>(aCol + <usize>k * mBytes));
        acc = f32x4.add(acc, f32x4.mul(s, v128.load(b + <usize>k * nBytes + jOff)));
      }
      storeTail(outRow + jOff, acc, N - j);
    }
  }
}
