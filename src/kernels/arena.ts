/**
 * Tensors as offsets into the one shared memory, handed out by a bump
 * allocator.
 *
 * Every allocation starts on a 16-byte boundary and is followed by at least 32
 * bytes of padding, so a kernel may load two whole f32x4 at the last element of
 * any tensor (its masked tails rely on that). Typed-array views are created
 * lazily and re-created when the memory has grown (growing detaches the old
 * `ArrayBuffer`); they are never copies.
 *
 * @example
 * ```ts
 * import { arena } from "./arena.ts";
 * const w = arena.f32([10, 1]);
 * w.data.fill(0.5);
 * ```
 * @module
 */
import { memory, PAGE_BYTES } from "env";

/** Element types a tensor can hold (u32 for index lists). */
export type DType = "f32" | "f64" | "u32";

const BYTES: Record<DType, number> = { f32: 4, f64: 8, u32: 4 };

const ALIGN = 16;
const PAD = 32;
/** Offsets below this are never handed out, so 0 can mean "no tensor" to a kernel. */
const BASE = 1024;

/** A typed, shaped region of the shared memory. */
export class Tensor {
  #view: Float32Array | Float64Array | Uint32Array | null = null;

  /** Creates a tensor over bytes `ptr ..` of the arena's memory; use {@link Arena.f32} instead. */
  constructor(
    /** The arena the tensor lives in. */
    readonly arena: Arena,
    /** Byte offset in the shared memory: the pointer a kernel receives. */
    readonly ptr: number,
    /** Row-major shape. */
    readonly shape: readonly number[],
    /** Element type. */
    readonly dtype: DType,
  ) {}

  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** A live view of the elements (re-created if the memory has grown). */
  get data(): Float32Array | Float64Array | Uint32Array {
    if (this.#view === null || this.#view.buffer !== memory.buffer) {
      const View = this.dtype === "f32" ? Float32Array : this.dtype === "f64" ? Float64Array : Uint32Array;
      this.#view = new View(memory.buffer as ArrayBuffer, this.ptr, this.size);
    }
    return this.#view;
  }

  /** The elements as f32 (throws for another type). */
  get f32(): Float32Array {
    if (this.dtype !== "f32") throw new TypeError(`tensor is ${this.dtype}, not f32`);
    return this.data as Float32Array;
  }

  /** The elements as f64 (throws for another type). */
  get f64(): Float64Array {
    if (this.dtype !== "f64") throw new TypeError(`tensor is ${this.dtype}, not f64`);
    return this.data as Float64Array;
  }

  /** The elements as u32 (throws for another type). */
  get u32(): Uint32Array {
    if (this.dtype !== "u32") throw new TypeError(`tensor is ${this.dtype}, not u32`);
    return this.data as Uint32Array;
  }

  /**
   * The same memory under another shape with no more elements, e.g. the first
   * `n` rows of a `[maxN, C]` activation buffer.
   */
  view(shape: readonly number[]): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size > this.size) throw new RangeError(`view [${shape}] is larger than tensor [${this.shape}]`);
    return new Tensor(this.arena, this.ptr, shape, this.dtype);
  }

  /**
   * A tensor over part of this one: `shape`'s elements starting `offset`
   * elements in (used to carve named parameters out of one flat buffer).
   */
  slice(offset: number, shape: readonly number[]): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(offset) || offset < 0 || offset + size > this.size) {
      throw new RangeError(`slice [${shape}] at ${offset} leaves tensor [${this.shape}]`);
    }
    return new Tensor(this.arena, this.ptr + offset * BYTES[this.dtype], shape, this.dtype);
  }

  /** Copies `values` into the tensor (its length must match). */
  set(values: ArrayLike<number>): this {
    if (values.length !== this.size) {
      throw new RangeError(`expected ${this.size} values for shape [${this.shape}], got ${values.length}`);
    }
    this.data.set(values);
    return this;
  }
}

let created = false;

/** A bump allocator over the shared memory. There is one: {@link arena}. */
export class Arena {
  #top = BASE;

  /** Use the module's {@link arena}; a second allocator would hand out the same bytes. */
  constructor() {
    if (created) throw new Error("the shared memory has one arena: import { arena } from src/arena.ts");
    created = true;
  }

  /** Allocates a zero-filled f32 tensor. */
  f32(shape: readonly number[]): Tensor {
    return this.alloc(shape, "f32");
  }

  /** Allocates a zero-filled f64 tensor. */
  f64(shape: readonly number[]): Tensor {
    return this.alloc(shape, "f64");
  }

  /** Allocates a zero-filled u32 tensor. */
  u32(shape: readonly number[]): Tensor {
    return this.alloc(shape, "u32");
  }

  /** Allocates a zero-filled tensor of `dtype`: {@link Arena.bytesFor} bytes of the arena. */
  alloc(shape: readonly number[], dtype: DType): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad tensor shape [${shape}]`);
    }
    const ptr = this.#top;
    const end = ptr + this.bytesFor(shape, dtype);
    this.#ensure(end);
    new Uint8Array(memory.buffer, ptr, end - ptr).fill(0);
    this.#top = end;
    return new Tensor(this, ptr, shape, dtype);
  }

  /**
   * The arena bytes one {@link Arena.alloc} of `shape` takes: the values, the
   * padding kernels may touch past a tensor's end, rounded up to the 16-byte
   * alignment every tensor starts on.
   */
  bytesFor(shape: readonly number[], dtype: DType): number {
    return Math.ceil((shape.reduce((a, b) => a * b, 1) * BYTES[dtype] + PAD) / ALIGN) * ALIGN;
  }

  /** The current top of the arena, for {@link Arena.release}. */
  mark(): number {
    return this.#top;
  }

  /** Frees everything allocated since `mark` (tensors from then on must not be used). */
  release(mark: number): void {
    if (mark < BASE || mark > this.#top) throw new RangeError(`bad arena mark ${mark}`);
    this.#top = mark;
  }

  /** Bytes in use. */
  get used(): number {
    return this.#top;
  }

  #ensure(end: number): void {
    const have = memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE_BYTES);
    try {
      memory.grow(pages);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      throw new RangeError(
        `out of memory: the WebAssembly memory cannot grow from ${have} to ${end} bytes (4 GiB at most)`,
      );
    }
  }
}

/** The allocator of the shared memory. */
export const arena: Arena = new Arena();
