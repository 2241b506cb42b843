import type { Schedule } from "./schedule.ts";
import type { EpsModel, Prediction, Tensor, VarianceKind } from "./types.ts";
import { _readTimesteps, type TimestepArg } from "./_timesteps.ts";
import { _checkBatch, _checkSchedule } from "./_checks.ts";
import type { GuidanceOptions } from "./guidance.ts";
import type { DynamicThresholdOptions } from "./dynamic_threshold.ts";
import { _pMeanVariance } from "./_reverse.ts";

/** Options shared by everything that runs the reverse process. */
export interface ReverseOptions extends GuidanceOptions {
  /** σ_t² of p(x_{t-1} | x_t): "fixedSmall" (β̃_t, default) or "fixedLarge" (β_t). */
  variance?: VarianceKind;
  /** Clip the predicted x0 to [-1, 1] before taking the posterior mean (default true). */
  clipDenoised?: boolean;
  /**
   * Dynamic thresholding of the predicted x0 instead of clipping (Saharia et al. 2022; see
   * {@linkcode dynamicThreshold}): `{ ratio = 0.995, maxValue = 1 }`. Set, it replaces
   * `clipDenoised`.
   */
  dynamicThreshold?: DynamicThresholdOptions;
  /** What the model predicts (default "eps"). */
  prediction?: Prediction;
  /**
   * Check that the model's output is finite (one host read per call; default true). On
   * webgpu, which cannot read synchronously, single steps skip this and the sampling loops
   * check asynchronously instead.
   */
  checkFinite?: boolean;
}

/** The reverse-process Gaussian p_θ(x_{t-1} | x_t) and what it was built from. */
export interface PMeanVariance {
  /** μ_θ(x_t, t) = μ̃_t(x̂0, x_t). */
  mean: Tensor;
  /** σ_t², xt's shape. */
  variance: Tensor;
  /** log σ_t², xt's shape. */
  logVariance: Tensor;
  /** x̂0, the predicted clean data (clipped when clipDenoised). */
  predX0: Tensor;
  /** ε̂ implied by x̂0 and x_t: (√(1/ᾱ_t) x_t - x̂0) / √(1/ᾱ_t - 1). */
  eps: Tensor;
}

/**
 * The reverse-process mean and variance p_θ(x_{t-1} | x_t) = N(μ_θ, σ_t² I)
 * (p_mean_variance): the model's output is turned into x̂0 (for ε-prediction
 * x̂0 = √(1/ᾱ_t) x_t - √(1/ᾱ_t - 1) ε_θ), optionally clipped to [-1, 1], and
 * μ_θ = μ̃_t(x̂0, x_t) is the posterior mean at x̂0.
 *
 * @param model The denoising model.
 * @param s The schedule.
 * @param args `{ xt, t }` and the {@linkcode ReverseOptions}.
 * @returns `{ mean, variance, logVariance, predX0, eps }`, each xt's shape.
 * @throws {RangeError} If t is out of range, or the model's output has the wrong shape or
 *   non-finite values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, pMeanVariance } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const model = (xt: tf.Tensor) => tf.zerosLike(xt);
 * const { mean, predX0 } = pMeanVariance(model, s, { xt: tf.ones([2, 3]), t: 5 });
 * assert.deepEqual([mean.shape, predX0.shape], [[2, 3], [2, 3]]);
 * ```
 */
export function pMeanVariance(
  model: EpsModel,
  s: Schedule,
  args: { xt: Tensor; t: TimestepArg } & ReverseOptions,
): PMeanVariance {
  const what = "compute p(x_{t-1} | x_t)";
  _checkSchedule(what, s);
  const xt = _checkBatch(what, "xt", args?.xt);
  const ts = _readTimesteps(what, s, args.t, xt.shape[0]);
  return _pMeanVariance(what, model, s, xt, ts, args);
}
