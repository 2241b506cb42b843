/**
 * Top-1 accuracy of a digit classifier on labelled images.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../data/dataset.ts";
import type { MnistClassifier } from "./classifier.ts";

/**
 * The fraction of `data`'s images whose most likely class is their label.
 *
 * @param classifier The classifier.
 * @param data Labelled images [N, 28, 28, 1].
 * @param batch Images per forward pass (default 256).
 * @returns A promise of the accuracy in [0, 1].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classifierAccuracy, createMnistClassifier, initBackend } from "@ddpm/core";
 * import { loadMnist } from "@ddpm/core/fs";
 * await initBackend("cpu");
 * const net = createMnistClassifier();
 * const acc = await classifierAccuracy(net, loadMnist({ split: "test", limit: 20 }));
 * assert.ok(acc >= 0 && acc <= 1);
 * net.dispose();
 * ```
 */
export async function classifierAccuracy(
  classifier: MnistClassifier,
  data: Dataset,
  batch = 256,
): Promise<number> {
  if (!data.labels) throw new RangeError("Cannot measure accuracy: the data has no labels");
  const [N, H, W, C] = data.shape, px = H * W * C;
  let right = 0;
  for (let i = 0; i < N; i += batch) {
    const n = Math.min(batch, N - i);
    const pred = tf.tidy(() =>
      tf.argMax(
        classifier(tf.tensor4d(data.images.subarray(i * px, (i + n) * px), [n, H, W, C])),
        1,
      )
    );
    const p = await pred.data();
    pred.dispose();
    for (let k = 0; k < n; k++) if (p[k] === data.labels[i + k]) right++;
  }
  return right / N;
}
