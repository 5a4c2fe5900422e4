/**
 * Reading the PyTorch reference fixtures and comparing results with them.
 *
 * A fixture tensor is `{"shape": [...], "data": [...]}`, row-major, with f64
 * values; inputs are exactly representable in f32. Comparisons are
 * element-wise, `|actual − expected| ≤ atol + rtol·|expected|`, and a
 * {@link CaseCheck} keeps, per tensor, the element that came closest to (or
 * furthest past) its bound.
 *
 * @example
 * ```ts
 * import { CaseCheck, tolerance } from "./fixtures.ts";
 * const check = new CaseCheck();
 * const expected = { shape: [2], data: [1, 2] };
 * check.close("y", [1, 2.0000001], expected, tolerance(expected, 1e-5, 1e-6));
 * check.ok; // true
 * ```
 * @module
 */

/** A tensor as the fixtures store it. */
export interface FixtureTensor {
  /** Row-major shape. */
  shape: number[];
  /** The values, flat. */
  data: number[];
}

/** True when `v` has the `{shape, data}` form of a fixture tensor. */
export function isTensor(v: unknown): v is FixtureTensor {
  return typeof v === "object" && v !== null && Array.isArray((v as FixtureTensor).shape) &&
    Array.isArray((v as FixtureTensor).data);
}

/** Returns `v` as a fixture tensor, or throws naming `what`. */
export function asTensor(v: unknown, what: string): FixtureTensor {
  if (!isTensor(v)) throw new TypeError(`${what}: expected a {shape, data} tensor`);
  const size = v.shape.reduce((a, b) => a * b, 1);
  if (size !== v.data.length) throw new TypeError(`${what}: shape [${v.shape}] but ${v.data.length} values`);
  return v;
}

/** The largest |value| of a tensor or scalar. */
export function maxAbs(v: FixtureTensor | number): number {
  if (typeof v === "number") return Math.abs(v);
  let m = 0;
  for (const x of v.data) m = Math.max(m, Math.abs(x));
  return m;
}

/** A per-element bound: `|Δ| ≤ atol + rtol·|expected|`. */
export interface Tolerance {
  /** Relative tolerance. */
  rtol: number;
  /** Absolute tolerance. */
  atol: number;
}

/** The fixtures README's form: `rtol`, and `atol = atolRel · max|expected|` of that tensor. */
export function tolerance(expected: FixtureTensor | number, rtol: number, atolRel: number): Tolerance {
  return { rtol, atol: atolRel * maxAbs(expected) };
}

/** The element of one tensor that failed its bound by the largest factor. */
export interface Mismatch {
  /** Tensor name, e.g. `steps[2].grads.fc1.weight`. */
  tensor: string;
  /** Flat index of the worst element (-1 for a problem with the whole tensor). */
  index: number;
  /** bnlab's value at the worst element. */
  actual: number;
  /** The fixture's value there. */
  expected: number;
  /** |actual − expected|. */
  error: number;
  /** The bound that element had. */
  allowed: number;
  /** Set instead of numbers when the tensor could not be compared at all. */
  message?: string;
}

/** The comparisons of one fixture case. */
export class CaseCheck {
  /** Tensors that failed, each with its worst element. */
  readonly mismatches: Mismatch[] = [];
  /** Number of tensors compared. */
  tensors = 0;

  /** True when no compared tensor failed. */
  get ok(): boolean {
    return this.mismatches.length === 0;
  }

  /**
   * Compares `actual` with `expected` element-wise. `tol` is one bound for all
   * elements or a function giving each element's bound.
   */
  close(
    name: string,
    actual: ArrayLike<number> | number,
    expected: FixtureTensor | number,
    tol: Tolerance | ((index: number) => Tolerance),
  ): void {
    this.tensors++;
    const want = typeof expected === "number" ? [expected] : expected.data;
    const got = typeof actual === "number" ? [actual] : actual;
    if (got.length !== want.length) {
      this.fail(name, `${got.length} values, expected ${want.length}`);
      return;
    }
    let worst: Mismatch | null = null;
    let worstRatio = 1;
    for (let i = 0; i < want.length; i++) {
      const { rtol, atol } = typeof tol === "function" ? tol(i) : tol;
      const allowed = atol + rtol * Math.abs(want[i]);
      const error = Math.abs(got[i] - want[i]);
      // NaN fails every bound: `!(error <= allowed)` is true for it.
      if (!(error <= allowed)) {
        const ratio = Number.isNaN(error) ? Infinity : error / allowed;
        if (worst === null || ratio > worstRatio) {
          worst = { tensor: name, index: i, actual: got[i], expected: want[i], error, allowed };
          worstRatio = ratio;
        }
      }
    }
    if (worst) this.mismatches.push(worst);
  }

  /** Records a problem that is not an element mismatch (wrong shape, missing output, error). */
  fail(name: string, message: string): void {
    this.mismatches.push({ tensor: name, index: -1, actual: NaN, expected: NaN, error: NaN, allowed: NaN, message });
  }
}

/** One line describing a mismatch, e.g. `dx[13]: |Δ| 3.1e-4 > 1.0e-5 (got 0.12, want 0.1203)`. */
export function describeMismatch(m: Mismatch): string {
  if (m.message !== undefined) return `${m.tensor}: ${m.message}`;
  const g = (v: number) => v.toPrecision(8);
  return `${m.tensor}[${m.index}]: |Δ| ${m.error.toExponential(2)} > allowed ${m.allowed.toExponential(2)}` +
    ` (got ${g(m.actual)}, want ${g(m.expected)})`;
}
