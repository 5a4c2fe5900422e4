/**
 * Numbers as people read and write them. Reading: plain decimal notation only.
 * JavaScript's `Number()` also takes `0x10`, `0b1`, `" 2 "`, `""` (as 0) and
 * `Infinity`; a flag or a model file that says any of those is a mistake to
 * refuse, not a number to guess. Writing: sizes in bytes that a reader can
 * check against what they typed.
 *
 * @example
 * ```ts
 * import { decimalNumber } from "./numbers.ts";
 * decimalNumber("-2.5e-3"); // -0.0025
 * decimalNumber("0x10"); // null
 * formatBytes(1536); // "1.5 KiB (1536 bytes)"
 * ```
 * @module
 */

/** An optional sign, digits with an optional fraction (or a fraction alone), an optional exponent. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The value of `raw` when it is a finite number in plain decimal notation (an exponent allowed), else null. */
export function decimalNumber(raw: string): number | null {
  if (!DECIMAL.test(raw)) return null;
  const v = Number(raw);
  return Number.isFinite(v) ? v : null;
}

/** `1` → "1 byte", `512` → "512 bytes", `1536` → "1.5 KiB (1536 bytes)": the exact count beside the rounded one. */
export function formatBytes(n: number): string {
  if (n < 1024) return n === 1 ? "1 byte" : `${n} bytes`;
  const [scale, unit] = n >= 2 ** 30 ? [2 ** 30, "GiB"] : n >= 2 ** 20 ? [2 ** 20, "MiB"] : [2 ** 10, "KiB"];
  return `${(n / scale).toFixed(1)} ${unit} (${n} bytes)`;
}
