import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import { _coef, _readTimesteps, type TimestepArg } from "./_timesteps.ts";
import { _checkBatch, _checkSchedule } from "./_checks.ts";
import type { Tensor } from "./types.ts";

/** Mean, variance and log variance of a diagonal Gaussian, each broadcast to x's shape. */
export interface GaussianParams {
  /** Mean. */
  mean: Tensor;
  /** Variance. */
  variance: Tensor;
  /** Natural log of the variance. */
  logVariance: Tensor;
}

/**
 * The marginal q(x_t | x0) = N(√ᾱ_t x0, (1 - ᾱ_t) I).
 *
 * @param s The schedule.
 * @param args `{ x0, t }`: x0 [B, ...], t a number or int32 [B].
 * @returns `{ mean: √ᾱ_t x0, variance: 1 - ᾱ_t, logVariance: log(1 - ᾱ_t) }`, all x0's shape.
 * @throws {RangeError} If t is out of [0, T-1].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, qMeanVariance } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const { mean, variance } = qMeanVariance(s, { x0: tf.ones([1, 3]), t: 999 });
 * assert.ok(Math.abs(variance.dataSync()[0] - 1) < 1e-4); // 1 − ᾱ_999
 * ```
 */
export function qMeanVariance(
  s: Schedule,
  args: { x0: Tensor; t: TimestepArg },
): GaussianParams {
  const what = "compute q(x_t | x0)";
  _checkSchedule(what, s);
  const x0 = _checkBatch(what, "x0", args?.x0);
  const ts = _readTimesteps(what, s, args.t, x0.shape[0]);
  return tf.tidy(() => {
    const ones = tf.onesLike(x0);
    return {
      mean: tf.mul(_coef(s.sqrtAlphasCumprod, ts, x0.rank), x0), // √ᾱ_t x0
      variance: tf.mul(ones, _coef(s.alphasCumprod.map((a) => 1 - a), ts, x0.rank)), // 1 - ᾱ_t
      logVariance: tf.mul(ones, _coef(s.logOneMinusAlphasCumprod, ts, x0.rank)), // log(1 - ᾱ_t)
    };
  });
}
