/**
 * Encodes a uint8 array as a NumPy `.npy` file (format 1.0, dtype `|u1`, C order), for
 * `numpy.load`.
 *
 * @param data The values, row-major.
 * @param shape The array's shape; its product must equal data.length.
 * @returns The file's bytes.
 * @throws {RangeError} If the shape does not match the data.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeNpy } from "@ddpm/core";
 * const bytes = encodeNpy(new Uint8Array([1, 2, 3, 4]), [2, 2]);
 * assert.equal(bytes.length, 132); // a 128-byte header (magic, version, the dict, padding), then the 4 values
 * ```
 */
export function encodeNpy(data: Uint8Array, shape: number[]): Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(`Cannot encode npy: data must be a Uint8Array, got ${data}`);
  }
  // numpy.load accepts exactly these: a shape of non-negative integers
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new RangeError(
      `Cannot encode npy: shape must be integers >= 0, got ${JSON.stringify(shape)}`,
    );
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) {
    throw new RangeError(
      `Cannot encode npy: shape [${shape}] has ${n} values, data ${data.length}`,
    );
  }
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", "); // () for a scalar
  let header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${dims}), }`;
  // magic (6) + version (2) + header length (2) + header + "\n" ≡ 0 (mod 64)
  header += " ".repeat((64 - ((10 + header.length + 1) % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}
