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

/** A fixture value that does not follow the schema; `field` names where it is, e.g. `steps[2].loss`. */
export class SchemaError extends Error {
  /** Where in the file or case the value is. */
  readonly field: string;
  /** What is wrong with it. */
  readonly detail: string;
  constructor(field: string, detail: string) {
    super(`${field}: ${detail}`);
    this.field = field;
    this.detail = detail;
  }
}

/** A JSON value as a message shows it: short, and `nothing` for a missing one. */
export function shown(v: unknown): string {
  if (v === undefined) return "nothing";
  const text = JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

/** True when `v` has the `{shape, data}` form of a fixture tensor (its contents are checked by {@link asTensor}). */
function isTensor(v: unknown): v is FixtureTensor {
  return typeof v === "object" && v !== null && Array.isArray((v as FixtureTensor).shape) &&
    Array.isArray((v as FixtureTensor).data);
}

/**
 * Returns `v` as a fixture tensor, or throws a {@link SchemaError} naming
 * `field`: the shape must be a list of sizes, the data a list of as many JSON
 * numbers (a number written as a string is a schema error, not a number).
 */
export function asTensor(v: unknown, field: string): FixtureTensor {
  if (!isTensor(v)) throw new SchemaError(field, `expected a {shape, data} tensor, got ${shown(v)}`);
  if (!v.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SchemaError(field, `shape ${shown(v.shape)} is not a list of sizes`);
  }
  const size = v.shape.reduce((a, b) => a * b, 1);
  if (size !== v.data.length) throw new SchemaError(field, `shape [${v.shape}] but ${v.data.length} values`);
  const bad = v.data.findIndex((x) => typeof x !== "number");
  if (bad >= 0) throw new SchemaError(`${field}.data[${bad}]`, `expected a number, got ${shown(v.data[bad])}`);
  return v;
}

/** `v` as a number, or a {@link SchemaError} naming `field`. */
export function asNumber(v: unknown, field: string): number {
  if (typeof v !== "number") throw new SchemaError(field, `expected a number, got ${shown(v)}`);
  return v;
}

/** `v` as a number, `fallback` when it is missing, or a {@link SchemaError} naming `field`. */
export function optionalNumber(v: unknown, field: string, fallback: number): number {
  return v === undefined ? fallback : asNumber(v, field);
}

/** `v` as a list, or a {@link SchemaError} naming `field`. */
export function asList(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw new SchemaError(field, `expected a list, got ${shown(v)}`);
  return v;
}

/** `v` as a JSON object (not null, not a list), or a {@link SchemaError} naming `field`. */
export function asObject(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new SchemaError(field, `expected an object, got ${shown(v)}`);
  }
  return v as Record<string, unknown>;
}

/** `v` as a tensor or a number: the two forms an expected value may take. */
export function asExpected(v: unknown, field: string): FixtureTensor | number {
  if (typeof v === "number") return v;
  if (!isTensor(v)) throw new SchemaError(field, `expected a number or a {shape, data} tensor, got ${shown(v)}`);
  return asTensor(v, field);
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
    const checked = asExpected(expected, name);
    const want = typeof checked === "number" ? [checked] : checked.data;
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
