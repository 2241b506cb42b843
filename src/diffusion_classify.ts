/**
 * The diffusion classifier (Li et al. 2023, "Your Diffusion Model is Secretly a Zero-Shot
 * Classifier"): a class-conditional ε-model's own guess of an image's class.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import type { EpsModel, Tensor } from "./types.ts";
import { forwardNoise } from "./forward_noise.ts";
import { _randomNormal } from "./_random.ts";
import { _classifyNoise } from "./_streams.ts";
import { _checkModel } from "./_checks.ts";

/** Options of {@linkcode diffusionClassify}. */
export interface DiffusionClassifyOptions {
  /** The classes to compare, 0 … numClasses − 1. */
  numClasses: number;
  /** The timesteps t at which each image is noised and denoised (distinct, in [0, T − 1]). */
  timesteps: readonly number[];
  /** Seed of the noise ε (one draw per image and timestep, shared by the classes). */
  seed: number;
  /**
   * The images are rows [start, start + N) of a batch of `of` (default: the whole batch): the
   * noise is those rows' of the whole batch's, so a row's class does not depend on how a batch
   * is split.
   */
  rows?: { start: number; of: number };
  /** Rows per model call (images × classes; default 64). */
  batch?: number;
}

/** What {@linkcode diffusionClassify} returns. */
export interface DiffusionClassification {
  /**
   * [N, K] row-major: for image n and class k, Σ_t mean over pixels of (ε − ε_θ(x_t, t, k))², where
   * x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε — a Monte Carlo estimate of the class's denoising loss, which
   * bounds −log p_θ(x0 | k) up to the ELBO's weights and a constant shared by the classes.
   */
  errors: Float32Array;
  /** [N]: the class of least error, the model's guess. */
  classes: Int32Array;
}

/**
 * Classifies images with a class-conditional ε-model: noises each image at the given timesteps and
 * asks the model to denoise it once under every class; the class whose prediction errs least is
 * the model's guess (Bayes' rule with a uniform prior and the denoising loss in place of
 * −log p_θ(x0 | y)). The same noise serves every class, so the comparison between classes is paired
 * and its Monte Carlo error small. It costs N · K · |timesteps| rows of model calls.
 *
 * @param model A class-conditional ε-model `(xt, t, y) => ε`.
 * @param s The schedule the model was trained with.
 * @param x0 Clean images [N, ...] in the model's range.
 * @param options `{ numClasses, timesteps, seed, rows?, batch? }`.
 * @returns A promise of `{ errors, classes }` on the host.
 * @throws {TypeError} If the model is not a function.
 * @throws {RangeError} If numClasses, a timestep, the rows or the batch is out of range.
 *
 * @example An oracle model that knows the noise only for class 1
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { diffusionClassify, initBackend, makeSchedule } from "@ddpm/core";
 * await initBackend("cpu");
 * const s = makeSchedule({ kind: "linear", T: 100 });
 * const x0 = tf.zeros([2, 3]);
 * // x0 = 0, so x_t = √(1 − ᾱ_t) ε: class 1 recovers ε, class 0 predicts zero
 * const model = (xt: tf.Tensor, t: tf.Tensor, y?: tf.Tensor) =>
 *   tf.tidy(() => {
 *     const scale = tf.gather(tf.tensor1d(Array.from(s.sqrtOneMinusAlphasCumprod)), t);
 *     const eps = tf.div(xt, tf.reshape(scale, [-1, 1]));
 *     return tf.mul(eps, tf.reshape(tf.cast(tf.equal(y!, 1), "float32"), [-1, 1]));
 *   });
 * const { classes, errors } = await diffusionClassify(model, s, x0, {
 *   numClasses: 2, timesteps: [20, 60], seed: 0,
 * });
 * assert.deepEqual(Array.from(classes), [1, 1]);
 * assert.ok(errors[1] < 1e-6 && errors[0] > 0.1); // image 0: class 1 exact, class 0 not
 * ```
 */
export async function diffusionClassify(
  model: EpsModel,
  s: Schedule,
  x0: Tensor,
  options: DiffusionClassifyOptions,
): Promise<DiffusionClassification> {
  const what = "classify with the diffusion model";
  _checkModel(what, "model", model);
  const o = options ?? ({} as DiffusionClassifyOptions);
  const K = o.numClasses;
  if (!Number.isInteger(K) || K < 2) {
    throw new RangeError(`Cannot ${what}: numClasses must be an integer >= 2, got ${K}`);
  }
  const ts = o.timesteps;
  if (
    !Array.isArray(ts) || ts.length === 0 || new Set(ts).size !== ts.length ||
    ts.some((t) => !Number.isInteger(t) || t < 0 || t >= s.T)
  ) {
    throw new RangeError(
      `Cannot ${what}: timesteps must be distinct integers in [0, ${s.T - 1}], got ${
        JSON.stringify(ts)
      }`,
    );
  }
  const N = x0.shape[0];
  const rows = o.rows ?? { start: 0, of: N };
  if (
    !Number.isInteger(rows.start) || !Number.isInteger(rows.of) || rows.start < 0 ||
    rows.start + N > rows.of
  ) {
    throw new RangeError(
      `Cannot ${what}: rows must hold the ${N} images within the batch, got ${
        JSON.stringify(rows)
      }`,
    );
  }
  const batch = o.batch ?? 64;
  if (!Number.isInteger(batch) || batch < K) {
    throw new RangeError(`Cannot ${what}: batch must be an integer >= numClasses, got ${batch}`);
  }
  const image = x0.shape.slice(1);
  const perCall = Math.floor(batch / K); // images per model call
  const errors = new Float32Array(N * K);
  for (const t of ts) {
    // the whole batch's noise at t, this call's rows of it
    const noise = tf.tidy(() =>
      tf.slice(_randomNormal([rows.of, ...image], o.seed, _classifyNoise(t)), rows.start, N)
    );
    for (let i = 0; i < N; i += perCall) {
      const n = Math.min(perCall, N - i);
      const err = tf.tidy(() => {
        const eps = tf.slice(noise, i, n);
        const xt = forwardNoise(s, { x0: tf.slice(x0, i, n), t, noise: eps });
        // rows image-major, class-minor: image a under class k is row a·K + k
        const repeat = (x: Tensor) =>
          tf.reshape(tf.tile(tf.expandDims(x, 1), [1, K, ...image.map(() => 1)]), [
            n * K,
            ...image,
          ]);
        const y = tf.tensor1d(Array.from({ length: n * K }, (_, r) => r % K), "int32");
        const pred = model(repeat(xt), tf.fill([n * K], t, "int32") as tf.Tensor1D, y);
        const axes = image.map((_, d) => d + 1);
        return tf.mean(tf.square(tf.sub(pred, repeat(eps))), axes);
      });
      const d = await err.data() as Float32Array;
      err.dispose();
      for (let r = 0; r < n * K; r++) errors[i * K + r] += d[r];
    }
    noise.dispose();
  }
  const classes = new Int32Array(N);
  for (let a = 0; a < N; a++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (errors[a * K + k] < errors[a * K + best]) best = k;
    classes[a] = best;
  }
  return { errors, classes };
}
