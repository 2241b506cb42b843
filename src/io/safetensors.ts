/** A tensor as stored in a safetensors file: float32 or uint8 data with its shape. */
export interface StoredTensor {
  /** The element type: "F32" (float32) or "U8" (uint8). */
  dtype: "F32" | "U8";
  /** The shape; the product of its entries is the data length. */
  shape: number[];
  /** The values, row-major. */
  data: Float32Array | Uint8Array;
}

/** The contents of a safetensors file: named tensors and string metadata. */
export interface Safetensors {
  /** The tensors by name, in file order. */
  tensors: Map<string, StoredTensor>;
  /** The `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
}

const _BYTES = { F32: 4, U8: 1 } as const;

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
 * import { decodeSafetensors, encodeSafetensors } from "@ddpm/core";
 * const bytes = encodeSafetensors(
 *   new Map([["w", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]]),
 *   { note: "hi" },
 * );
 * console.log(decodeSafetensors(bytes).tensors.get("w")?.data); // Float32Array [1, 2]
 * ```
 */
export function encodeSafetensors(
  tensors: Map<string, StoredTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = Object.create(null); // names such as "__proto__" stay data
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    if (!(t.dtype in _BYTES)) {
      throw new RangeError(
        `Cannot encode safetensors: ${name} has dtype ${t.dtype}; use F32 or U8`,
      );
    }
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new RangeError(
        `Cannot encode safetensors: ${name} has shape [${t.shape}] (${n} values) but ${t.data.length} values`,
      );
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
 * Decodes a safetensors file (F32 and U8 tensors) and checks its structure.
 *
 * @param bytes The file's bytes.
 * @returns The tensors (copies, aligned) and the metadata.
 * @throws {Error} If the bytes are not a well-formed safetensors file (the message says how).
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "@ddpm/core";
 * const t = { dtype: "U8" as const, shape: [3], data: new Uint8Array([1, 2, 3]) };
 * const back = decodeSafetensors(encodeSafetensors(new Map([["x", t]])));
 * console.log(back.tensors.get("x")?.shape); // [3]
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  const bad = (why: string) => new Error(`Cannot read safetensors: ${why}`);
  if (bytes.length < 8) throw bad(`file is ${bytes.length} bytes, shorter than its 8-byte header`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > bytes.length - 8) {
    throw bad(`header length ${n} exceeds the file (${bytes.length} bytes)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  const data = bytes.subarray(8 + n);
  const tensors = new Map<string, StoredTensor>();
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  let expected = 0;
  const entries = Object.entries(header).filter(([k]) => k !== "__metadata__") as [
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] },
  ][];
  entries.sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  for (const [name, info] of entries) {
    const { dtype, shape, data_offsets: [begin, end] } = info;
    if (dtype !== "F32" && dtype !== "U8") throw bad(`${name} has unsupported dtype ${dtype}`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (begin !== expected || end - begin !== count * _BYTES[dtype] || end > data.length) {
      throw bad(`${name} has offsets [${begin}, ${end}] that do not fit shape [${shape}]`);
    }
    expected = end;
    const slice = data.slice(begin, end); // a copy: aligned for Float32Array
    tensors.set(name, {
      dtype,
      shape,
      data: dtype === "F32" ? new Float32Array(slice.buffer) : slice,
    });
  }
  if (expected !== data.length) throw bad(`${data.length - expected} bytes after the last tensor`);
  return { tensors, metadata };
}
