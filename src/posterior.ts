import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import { _coef, _readTimesteps, type TimestepArg } from "./_timesteps.ts";
import { _checkBatch, _checkSameShape, _checkSchedule } from "./_checks.ts";
import type { GaussianParams } from "./q_mean_variance.ts";
import { _posteriorMean } from "./_formulas.ts";
import type { Tensor } from "./types.ts";

/** Arguments of {@linkcode posterior}. */
export interface PosteriorArgs {
  /** Clean data (or a predicted x0), [B, ...]. */
  x0: Tensor;
  /** The noisy x_t, x0's shape. */
  xt: Tensor;
  /** Timestep: a number, or an int32 tensor [B]. */
  t: TimestepArg;
}

/**
 * The forward-process posterior q(x_{t-1} | x_t, x0) = N(μ̃_t, β̃_t I)
 * (q_posterior_mean_variance), with
 * μ̃_t = β_t √ᾱ_{t-1} / (1 - ᾱ_t) · x0 + (1 - ᾱ_{t-1}) √α_t / (1 - ᾱ_t) · x_t
 * and β̃_t = β_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t).
 *
 * @param s The schedule.
 * @param args `{ x0, xt, t }`.
 * @returns `{ mean: μ̃_t, variance: β̃_t, logVariance: clipped log β̃_t }`, each xt's shape.
 * @throws {RangeError} If t is out of [0, T-1] or x0 and xt differ in shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, posterior } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const { mean, variance } = posterior(s, { x0: tf.zeros([2, 4]), xt: tf.ones([2, 4]), t: 10 });
 * assert.deepEqual([mean.shape, variance.shape], [[2, 4], [2, 4]]);
 * ```
 */
export function posterior(s: Schedule, args: PosteriorArgs): GaussianParams {
  const what = "compute posterior";
  _checkSchedule(what, s);
  const xt = _checkBatch(what, "xt", args?.xt);
  const x0 = _checkSameShape(what, "xt", xt, "x0", args.x0);
  const ts = _readTimesteps(what, s, args.t, xt.shape[0]);
  return tf.tidy(() => {
    const ones = tf.onesLike(xt);
    return {
      mean: _posteriorMean(s, x0, xt, ts),
      variance: tf.mul(ones, _coef(s.posteriorVariance, ts, xt.rank)),
      logVariance: tf.mul(ones, _coef(s.posteriorLogVarianceClipped, ts, xt.rank)),
    };
  });
}
