/**
 * Hand-made files for the tests that must refuse them: a safetensors file
 * with whatever header a hostile writer chooses.
 *
 * @example
 * ```ts
 * import { safetensorsBytes } from "./forge.ts";
 * const bytes = safetensorsBytes({ w: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, 4);
 * ```
 * @module
 */

/** A safetensors file: the 8-byte length, `header` as JSON, then `dataBytes` zero bytes. */
export function safetensorsBytes(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.length + dataBytes);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  return bytes;
}
