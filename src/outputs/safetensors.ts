/**
 * The safetensors file format (https://github.com/huggingface/safetensors),
 * the subset bnlab needs: F32 and I64 tensors and a `__metadata__` map of
 * strings. A file is an 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range, then the tensors' bytes,
 * back to back with no holes. PyTorch's `safetensors.torch.load_file` reads it,
 * and so does ten lines of standard-library Python.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors([{ name: "w", shape: [2], data: new Float32Array([1, 2]) }], { note: "hi" });
 * decodeSafetensors(bytes).tensors.get("w")!.data; // Float32Array [1, 2]
 * ```
 * @module
 */

/** One tensor of a safetensors file: F32 values, or I64 ones (PyTorch's `num_batches_tracked`). */
export interface SafeTensor {
  /** The tensor's name in the file (a state_dict key). */
  name: string;
  /** Row-major shape; [] for a scalar. */
  shape: readonly number[];
  /** The values: F32 or I64. */
  data: Float32Array | BigInt64Array;
}

/** A decoded file: its tensors by name, in file order, and its metadata. */
export interface SafetensorsFile {
  /** Each tensor, by name, in file order. */
  tensors: Map<string, SafeTensor>;
  /** `__metadata__`: string keys and values. */
  metadata: Record<string, string>;
}

/** A file that is not valid safetensors, or holds what bnlab cannot read. */
export class SafetensorsError extends Error {}

const DTYPES = { F32: 4, I64: 8 } as const;
/** The element types bnlab reads and writes. */
export type Dtype = keyof typeof DTYPES;
/** Headers above this are refused before being read (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;

/** The dtype of a tensor's values. */
export function dtypeOf(data: SafeTensor["data"]): Dtype {
  return data instanceof Float32Array ? "F32" : "I64";
}

/** The file's bytes: the header (padded with spaces to 8 bytes), then each tensor's little-endian bytes in order. */
export function encodeSafetensors(tensors: readonly SafeTensor[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) {
      throw new RangeError(`${t.name}: shape [${t.shape}] holds ${elements} values, got ${t.data.length}`);
    }
    if (t.name === "__metadata__" || t.name in header) throw new RangeError(`tensor name ${t.name} is taken`);
    header[t.name] = { dtype: dtypeOf(t.data), shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors) {
    out.set(littleEndianBytes(t.data), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Where one tensor lies in a file, as its header says. */
export interface TensorEntry {
  /** The tensor's name. */
  name: string;
  /** Its element type. */
  dtype: Dtype;
  /** Row-major shape. */
  shape: number[];
  /** Byte range [begin, end) in the data that follows the header. */
  begin: number;
  /** See `begin`. */
  end: number;
}

/** A parsed header: the tensors in file order and the metadata. */
export interface SafetensorsHeader {
  /** Each tensor's dtype, shape and byte range, in header order. */
  entries: TensorEntry[];
  /** `__metadata__`: string keys and values. */
  metadata: Record<string, string>;
}

/**
 * The header's byte count from a file's first 8 bytes, checked against the
 * file's size and `max` before anything else is read, so a hostile length
 * costs nothing.
 */
export function headerLength(prefix: Uint8Array, fileSize: number, max: number = MAX_HEADER): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsError(`${fileSize} bytes is too short for a safetensors file`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileSize - 8)) {
    throw new SafetensorsError(`header length ${n} does not fit in the ${fileSize}-byte file`);
  }
  if (n > BigInt(max)) throw new SafetensorsError(`header length ${n} is more than the ${max} bytes allowed`);
  return Number(n);
}

/**
 * Parses the JSON header (the bytes after the length) of a file whose tensor
 * data is `dataBytes` long, checking every dtype, shape and offset, and that
 * the tensors tile the data exactly; reads no tensor data.
 */
export function decodeHeader(json: Uint8Array, dataBytes: number): SafetensorsHeader {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (err) {
    throw new SafetensorsError(`the header is not JSON (${err instanceof Error ? err.message : err})`);
  }
  if (!isRecord(header)) throw new SafetensorsError("the header is not a JSON object");
  let metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!isRecord(value)) throw new SafetensorsError("__metadata__ is not a JSON object");
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== "string") throw new SafetensorsError(`__metadata__.${k} is not a string`);
      }
      // fromEntries defines own properties: a key such as "__proto__" stays a plain key.
      metadata = Object.fromEntries(Object.entries(value as Record<string, string>));
      continue;
    }
    if (!isRecord(value)) throw new SafetensorsError(`${name}: not a {dtype, shape, data_offsets} object`);
    const { dtype, shape, data_offsets: offsets } = value;
    if (typeof dtype !== "string" || !Object.hasOwn(DTYPES, dtype)) {
      throw new SafetensorsError(`${name}: dtype ${JSON.stringify(dtype)} is not one of ${Object.keys(DTYPES)}`);
    }
    const wholes = (v: unknown, len?: number): v is number[] =>
      Array.isArray(v) && (len === undefined || v.length === len) && v.every((x) => Number.isSafeInteger(x) && x >= 0);
    if (!wholes(shape)) throw new SafetensorsError(`${name}: shape ${JSON.stringify(shape)} is not a list of sizes`);
    if (!wholes(offsets, 2)) throw new SafetensorsError(`${name}: data_offsets ${JSON.stringify(offsets)}`);
    const [begin, end] = offsets;
    const expected = shape.reduce((a, b) => a * b, 1) * DTYPES[dtype as Dtype];
    if (end - begin !== expected) {
      throw new SafetensorsError(`${name}: ${end - begin} bytes for shape [${shape}] of ${dtype} (${expected} needed)`);
    }
    entries.push({ name, dtype: dtype as Dtype, shape, begin, end });
  }
  // As in the reference reader: the tensors tile the data exactly, no overlap, no hole, nothing after.
  const sorted = entries.toSorted((a, b) => a.begin - b.begin);
  let covered = 0;
  for (const e of sorted) {
    if (e.begin !== covered) throw new SafetensorsError(`tensor data has a hole or an overlap at byte ${covered}`);
    covered = e.end;
  }
  if (covered !== dataBytes) {
    throw new SafetensorsError(`the tensors cover ${covered} of the ${dataBytes} data bytes`);
  }
  return { entries, metadata };
}

/**
 * Reads a file made by {@link encodeSafetensors} (or by PyTorch), checking
 * every offset and shape; a header over `maxHeader` bytes is refused unread.
 */
export function decodeSafetensors(bytes: Uint8Array, maxHeader: number = MAX_HEADER): SafetensorsFile {
  const n = headerLength(bytes, bytes.length, maxHeader);
  const data = bytes.subarray(8 + n);
  const { entries, metadata } = decodeHeader(bytes.subarray(8, 8 + n), data.length);
  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    const copy = data.slice(e.begin, e.end); // aligned, and little-endian order checked below
    const values = e.dtype === "F32" ? new Float32Array(copy.buffer) : new BigInt64Array(copy.buffer);
    tensors.set(e.name, { name: e.name, shape: e.shape, data: fromLittleEndian(values) });
  }
  return { tensors, metadata };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function littleEndianBytes(data: SafeTensor["data"]): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return LITTLE_ENDIAN ? bytes : swapBytes(bytes.slice(), data.BYTES_PER_ELEMENT);
}

function fromLittleEndian<T extends SafeTensor["data"]>(data: T): T {
  if (!LITTLE_ENDIAN) swapBytes(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), data.BYTES_PER_ELEMENT);
  return data;
}

function swapBytes(bytes: Uint8Array, width: number): Uint8Array {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
  return bytes;
}
