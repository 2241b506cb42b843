/**
 * The ten classes of Fashion-MNIST (Xiao et al. 2017), indexed by label.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FASHION_MNIST_CLASSES } from "@ddpm/core";
 * assert.equal(FASHION_MNIST_CLASSES[7], "sneaker");
 * ```
 */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  "t-shirt",
  "trouser",
  "pullover",
  "dress",
  "coat",
  "sandal",
  "shirt",
  "sneaker",
  "bag",
  "ankle-boot",
];

/** An IDX array: its dimensions and unsigned bytes. */
export interface IdxArray {
  /** The dimensions, e.g. [60000, 28, 28] for images or [60000] for labels. */
  dims: number[];
  /** The values, row-major. */
  data: Uint8Array;
}

/**
 * Decodes an IDX file of unsigned bytes (LeCun's MNIST format: magic 0x0000 08 nd, nd big-endian
 * uint32 dimensions, then the values), gzipped or not. Validates before it allocates: the magic
 * number, the type (0x08, unsigned byte), and that the file holds exactly the values its
 * dimensions announce.
 *
 * @param bytes The file's bytes.
 * @param name The file's name, for error messages.
 * @returns The dimensions and values.
 * @throws {RangeError} If the file is not an unsigned-byte IDX file or is truncated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeIdx } from "@ddpm/core";
 * const file = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]); // three labels
 * const { dims, data } = await decodeIdx(file);
 * assert.deepEqual(dims, [3]);
 * assert.deepEqual(Array.from(data), [7, 2, 1]);
 * ```
 */
export async function decodeIdx(bytes: Uint8Array, name = "the IDX file"): Promise<IdxArray> {
  const what = `Cannot read ${name}`;
  let b = bytes;
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = await _gunzip(b);
    } catch (e) {
      throw new RangeError(
        `${what}: it looks gzipped but does not decompress (${(e as Error).message})`,
      );
    }
  }
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) {
    throw new RangeError(
      `${what}: not an IDX file (the magic number must start with two zero bytes, got ${
        Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, "0")).join(" ")
      })`,
    );
  }
  if (b[2] !== 0x08) {
    throw new RangeError(
      `${what}: only unsigned-byte IDX files (type 0x08) are supported, got type 0x${
        b[2].toString(16).padStart(2, "0")
      }`,
    );
  }
  const nd = b[3];
  if (nd < 1 || nd > 4) {
    throw new RangeError(`${what}: the number of dimensions must be 1 to 4, got ${nd}`);
  }
  if (b.length < 4 + 4 * nd) {
    throw new RangeError(`${what}: truncated header (${b.length} bytes for ${nd} dimensions)`);
  }
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dims = Array.from({ length: nd }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((x, y) => x * y, 1);
  const have = b.length - 4 - 4 * nd;
  if (have !== count) {
    throw new RangeError(
      `${what}: its dimensions [${dims}] need ${count} values, the file holds ${have}${
        have < count ? " (truncated)" : ""
      }`,
    );
  }
  return { dims, data: b.subarray(4 + 4 * nd) };
}

async function _gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
