// Internal: which examples form each batch, and which are flipped — functions of (seed, step)
// alone, so that a resumed run draws exactly the batches of an uninterrupted one.
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "./data/dataset.ts";
import { _uniformGenerator } from "./_random.ts";
import { NULL_CLASS } from "./guidance.ts";
import { _classDrop, _epoch, _flips as _flipStream } from "./_streams.ts";

/** A permutation of [0, n) for one epoch: Fisher–Yates with the epoch's stream. */
function _permutation(n: number, seed: number, epoch: number): Int32Array {
  const u = _uniformGenerator(seed, _epoch(epoch));
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/**
 * The example indices of batch `step` (0-based): the dataset is walked in a fresh random order
 * each epoch, batches taking consecutive slots of that walk.
 */
export function _batchIndices(n: number, batch: number, seed: number, step: number): Int32Array {
  const out = new Int32Array(batch);
  let cache: [number, Int32Array] | undefined;
  for (let i = 0; i < batch; i++) {
    const slot = step * batch + i;
    const epoch = Math.floor(slot / n);
    if (!cache || cache[0] !== epoch) cache = [epoch, _permutation(n, seed, epoch)];
    out[i] = cache[1][slot % n];
  }
  return out;
}

/** Whether each example of batch `step` is flipped left–right (probability 1/2 each). */
export function _flips(batch: number, seed: number, step: number): boolean[] {
  const u = _uniformGenerator(seed, _flipStream(step));
  return Array.from({ length: batch }, () => u() < 0.5);
}

/**
 * The class labels of batch `step`: labels[idx[i]], each replaced by NULL_CLASS (−1) with
 * probability `dropout` (classifier-free guidance's unconditional share), drawn from (seed, step).
 */
export function _batchLabels(
  labels: Int32Array,
  idx: ArrayLike<number>,
  dropout: number,
  seed: number,
  step: number,
): Int32Array {
  const u = _uniformGenerator(seed, _classDrop(step));
  return Int32Array.from({ length: idx.length }, (_, i) => {
    const dropped = u() < dropout; // one draw per row, dropped or not
    return dropped ? NULL_CLASS : labels[idx[i]];
  });
}

/** A per-step seed for the loss's t and ε and for dropout. */
export function _stepSeed(seed: number, step: number): number {
  return Math.floor(_uniformGenerator(seed, step)() * 2 ** 31);
}

/**
 * Gathers images `idx` [B, H, W, C] from the dataset, flipping the marked ones left–right (the
 * trainer's batches, the classifier's, and eval's held-out subsets).
 */
export function _batch(
  data: Dataset,
  idx: ArrayLike<number>,
  flips?: boolean[],
): tf.Tensor4D {
  const [, H, W, C] = data.shape;
  const size = H * W * C;
  const out = new Float32Array(idx.length * size);
  for (let b = 0; b < idx.length; b++) {
    const src = data.images.subarray(idx[b] * size, (idx[b] + 1) * size);
    if (!flips?.[b]) {
      out.set(src, b * size);
      continue;
    }
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < C; c++) {
          out[b * size + (y * W + x) * C + c] = src[(y * W + (W - 1 - x)) * C + c];
        }
      }
    }
  }
  return tf.tensor4d(out, [idx.length, H, W, C]);
}
