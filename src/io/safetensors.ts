import { _isObject } from "../_json.ts";
import { _fromBfloat16Bits, _fromFloat16Bits } from "./_float16.ts";

/**
 * A tensor as stored in a safetensors file: float32, half-precision or uint8 data with its shape.
 * Half-precision tensors keep their raw 16-bit patterns (IEEE binary16 for "F16", bfloat16 for
 * "BF16") in a Uint16Array; {@linkcode storedToFloat32} gives their values.
 */
export interface StoredTensor {
  /** The element type: "F32" (float32), "F16" (binary16), "BF16" (bfloat16) or "U8" (uint8). */
  dtype: "F32" | "F16" | "BF16" | "U8";
  /** The shape; the product of its entries is the data length. */
  shape: number[];
  /** The values, row-major (the bit patterns for F16 and BF16). */
  data: Float32Array | Uint16Array | Uint8Array;
}

/** The contents of a safetensors file: named tensors and string metadata. */
export interface Safetensors {
  /** The tensors by name, in file order. */
  tensors: Map<string, StoredTensor>;
  /** The `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
}

const _BYTES = { F32: 4, F16: 2, BF16: 2, U8: 1 } as const;
const _ARRAYS = { F32: Float32Array, F16: Uint16Array, BF16: Uint16Array, U8: Uint8Array } as const;
type _Dtype = keyof typeof _BYTES;

/**
 * Encodes tensors in the safetensors format (Hugging Face): an 8-byte little-endian header
 * length, a JSON header `{name: {dtype, shape, data_offsets}, __metadata__}` padded with spaces
 * to 8 bytes, then the little-endian data, contiguous in header order. Readable by the Python
 * `safetensors` package (`safetensors.numpy.load_file`).
 *
 * @param tensors The tensors by name.
 * @param metadata String metadata (stored as `__metadata__`).
 * @returns The file's bytes.
 * @throws {RangeError} If a shape does not match its data or a dtype is unsupported.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors } from "@ddpm/core";
 * const bytes = encodeSafetensors(
 *   new Map([["w", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]]),
 *   { note: "hi" },
 * );
 * assert.deepEqual(Array.from(decodeSafetensors(bytes).tensors.get("w")!.data), [1, 2]);
 * ```
 */
export function encodeSafetensors(
  tensors: Map<string, StoredTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const bad = (why: string) => new RangeError(`Cannot encode safetensors: ${why}`);
  if (!(tensors instanceof Map)) throw bad(`tensors must be a Map, got ${typeof tensors}`);
  if (!_isObject(metadata) || !Object.values(metadata).every((v) => typeof v === "string")) {
    throw bad("metadata must map names to strings");
  }
  const header: Record<string, unknown> = Object.create(null); // names such as "__proto__" stay data
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    // every file this writes, decodeSafetensors (and the Python reader) accepts
    if (typeof name !== "string" || name === "" || name === "__metadata__") {
      throw bad(
        `a tensor name must be a non-empty string other than __metadata__, got ${
          JSON.stringify(name)
        }`,
      );
    }
    if (!Object.hasOwn(_BYTES, t?.dtype)) {
      throw bad(`${name} has dtype ${t?.dtype}; use F32, F16, BF16 or U8`);
    }
    const want = _ARRAYS[t.dtype];
    if (!(t.data instanceof want)) {
      throw bad(`${name} is ${t.dtype} but its data is not a ${want.name}`);
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`${name} has shape ${JSON.stringify(t.shape)}; dimensions must be integers >= 0`);
    }
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw bad(`${name} has shape [${t.shape}] (${n} values) but ${t.data.length} values`);
    }
    const bytes = n * _BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let pos = 8 + head.length;
  for (const t of tensors.values()) {
    const view = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(view, pos); // little-endian hosts (every JS engine in practice)
    pos += view.length;
  }
  return out;
}

/**
 * Decodes a safetensors file (F32, F16, BF16 and U8 tensors) and checks its structure.
 *
 * @param bytes The file's bytes.
 * @returns The tensors (copies, aligned) and the metadata.
 * @throws {Error} If the bytes are not a well-formed safetensors file (the message says how).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors } from "@ddpm/core";
 * const t = { dtype: "U8" as const, shape: [3], data: new Uint8Array([1, 2, 3]) };
 * const back = decodeSafetensors(encodeSafetensors(new Map([["x", t]])));
 * assert.deepEqual(back.tensors.get("x")?.shape, [3]);
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  const bad = (why: string) => new Error(`Cannot read safetensors: ${why}`);
  if (!(bytes instanceof Uint8Array)) throw bad(`bytes must be a Uint8Array, got ${typeof bytes}`);
  if (bytes.length < 8) throw bad(`file is ${bytes.length} bytes, shorter than its 8-byte header`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(Math.min(_MAX_HEADER, bytes.length - 8))) {
    throw bad(
      `header length ${n64} exceeds ${
        n64 > BigInt(_MAX_HEADER)
          ? `the format's limit (${_MAX_HEADER} bytes)`
          : `the file (${bytes.length} bytes)`
      }`,
    );
  }
  const n = Number(n64);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  if (!_isObject(header)) throw bad(`header must be a JSON object, got ${JSON.stringify(header)}`);
  const data = bytes.subarray(8 + n);
  const metadata = header.__metadata__ ?? {};
  if (!_isObject(metadata) || !Object.values(metadata).every((v) => typeof v === "string")) {
    throw bad("__metadata__ must map names to strings");
  }
  // validate every entry before allocating any tensor
  const entries: [string, _Dtype, number[], number, number][] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (name === "") throw bad("a tensor has an empty name");
    if (!_isObject(info)) throw bad(`${name} must be { dtype, shape, data_offsets }`);
    const { dtype, shape, data_offsets: off } = info;
    if (typeof dtype !== "string" || !Object.hasOwn(_BYTES, dtype)) {
      throw bad(
        `${name} has unsupported dtype ${
          JSON.stringify(dtype)
        } (this reader handles F32, F16, BF16 and U8)`,
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`${name} has shape ${JSON.stringify(shape)}; dimensions must be integers >= 0`);
    }
    if (
      !Array.isArray(off) || off.length !== 2 ||
      !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]
    ) {
      throw bad(
        `${name} has data_offsets ${
          JSON.stringify(off)
        }; they must be [begin, end], 0 <= begin <= end`,
      );
    }
    const count = shape.reduce((a: number, b: number) => a * b, 1);
    const size = _BYTES[dtype as _Dtype];
    if (!Number.isSafeInteger(count * size) || off[1] - off[0] !== count * size) {
      throw bad(`${name} has offsets [${off}] that do not fit shape [${shape}] (${dtype})`);
    }
    entries.push([name, dtype as _Dtype, shape, off[0], off[1]]);
  }
  entries.sort((a, b) => a[3] - b[3]);
  let expected = 0;
  for (const [name, , , begin, end] of entries) {
    if (begin !== expected) {
      throw bad(
        `${name} starts at byte ${begin} of the data, expected ${expected} (gaps or overlaps)`,
      );
    }
    if (end > data.length) {
      throw bad(
        `${name} ends at byte ${end}, past the data (${data.length} bytes): the file is truncated`,
      );
    }
    expected = end;
  }
  if (expected !== data.length) throw bad(`${data.length - expected} bytes after the last tensor`);
  const tensors = new Map<string, StoredTensor>();
  for (const [name, dtype, shape, begin, end] of entries) {
    // a copy, aligned for its typed array (not data.slice: a Node Buffer's slice is a view)
    const slice = new Uint8Array(data.subarray(begin, end));
    tensors.set(name, { dtype, shape, data: new _ARRAYS[dtype](slice.buffer) });
  }
  return { tensors, metadata: metadata as Record<string, string> };
}

/** The safetensors format's bound on the header (the Rust reader's MAX_HEADER_SIZE). */
const _MAX_HEADER = 100_000_000;

/**
 * The values of a stored floating-point tensor as float32: F32 data as it is, F16 and BF16 bit
 * patterns converted (exactly: every half-precision value is a float32).
 *
 * @param t A stored tensor of dtype F32, F16 or BF16.
 * @returns Its values.
 * @throws {RangeError} If the tensor is not floating-point (U8).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { storedToFloat32 } from "@ddpm/core";
 * // binary16 0x3c00 is 1, 0xc000 is -2; bfloat16 0x3f80 is 1
 * const half = { dtype: "F16" as const, shape: [2], data: new Uint16Array([0x3c00, 0xc000]) };
 * assert.deepEqual(storedToFloat32(half), new Float32Array([1, -2]));
 * const bf = { dtype: "BF16" as const, shape: [1], data: new Uint16Array([0x3f80]) };
 * assert.deepEqual(storedToFloat32(bf), new Float32Array([1]));
 * ```
 */
export function storedToFloat32(t: StoredTensor): Float32Array {
  switch (t.dtype) {
    case "F32":
      return t.data as Float32Array;
    case "F16":
      return _fromFloat16Bits(t.data as Uint16Array);
    case "BF16":
      return _fromBfloat16Bits(t.data as Uint16Array);
    default:
      throw new RangeError(
        `Cannot read a tensor as float32: its dtype must be F32, F16 or BF16, got ${t.dtype}`,
      );
  }
}
