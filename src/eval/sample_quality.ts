/**
 * Sample quality for MNIST-like images through a digit classifier: FID-MNIST (the Fréchet
 * distance of the classifier's penultimate features), the mean top-class confidence and the
 * entropy of the predicted-class histogram.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "../types.ts";
import { CLASSIFIER_FEATURES, type MnistClassifier } from "./classifier.ts";
import { type FeatureStats, featureStats, frechetDistance } from "./frechet_distance.ts";

/** Features and class probabilities of a set of images. */
export interface ClassifierOutputs {
  /** Penultimate features, [N, 64] row-major. */
  features: Float32Array;
  /** Softmax class probabilities, [N, 10] row-major. */
  probs: Float32Array;
}

/** The sample-quality figures of {@linkcode sampleQuality}. */
export interface SampleQuality {
  /** Number of images scored. */
  n: number;
  /** FID-MNIST: squared Fréchet distance of the features to the reference set's. */
  fid: number;
  /** Mean over images of the largest class probability, in [0.1, 1]. */
  meanConfidence: number;
  /** Fraction of images whose largest class probability exceeds 0.9. */
  confidentFraction: number;
  /** Entropy (nats) of the histogram of predicted classes; ln 10 ≈ 2.303 is balanced. */
  classEntropy: number;
  /** How many images were predicted as each digit 0–9. */
  classCounts: number[];
  /**
   * With `classes`: the share of images the classifier assigns to the class asked for (the
   * conditional accuracy), and that share per class (NaN for a class never asked for).
   */
  conditional?: { accuracy: number; perClass: number[] };
}

/** Options of {@linkcode sampleQuality}. */
export interface SampleQualityOptions {
  /** The class each image was drawn for (a conditional model's labels, 0–9). */
  classes?: ArrayLike<number>;
}

/**
 * Runs the classifier over images in batches and returns its features and probabilities.
 *
 * @param classifier The digit classifier.
 * @param images [N, 28, 28, 1] in [-1, 1].
 * @param batch Images per forward pass (default 256).
 * @returns A promise of `{ features, probs }` on the host.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { classifierOutputs, initBackend, loadMnistClassifier } from "@ddpm/core";
 * await initBackend("cpu");
 * const { classifier } = await loadMnistClassifier();
 * const { features, probs } = await classifierOutputs(classifier, tf.zeros([3, 28, 28, 1]));
 * assert.deepEqual([features.length, probs.length], [192, 30]);
 * classifier.dispose();
 * ```
 */
export async function classifierOutputs(
  classifier: MnistClassifier,
  images: Tensor,
  batch = 256,
): Promise<ClassifierOutputs> {
  const N = images.shape[0];
  const features = new Float32Array(N * CLASSIFIER_FEATURES), probs = new Float32Array(N * 10);
  for (let i = 0; i < N; i += batch) {
    const n = Math.min(batch, N - i);
    const [f, p] = tf.tidy(() => {
      const x = tf.slice(images, i, n); // [n, 28, 28, 1]
      const h = classifier.features(x); // [n, 64]
      return [h, tf.softmax(classifier.head(h))]; // [n, 64], [n, 10]
    });
    features.set(await f.data() as Float32Array, i * CLASSIFIER_FEATURES);
    probs.set(await p.data() as Float32Array, i * 10);
    tf.dispose([f, p]);
  }
  return { features, probs };
}

/**
 * Scores images against a reference set of real ones: FID-MNIST, mean top-class confidence,
 * class-histogram entropy. Score real held-out digits too: they give the ceiling (FID ≈ 0 up
 * to the bias of finite N, confidence ≈ the classifier's, entropy ≈ ln 10).
 *
 * @param classifier The digit classifier.
 * @param images [N, 28, 28, 1] in [-1, 1], N ≥ 2.
 * @param reference Feature statistics of the reference set ({@linkcode featureStats} of
 *   {@linkcode classifierOutputs}' features).
 * @param options `{ classes }`: the class asked for per image, for the conditional accuracy.
 * @returns A promise of `{ n, fid, meanConfidence, confidentFraction, classEntropy, classCounts,
 *   conditional? }`.
 * @throws {RangeError} If `classes` does not hold one digit 0–9 per image.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import {
 *   classifierOutputs, featureStats, initBackend, loadMnistClassifier, sampleQuality,
 * } from "@ddpm/core";
 * import { loadMnist } from "@ddpm/core/fs";
 * await initBackend("cpu");
 * const { classifier } = await loadMnistClassifier();
 * const test = loadMnist({ split: "test", limit: 100 });
 * const real = tf.tensor4d(test.images, test.shape);
 * const ref = featureStats((await classifierOutputs(classifier, real)).features, 64);
 * const q = await sampleQuality(classifier, tf.randomUniform([50, 28, 28, 1], -1, 1), ref);
 * assert.ok(q.fid > 1); // noise is far from digits
 * classifier.dispose();
 * ```
 */
export async function sampleQuality(
  classifier: MnistClassifier,
  images: Tensor,
  reference: FeatureStats,
  options: SampleQualityOptions = {},
): Promise<SampleQuality> {
  const n = images.shape[0];
  const asked = options.classes;
  if (
    asked !== undefined &&
    (asked.length !== n || Array.from(asked).some((c) => !Number.isInteger(c) || c < 0 || c > 9))
  ) {
    throw new RangeError(
      `Cannot score samples: classes must hold one digit 0–9 per image (${n}), got ${asked.length} values`,
    );
  }
  const { features, probs } = await classifierOutputs(classifier, images);
  const fid = frechetDistance(featureStats(features, CLASSIFIER_FEATURES), reference);
  const classCounts = new Array(10).fill(0);
  const askedCount = new Array(10).fill(0), hit = new Array(10).fill(0);
  let confidence = 0, confident = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (probs[i * 10 + k] > probs[i * 10 + best]) best = k;
    classCounts[best]++;
    if (asked) {
      askedCount[asked[i]]++;
      if (best === asked[i]) hit[asked[i]]++;
    }
    confidence += probs[i * 10 + best] / n;
    if (probs[i * 10 + best] > 0.9) confident++;
  }
  let classEntropy = 0;
  for (const c of classCounts) if (c > 0) classEntropy -= (c / n) * Math.log(c / n);
  return {
    n,
    fid,
    meanConfidence: confidence,
    confidentFraction: confident / n,
    classEntropy,
    classCounts,
    ...(asked
      ? {
        conditional: {
          accuracy: hit.reduce((x, y) => x + y, 0) / n,
          perClass: hit.map((h, k) => h / askedCount[k]),
        },
      }
      : {}),
  };
}
