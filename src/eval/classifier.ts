/**
 * A small CNN digit classifier for 28×28×1 images in [-1, 1]: the feature extractor behind
 * FID-MNIST ({@linkcode sampleQuality}). Its penultimate layer (64 features) plays the role
 * Inception's pool layer plays for FID on natural images.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { _conv3x3 } from "../_nn/conv2d.ts";
import { _dense } from "../_nn/layers.ts";
import { _initValues } from "../_nn/init.ts";
import type { Tensor, Variable } from "../types.ts";

/** A digit classifier: `classifier(x)` gives logits [B, 10]. */
export interface MnistClassifier {
  /** Logits [B, 10] of images x [B, 28, 28, 1] in [-1, 1]. */
  (x: Tensor): Tensor;
  /** The penultimate layer's 64 features [B, 64] (after ReLU): FID-MNIST's features. */
  features(x: Tensor): Tensor;
  /** The last layer: logits [B, 10] from features [B, 64]. */
  head(features: Tensor): Tensor;
  /** The trainable parameters by name. */
  readonly params: ReadonlyMap<string, Variable>;
  /** Frees the parameters. */
  dispose(): void;
}

/** Number of features of the penultimate layer. */
export const CLASSIFIER_FEATURES = 64;

/**
 * Creates the classifier with fresh weights (fan-average uniform, zero biases):
 * conv 3×3 1→32, ReLU [28×28]; conv 3×3 stride 2 32→64, ReLU [14×14]; conv 3×3 stride 2
 * 64→64, ReLU [7×7]; dense 3136→128, ReLU; dense 128→64, ReLU (the features); dense 64→10.
 * 466,186 parameters. Train it with {@linkcode trainClassifier}, or load the shipped weights
 * with {@linkcode loadMnistClassifier}.
 *
 * @param options `{ seed }` of the initial weights (default 0).
 * @returns The classifier.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { createMnistClassifier, initBackend } from "@ddpm/core";
 * await initBackend("cpu");
 * const net = createMnistClassifier({ seed: 1 });
 * assert.deepEqual(net(tf.zeros([2, 28, 28, 1])).shape, [2, 10]);
 * net.dispose();
 * ```
 */
export function createMnistClassifier(options: { seed?: number } = {}): MnistClassifier {
  const seed = options.seed ?? 0;
  const params = new Map<string, Variable>();
  let stream = 0;
  const add = (name: string, shape: number[], zero: boolean) => {
    const t = tf.tensor(_initValues(shape, zero ? "zero" : "fanAvg", seed, stream++), shape);
    params.set(name, tf.variable(t, true));
    t.dispose();
  };
  for (const [name, ci, co] of [["conv1", 1, 32], ["conv2", 32, 64], ["conv3", 64, 64]] as const) {
    add(`${name}.w`, [3, 3, ci, co], false);
    add(`${name}.b`, [co], true);
  }
  for (const [name, ci, co] of [["fc1", 7 * 7 * 64, 128], ["fc2", 128, 64], ["fc3", 64, 10]]) {
    add(`${name}.w`, [ci as number, co as number], false);
    add(`${name}.b`, [co as number], true);
  }
  const p = (name: string) => params.get(name)!;
  const features = (x: Tensor) =>
    tf.tidy(() => {
      if (x.rank !== 4 || x.shape[1] !== 28 || x.shape[2] !== 28 || x.shape[3] !== 1) {
        throw new RangeError(
          `Cannot classify: images must be [B, 28, 28, 1], got [${x.shape.join(", ")}]`,
        );
      }
      let h = tf.relu(_conv3x3(x, p("conv1.w"), p("conv1.b"))); // [B, 28, 28, 32]
      h = tf.relu(_conv3x3(h, p("conv2.w"), p("conv2.b"), 2)); // [B, 14, 14, 64]
      h = tf.relu(_conv3x3(h, p("conv3.w"), p("conv3.b"), 2)); // [B, 7, 7, 64]
      h = tf.reshape(h, [h.shape[0], 7 * 7 * 64]); // [B, 3136]
      h = tf.relu(_dense(h, p("fc1.w"), p("fc1.b"))); // [B, 128]
      return tf.relu(_dense(h, p("fc2.w"), p("fc2.b"))); // [B, 64]
    });
  const head = (h: Tensor) => _dense(h, p("fc3.w"), p("fc3.b")); // [B, 10]
  const net = ((x: Tensor) => tf.tidy(() => head(features(x)))) as MnistClassifier;
  Object.defineProperties(net, {
    features: { value: features },
    head: { value: head },
    params: { value: params },
    dispose: { value: () => params.forEach((v) => v.dispose()) },
  });
  return net;
}
