import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import type { EpsModel, Prediction } from "./types.ts";
import { _coefFn, _modelTimesteps } from "./_timesteps.ts";
import { _checkBatch, _checkSameShape, _checkSchedule } from "./_checks.ts";
import { _callModel, _checkPrediction } from "./_model.ts";
import { _lossInputs } from "./_loss_inputs.ts";
import type { Scalar, Tensor, Tensor1D } from "./types.ts";
import { _qSample, _vTarget } from "./_formulas.ts";
import type { ClassLabels } from "./guidance.ts";

/** Arguments of {@linkcode epsLoss}. */
export interface EpsLossArgs {
  /** Clean data x0, [B, ...]. */
  x0: Tensor;
  /** Timesteps, int32 [B] (drawn uniformly from [0, T-1] with `seed` when absent). */
  t?: Tensor1D;
  /** Standard normal ε, x0's shape (drawn with `seed` when absent). */
  noise?: Tensor;
  /** Seed for t (stream 1) and ε (stream 2) when they are not given. */
  seed?: number;
  /** What the model predicts, and so the regression target (default "eps"). */
  prediction?: Prediction;
  /**
   * Min-SNR-γ weighting (Hang et al. 2023), e.g. 5: each example's squared error is
   * weighted by min(SNR_t, γ)/SNR_t for ε, min(SNR_t, γ) for x0, min(SNR_t, γ)/(SNR_t + 1)
   * for v, with SNR_t = ᾱ_t / (1 - ᾱ_t). Absent: every weight is 1.
   */
  minSnrGamma?: number;
  /**
   * The class of each example for a class-conditional model, int32 [B] or B integers
   * (−1, `NULL_CLASS`, for "no class"); passed to the model as its `y`.
   */
  classes?: ClassLabels;
  /**
   * The regression target, x0's shape, in place of the one `prediction` implies (ε, x0 or v)
   * — e.g. a teacher network's prediction at the same x_t, to distill it. The model still sees
   * x_t = √ᾱ_t x0 + √(1 - ᾱ_t) ε with this call's t and ε.
   */
  target?: Tensor;
}

/**
 * The simplified training loss L_simple (Algorithm 1 of Ho et al. 2020):
 * the mean over all elements of (ε - ε_θ(√ᾱ_t x0 + √(1 - ᾱ_t) ε, t))², with t uniform on
 * [0, T-1] and ε ~ N(0, I) unless given. With `prediction: "x0"` or `"v"` the target is x0
 * or v = √ᾱ_t ε - √(1 - ᾱ_t) x0 instead; with `target`, that tensor. Differentiable: use it
 * inside `tf.variableGrads`.
 *
 * @param model The denoising model.
 * @param s The schedule.
 * @param args `{ x0, t?, noise?, seed?, prediction?, minSnrGamma?, classes?, target? }`.
 * @returns The scalar loss.
 * @throws {RangeError} If t, noise or target do not fit x0, or the model returns the wrong
 * shape.
 *
 * @example The loss of a model that always predicts zero noise is about 1
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { epsLoss, makeSchedule } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const model = (xt: tf.Tensor) => tf.zerosLike(xt);
 * const loss = epsLoss(model, s, { x0: tf.zeros([256, 2]), seed: 0 });
 * assert.ok(Math.abs(loss.dataSync()[0] - 1) < 0.25); // E‖ε‖²/D = 1; 512 draws: ± 0.06
 * ```
 */
export function epsLoss(model: EpsModel, s: Schedule, args: EpsLossArgs): Scalar {
  const what = "compute loss";
  _checkSchedule(what, s);
  const x0 = _checkBatch(what, "x0", args?.x0);
  const prediction = _checkPrediction(what, args.prediction);
  const gamma = args.minSnrGamma;
  if (gamma !== undefined && !(typeof gamma === "number" && gamma > 0 && Number.isFinite(gamma))) {
    throw new RangeError(
      `Cannot compute loss: minSnrGamma must be a finite number > 0, got ${gamma}`,
    );
  }
  if (args.target !== undefined) _checkSameShape(what, "x0", x0, "target", args.target);
  const B = x0.shape[0];
  const { ts, classes, z } = _lossInputs(what, s, x0, args);
  try {
    return tf.tidy(() => {
      const r = x0.rank;
      const eps = z.noise;
      const xt = _qSample(s, x0, eps, ts);
      const out = _callModel(what, model, xt, _modelTimesteps(s, ts, B), false, { classes, w: 1 });
      const target = args.target ?? _predictionTarget(s, prediction, x0, eps, ts);
      let sq = tf.squaredDifference(target, out);
      if (gamma !== undefined) {
        sq = tf.mul(sq, _coefFn((t) => _minSnrWeight(s, t, gamma, prediction), ts, r));
      }
      return tf.mean(sq) as Scalar;
    });
  } finally {
    if (z.owned) z.noise.dispose();
  }
}

/** What a model of this prediction type regresses onto: ε, x0 or v. */
function _predictionTarget(
  s: Schedule,
  prediction: Prediction,
  x0: Tensor,
  eps: Tensor,
  ts: number | Int32Array,
): Tensor {
  if (prediction === "x0") return x0;
  if (prediction === "v") return _vTarget(s, x0, eps, ts);
  return eps;
}

/** Min-SNR-γ weight for one timestep; SNR_t = ᾱ_t / (1 - ᾱ_t). */
function _minSnrWeight(s: Schedule, t: number, gamma: number, p: Prediction): number {
  const snr = s.alphasCumprod[t] / (1 - s.alphasCumprod[t]);
  const clipped = Math.min(snr, gamma);
  if (p === "eps") return clipped / snr;
  if (p === "x0") return clipped;
  return clipped / (snr + 1);
}
