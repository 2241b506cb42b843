import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Dataset } from "./dataset.ts";
import { decodeIdx } from "./decode_idx.ts";
export { FASHION_MNIST_CLASSES } from "./decode_idx.ts";

/** Options of {@linkcode loadIdx}. */
export interface LoadIdxOptions {
  /** Which pair of files: `train-*` (default) or `t10k-*` (the test split). */
  split?: "train" | "test";
  /** The class names, indexed by label (default "0", "1", …). */
  classNames?: string[];
  /** Keep at most this many images (the first ones). */
  limit?: number;
}

/**
 * Loads the standard IDX files of MNIST or Fashion-MNIST from a folder:
 * `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` (or `t10k-*` for the test split),
 * each gzipped (`.gz`) or not. Pixels are scaled from [0, 255] to [-1, 1]. Debian's
 * `dataset-fashion-mnist` installs Fashion-MNIST in /usr/share/datasets/fashion-mnist.
 *
 * @param dir The folder.
 * @param options `{ split, classNames, limit }`.
 * @returns The images [N, H, W, 1] with their labels and class names.
 * @throws {Error} If a file is missing, not IDX, truncated, or the two files disagree (each
 *   message names the file).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadIdx } from "@ddpm/core/fs";
 * const dir = await Deno.makeTempDir();
 * // two 2×2 images and their labels
 * await Deno.writeFile(`${dir}/train-images-idx3-ubyte`,
 *   new Uint8Array([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 255, 255, 0, 0, 0, 0, 0]));
 * await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 1, 0]));
 * const ds = await loadIdx(dir);
 * assert.deepEqual(ds.shape, [2, 2, 2, 1]);
 * assert.deepEqual(Array.from(ds.labels!), [1, 0]);
 * assert.equal(ds.images[1], 1); // 255 → 1
 * ```
 */
export async function loadIdx(dir: string, options: LoadIdxOptions = {}): Promise<Dataset> {
  const split = options.split ?? "train";
  if (split !== "train" && split !== "test") {
    throw new RangeError(`Cannot load IDX files: split must be "train" or "test", got ${split}`);
  }
  const limit = options.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new RangeError(`Cannot load IDX files: limit must be a positive integer, got ${limit}`);
  }
  const prefix = split === "train" ? "train" : "t10k";
  const imagesPath = _find(dir, `${prefix}-images-idx3-ubyte`);
  const labelsPath = _find(dir, `${prefix}-labels-idx1-ubyte`);
  const images = await decodeIdx(await _read(imagesPath), imagesPath);
  const labels = await decodeIdx(await _read(labelsPath), labelsPath);
  if (images.dims.length !== 3) {
    throw new RangeError(
      `Cannot read ${imagesPath}: images must have 3 dimensions [N, H, W], got [${images.dims}]`,
    );
  }
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0]) {
    throw new RangeError(
      `Cannot read ${labelsPath}: it must hold one label per image (${
        images.dims[0]
      }), got dimensions [${labels.dims}]`,
    );
  }
  const maxLabel = labels.data.reduce((m, v) => Math.max(m, v), 0);
  const classNames = options.classNames ??
    Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
  if (maxLabel >= classNames.length) {
    throw new RangeError(
      `Cannot read ${labelsPath}: label ${maxLabel} has no class name (${classNames.length} given)`,
    );
  }
  const [n0, H, W] = images.dims;
  const n = Math.min(n0, limit ?? n0);
  const out = new Float32Array(n * H * W);
  for (let i = 0; i < out.length; i++) out[i] = images.data[i] / 127.5 - 1;
  return {
    images: out,
    shape: [n, H, W, 1],
    labels: Int32Array.from(labels.data.subarray(0, n)),
    classNames: [...classNames],
    source: `${dir} (${split})`,
  };
}

/** The path of `name` or `name.gz` in dir. */
function _find(dir: string, name: string): string {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`Cannot load IDX files from ${dir}: neither ${name} nor ${name}.gz is there`);
}

async function _read(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`Cannot read ${path}: ${(e as Error).message}`);
  }
}
