// Moving samples into a batch: the training loop's shuffled mini-batches are
// gathered here rather than element by element in JavaScript.

/** dst[r, :] = src[index[from + r], :] for r in [0, n), rows of `cols` floats. */
export function gather_rows(dst: usize, src: usize, index: usize, from: i32, n: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  const idx = index + (<usize>from << 2);
  for (let r = 0; r < n; r++) {
    memory.copy(dst + <usize>r * rowBytes, src + <usize>load<u32>(idx + (<usize>r << 2)) * rowBytes, rowBytes);
  }
}
