import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import type { EpsModel, Scalar, Tensor, Tensor1D } from "./types.ts";
import { _checkBatch, _checkSchedule } from "./_checks.ts";
import type { ClassLabels } from "./guidance.ts";
import { _lossInputs } from "./_loss_inputs.ts";
import { _hybridTerms } from "./_hybrid_terms.ts";

/** Arguments of {@linkcode hybridLoss}. */
export interface HybridLossArgs {
  /** Clean data x0, [B, ...] (on the 8-bit grid: the t = 0 term is the discretized decoder). */
  x0: Tensor;
  /** Timesteps, int32 [B] (drawn uniformly from [0, T-1] with `seed` when absent). */
  t?: Tensor1D;
  /** Standard normal ε, x0's shape (drawn with `seed` when absent). */
  noise?: Tensor;
  /** Seed for t (stream 1) and ε (stream 2) when they are not given. */
  seed?: number;
  /** The class of each example for a class-conditional model (see `epsLoss`). */
  classes?: ClassLabels;
  /**
   * "hybrid" (default): L_simple + λ·L_vlb with the mean's gradient stopped in L_vlb, so the
   * VLB term trains the variance alone (§3.1); "vlb": L_vlb alone, through mean and variance.
   */
  loss?: "hybrid" | "vlb";
  /** λ of the hybrid loss (default 0.001). */
  lambda?: number;
  /** How the model's variance output is read (default "learnedRange"). */
  variance?: "learnedRange" | "learned";
  /**
   * A weight per example, multiplying its loss: importance sampling's 1 / (T·p_t) (see
   * `importanceTimesteps`). Default: 1 each.
   */
  weights?: ArrayLike<number>;
}

/**
 * Improved DDPM's losses for a model with a learned variance (Nichol & Dhariwal 2021), whose
 * output is ε then v (twice x0's channels). With x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε and L_t the
 * bound's term at t in bits/dim (KL(q(x_{t−1} | x_t, x0) ‖ p_θ(x_{t−1} | x_t)), the decoder's
 * −log p_θ(x0 | x_1) at t = 0), one sample estimates L_vlb = Σ_t L_t as T·L_t, and
 * - "hybrid": L_hybrid = ‖ε − ε_θ‖² / D + λ·T·L_t, with ε_θ held fixed inside L_t (the paper's
 *   stop-gradient: the VLB term trains Σ_θ, L_simple the mean), λ = 0.001;
 * - "vlb": T·L_t, through both (use importance-sampled t and their weights: its variance is large).
 *
 * The mean over the batch of each example's loss times its weight. Differentiable: use it inside
 * `tf.variableGrads`. No clipping of x̂0 inside L_t, as in training.
 *
 * @param model The denoising model (output: ε and v, twice x0's channels).
 * @param s The schedule.
 * @param args `{ x0, t?, noise?, seed?, classes?, loss?, lambda?, variance?, weights? }`.
 * @returns The scalar loss.
 * @throws {RangeError} If t, noise, weights or λ do not fit, or the model's output is not twice
 *   x0's channels.
 *
 * @example A model that predicts ε exactly and v = 0: L_simple is 0, the loss is λ·T·L_t alone
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { hybridLoss, makeSchedule } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const x0 = tf.zeros([4, 2]), noise = tf.randomNormal([4, 2], 0, 1, "float32", 1);
 * const t = tf.tensor1d([10, 200, 500, 900], "int32");
 * // with x0 = 0, x_t = √(1 − ᾱ_t) ε, so ε = x_t / √(1 − ᾱ_t)
 * const exact = (xt: tf.Tensor, ts: tf.Tensor1D) => {
 *   const c = tf.tensor(Array.from(ts.dataSync(), (k) => 1 / s.sqrtOneMinusAlphasCumprod[k]), [4, 1]);
 *   return tf.concat([tf.mul(xt, c), tf.zerosLike(xt)], -1);
 * };
 * const loss = hybridLoss(exact, s, { x0, t, noise }).dataSync()[0];
 * assert.ok(loss > 0 && loss < 0.01); // λ·T·L_t: a small KL between two variances
 * ```
 */
export function hybridLoss(model: EpsModel, s: Schedule, args: HybridLossArgs): Scalar {
  const what = "compute the hybrid loss";
  _checkSchedule(what, s);
  const x0 = _checkBatch(what, "x0", args?.x0);
  const B = x0.shape[0];
  const kind = args.loss ?? "hybrid";
  if (kind !== "hybrid" && kind !== "vlb") {
    throw new RangeError(
      `Cannot ${what}: loss must be "hybrid" or "vlb", got ${JSON.stringify(kind)}`,
    );
  }
  const lambda = args.lambda ?? 0.001;
  if (!(typeof lambda === "number" && Number.isFinite(lambda) && lambda >= 0)) {
    throw new RangeError(`Cannot ${what}: lambda must be a finite number >= 0, got ${lambda}`);
  }
  const variance = args.variance ?? "learnedRange";
  if (variance !== "learnedRange" && variance !== "learned") {
    throw new RangeError(
      `Cannot ${what}: variance must be "learnedRange" or "learned", got ${
        JSON.stringify(variance)
      }`,
    );
  }
  const weights = args.weights === undefined ? undefined : Float32Array.from(args.weights);
  if (weights && (weights.length !== B || !weights.every((w) => Number.isFinite(w) && w >= 0))) {
    throw new RangeError(
      `Cannot ${what}: weights must be ${B} finite numbers >= 0, got ${weights.length} (${
        Array.from(weights.slice(0, 4)).join(", ")
      }${weights.length > 4 ? ", …" : ""})`,
    );
  }
  const { ts, classes, z } = _lossInputs(what, s, x0, args);
  try {
    return tf.tidy(() => {
      const terms = _hybridTerms(what, model, s, x0, z.noise, ts as Int32Array | number, {
        kind,
        lambda,
        variance,
        classes,
      });
      const weighted = weights ? tf.mul(terms, tf.tensor1d(weights)) : terms;
      return tf.mean(weighted) as Scalar;
    });
  } finally {
    if (z.owned) z.noise.dispose();
  }
}
