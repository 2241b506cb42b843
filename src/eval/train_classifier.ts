/**
 * Trains the FID-MNIST digit classifier ({@linkcode createMnistClassifier}) on labelled
 * 28×28×1 images: Adam, softmax cross-entropy, random shifts of up to ±2 pixels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../data/dataset.ts";
import { _adamInit, _adamStep } from "../_nn/adam.ts";
import { _batch, _batchIndices } from "../_batches.ts";
import { _uniformGenerator } from "../_random.ts";
import { createMnistClassifier, type MnistClassifier } from "./classifier.ts";
import { classifierAccuracy } from "./classifier_accuracy.ts";
import { _classifierShift } from "../_streams.ts";

/** Options of {@linkcode trainClassifier}. */
export interface TrainClassifierOptions {
  /** Labelled training images [N, 28, 28, 1] (MNIST's train split). */
  data: Dataset;
  /** Labelled held-out images to report accuracy on (MNIST's test split). */
  test?: Dataset;
  /** Optimizer steps (default 800: ≈ 5.7 epochs of 9,001 digits at batch 64). */
  steps?: number;
  /** Batch size (default 64). */
  batch?: number;
  /** Adam learning rate (default 1e-3, halved at 50% and 75% of the steps). */
  lr?: number;
  /** Seed of the initial weights, the batches and the shifts (default 0). */
  seed?: number;
  /** Called after each step with (step, loss). */
  onStep?: (step: number, loss: number) => void;
}

/** What {@linkcode trainClassifier} returns. */
export interface TrainClassifierResult {
  /** The trained classifier. */
  classifier: MnistClassifier;
  /** Accuracy on `test`, when given. */
  testAccuracy?: number;
  /** Cross-entropy loss of each step. */
  losses: number[];
}

/**
 * Trains a fresh classifier.
 *
 * @param options `{ data, test?, steps?, batch?, lr?, seed?, onStep? }`.
 * @returns A promise of `{ classifier, testAccuracy?, losses }`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend, trainClassifier } from "@ddpm/core";
 * import { loadMnist } from "@ddpm/core/fs";
 * await initBackend("cpu");
 * const { classifier, losses } = await trainClassifier({
 *   data: loadMnist({ limit: 64 }),
 *   steps: 2,
 *   batch: 8,
 * });
 * assert.equal(losses.length, 2);
 * classifier.dispose();
 * ```
 */
export async function trainClassifier(
  options: TrainClassifierOptions,
): Promise<TrainClassifierResult> {
  const { data, test } = options;
  const steps = options.steps ?? 800, batch = options.batch ?? 64;
  const lr = options.lr ?? 1e-3, seed = options.seed ?? 0;
  for (const [name, v] of [["steps", steps], ["batch", batch], ["seed", seed]] as const) {
    if (!Number.isInteger(v) || v < (name === "seed" ? 0 : 1)) {
      throw new RangeError(`Cannot train the classifier: ${name} must be an integer, got ${v}`);
    }
  }
  if (!(lr > 0)) throw new RangeError(`Cannot train the classifier: lr must be > 0, got ${lr}`);
  _checkLabelled(data, "data");
  if (test) _checkLabelled(test, "test");
  const [N] = data.shape;
  const net = createMnistClassifier({ seed });
  const adam = _adamInit(net.params);
  const vars = [...net.params.values()];
  const names = [...net.params.keys()];
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const idx = _batchIndices(N, batch, seed, step);
    const x = _batch(data, idx); // [B, 28, 28, 1]
    const yb = Int32Array.from(idx, (j) => data.labels![j]);
    // one shift (dy, dx) ∈ [-2, 2]² for the whole batch
    const u = _uniformGenerator(seed, _classifierShift(step));
    const [dy, dx] = [Math.floor(u() * 5) - 2, Math.floor(u() * 5) - 2];
    const { value, grads } = tf.variableGrads(() =>
      tf.tidy(() => {
        const padded = tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], -1); // [B, 32, 32, 1]
        const shifted = tf.slice(padded, [0, 2 + dy, 2 + dx, 0], [batch, 28, 28, 1]);
        const labels = tf.oneHot(tf.tensor1d(yb, "int32"), 10);
        return tf.losses.softmaxCrossEntropy(labels, net(shifted)) as tf.Scalar;
      }), vars);
    const g = new Map(names.map((name, i) => [name, grads[vars[i].name]]));
    const rate = step < steps / 2 ? lr : step < (3 * steps) / 4 ? lr / 2 : lr / 4;
    _adamStep(net.params, g, adam, step + 1, rate);
    const loss = (await value.data())[0];
    tf.dispose([x, value, ...Object.values(grads)]);
    if (!Number.isFinite(loss)) {
      net.dispose();
      throw new Error(`Cannot train the classifier: the loss became ${loss} at step ${step + 1}`);
    }
    losses.push(loss);
    options.onStep?.(step + 1, loss);
  }
  for (const v of [...adam.m.values(), ...adam.v.values()]) v.dispose();
  const testAccuracy = test ? await classifierAccuracy(net, test) : undefined;
  return { classifier: net, testAccuracy, losses };
}

function _checkLabelled(d: Dataset, what: string): void {
  const [, H, W, C] = d?.shape ?? [];
  if (H !== 28 || W !== 28 || C !== 1) {
    throw new RangeError(
      `Cannot train the classifier: ${what} must be 28×28×1 images, got ${d?.shape?.join("×")}`,
    );
  }
  if (!d.labels) throw new RangeError(`Cannot train the classifier: ${what} has no labels`);
}
