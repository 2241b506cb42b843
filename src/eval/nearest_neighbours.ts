/**
 * Nearest neighbours in pixel space: to show that a model's samples are new images rather
 * than copies of its training set.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "../types.ts";

/**
 * For each query image, the indices of its k nearest images in a pool by Euclidean distance
 * over all pixels (‖q - p‖² = ‖q‖² + ‖p‖² - 2 q·p, in chunks of the pool), and those distances.
 *
 * @param queries [Q, ...] images.
 * @param pool [N, ...] images of the same per-image shape, as a float32 array row-major.
 * @param k How many neighbours (default 3, at most N).
 * @returns A promise of `{ index, distance }`, each [Q][k], nearest first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend, nearestNeighbours } from "@ddpm/core";
 * await initBackend("cpu");
 * const pool = new Float32Array([0, 0, 5, 5, 1, 1]); // three 2-pixel images
 * const { index } = await nearestNeighbours(tf.tensor2d([[4, 4]]), pool, 2);
 * assert.deepEqual(index, [[1, 2]]);
 * ```
 */
export async function nearestNeighbours(
  queries: Tensor,
  pool: Float32Array,
  k = 3,
): Promise<{ index: number[][]; distance: number[][] }> {
  const Q = queries.shape[0], D = queries.size / Q;
  if (pool.length % D !== 0 || pool.length === 0) {
    throw new RangeError(
      `Cannot find neighbours: the pool's ${pool.length} values are not images of ${D} values`,
    );
  }
  const N = pool.length / D;
  if (!Number.isInteger(k) || k < 1 || k > N) {
    throw new RangeError(`Cannot find neighbours: k must be an integer in [1, ${N}], got ${k}`);
  }
  const d2 = new Float32Array(Q * N); // [Q, N]
  const chunk = 2048;
  for (let j = 0; j < N; j += chunk) {
    const n = Math.min(chunk, N - j);
    const part = tf.tidy(() => {
      const q = tf.reshape(queries, [Q, D]); // [Q, D]
      const p = tf.tensor2d(pool.subarray(j * D, (j + n) * D), [n, D]); // [n, D]
      const qq = tf.sum(tf.square(q), 1, true); // [Q, 1]
      const pp = tf.reshape(tf.sum(tf.square(p), 1), [1, n]); // [1, n]
      return tf.sub(tf.add(qq, pp), tf.mul(2, tf.matMul(q, p, false, true))); // [Q, n]
    });
    const v = await part.data();
    part.dispose();
    for (let i = 0; i < Q; i++) d2.set(v.subarray(i * n, (i + 1) * n), i * N + j);
  }
  const index: number[][] = [], distance: number[][] = [];
  for (let i = 0; i < Q; i++) {
    const row = d2.subarray(i * N, (i + 1) * N);
    const order = Array.from({ length: N }, (_, a) => a).sort((a, b) => row[a] - row[b]);
    index.push(order.slice(0, k));
    distance.push(order.slice(0, k).map((a) => Math.sqrt(Math.max(row[a], 0))));
  }
  return { index, distance };
}
