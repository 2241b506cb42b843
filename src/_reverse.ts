// Internal: the reverse process after the public functions checked their arguments — σ_t² by t,
// the coefficients of x̂0, the mean and variance, and x̂0 alone (what DPM-Solver++ needs) — shared
// by pMeanVariance, the samplers, the fused WebGPU step and the variational bound.
import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import type { EpsModel, Prediction, VarianceKind } from "./types.ts";
import { _coef, _coefFn, _modelTimesteps } from "./_timesteps.ts";
import { _callModel, _checkPrediction } from "./_model.ts";
import type { Tensor } from "./types.ts";
import { _learnedLogVariance, _posteriorMean } from "./_formulas.ts";
import type { PMeanVariance, ReverseOptions } from "./p_mean_variance.ts";
import { _readConditioning } from "./_conditioning.ts";
import { _checkThreshold, _dynamicThreshold } from "./_dynamic_threshold.ts";

/** Checks a variance kind (default "fixedSmall"). */
export function _checkVariance(what: string, kind: unknown): VarianceKind {
  if (kind === undefined) return "fixedSmall";
  if (!_VARIANCE_KINDS.includes(kind as VarianceKind)) {
    throw new RangeError(
      `Cannot ${what}: variance must be "fixedSmall", "fixedLarge", "learnedRange" or "learned", ` +
        `got ${JSON.stringify(kind)}`,
    );
  }
  return kind as VarianceKind;
}

const _VARIANCE_KINDS: VarianceKind[] = ["fixedSmall", "fixedLarge", "learnedRange", "learned"];

/** Whether the model outputs v beside its prediction (twice x_t's channels). */
export function _isLearned(kind: VarianceKind): kind is "learnedRange" | "learned" {
  return kind === "learnedRange" || kind === "learned";
}

/**
 * The variance kind a network's output is read with: a `learnSigma` U-Net's is "learnedRange"
 * unless "learned" is asked for (a fixed kind cannot read it); others keep the kind asked for.
 */
export function _varianceFor(
  what: string,
  unet: { learnSigma?: boolean },
  requested?: VarianceKind,
): VarianceKind | undefined {
  if (!unet.learnSigma) return requested;
  if (requested !== undefined && !_isLearned(_checkVariance(what, requested))) {
    throw new RangeError(
      `Cannot ${what}: this U-Net learns its variance (learnSigma); variance must be ` +
        `"learnedRange" or "learned", got ${JSON.stringify(requested)}`,
    );
  }
  return requested ?? "learnedRange";
}

/**
 * σ_t² as a function of t for a fixed variance kind; undefined for a learned one (its σ² depends
 * on x_t: see _pMeanVariance).
 */
export function _varianceAt(
  what: string,
  s: Schedule,
  kind: VarianceKind | undefined,
): ((t: number) => number) | undefined {
  const k = _checkVariance(what, kind);
  if (k === "fixedSmall") return (t) => Math.exp(s.posteriorLogVarianceClipped[t]);
  // σ_t² = β_t, with β̃_1 at t = 0 (the first step's β would make L_0 too loose).
  if (k === "fixedLarge") return (t) => t === 0 && s.T > 1 ? s.posteriorVariance[1] : s.betas[t];
  return undefined;
}

/** pMeanVariance after the arguments were read: ts are host timesteps. */
/**
 * The predicted x̂0 as a_t x_t - b_t out for each parameterization:
 * - eps: x̂0 = √(1/ᾱ_t) x_t - √(1/ᾱ_t - 1) ε_θ
 * - v:   x̂0 = √ᾱ_t x_t - √(1 - ᾱ_t) v_θ
 * - x0:  x̂0 = 0 · x_t - (-1) · x̂0_θ
 */
export function _x0Coefficients(
  s: Schedule,
  prediction: Prediction,
): [(t: number) => number, (t: number) => number] {
  if (prediction === "eps") {
    return [(t) => s.sqrtRecipAlphasCumprod[t], (t) => s.sqrtRecipm1AlphasCumprod[t]];
  }
  if (prediction === "v") {
    return [(t) => s.sqrtAlphasCumprod[t], (t) => s.sqrtOneMinusAlphasCumprod[t]];
  }
  return [() => 0, () => -1];
}

export function _pMeanVariance(
  what: string,
  model: EpsModel,
  s: Schedule,
  xt: Tensor,
  ts: number | Int32Array,
  opts: ReverseOptions,
  wantFlag = false,
): PMeanVariance & { finite?: Tensor } {
  const kind = _checkVariance(what, opts.variance);
  const variance = _varianceAt(what, s, kind);
  const r = xt.rank;
  return tf.tidy(() => {
    const { predX0, v, finite } = _predictX0(what, model, s, xt, ts, opts, wantFlag);
    // μ̃_t(x̂0, x_t) = coef1 x̂0 + coef2 x_t
    const mean = _posteriorMean(s, predX0, xt, ts);
    // ε̂ = (√(1/ᾱ_t) x_t - x̂0) / √(1/ᾱ_t - 1)
    const eps = tf.div(
      tf.sub(tf.mul(_coef(s.sqrtRecipAlphasCumprod, ts, r), xt), predX0),
      _coef(s.sqrtRecipm1AlphasCumprod, ts, r),
    );
    const ones = tf.onesLike(xt);
    const logVariance = variance
      ? tf.mul(ones, _coefFn((t) => Math.log(variance(t)), ts, r))
      : _learnedLogVariance(s, kind as "learnedRange" | "learned", v!, ts);
    return {
      mean,
      variance: variance ? tf.mul(ones, _coefFn(variance, ts, r)) : tf.exp(logVariance),
      logVariance,
      predX0,
      eps,
      ...(finite ? { finite } : {}),
    };
  });
}

/**
 * The model's x̂0 at x_t: the model called (with its labels and guidance), its output read as
 * x̂0 = a_t x_t - b_t out (see {@link _x0Coefficients}; the output itself for "x0"), then clipped
 * to [-1, 1] or dynamically thresholded; with a learned variance, from the output's first half,
 * and v, its second half. With wantFlag, also all(isFinite(model output)) for the async loops.
 * What pMeanVariance builds on, and all DPM-Solver++ needs of the model.
 */
export function _predictX0(
  what: string,
  model: EpsModel,
  s: Schedule,
  xt: Tensor,
  ts: number | Int32Array,
  opts: ReverseOptions,
  wantFlag = false,
): { predX0: Tensor; v?: Tensor; finite?: Tensor } {
  const prediction = _checkPrediction(what, opts.prediction);
  const learned = _isLearned(_checkVariance(what, opts.variance));
  const clip = opts.clipDenoised ?? true;
  const threshold = opts.dynamicThreshold === undefined
    ? undefined
    : _checkThreshold(what, opts.dynamicThreshold);
  const r = xt.rank;
  const cond = _readConditioning(what, opts, xt.shape[0]);
  return tf.tidy(() => {
    const tModel = _modelTimesteps(s, ts, xt.shape[0]);
    const check = !wantFlag && (opts.checkFinite ?? true);
    const both = _callModel(what, model, xt, tModel, check, cond, learned ? 2 : 1);
    const [out, v] = learned ? tf.split(both, 2, -1) : [both, undefined];
    const [a, b] = _x0Coefficients(s, prediction);
    let predX0 = prediction === "x0"
      ? out
      : tf.sub(tf.mul(_coefFn(a, ts, r), xt), tf.mul(_coefFn(b, ts, r), out));
    if (threshold) predX0 = _dynamicThreshold(predX0, threshold.ratio, threshold.maxValue);
    else if (clip) predX0 = tf.clipByValue(predX0, -1, 1);
    return {
      predX0,
      ...(v ? { v } : {}),
      ...(wantFlag ? { finite: tf.all(tf.isFinite(both)) } : {}),
    };
  });
}
