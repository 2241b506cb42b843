import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import type { EpsModel } from "./types.ts";
import { _coefFn, _readTimesteps, type TimestepArg } from "./_timesteps.ts";
import { _checkBatch, _checkSchedule } from "./_checks.ts";
import type { ReverseOptions } from "./p_mean_variance.ts";
import { _pMeanVariance, _varianceAt } from "./_reverse.ts";
import { _canFuseSampleStep } from "./_fusion.ts";
import { _fusedReverseStep } from "./_fused_step.ts";
import { _noiseFor } from "./_noise.ts";
import type { Tensor } from "./types.ts";

/** Arguments of {@linkcode pSample}. */
export interface PSampleArgs extends ReverseOptions {
  /** The current x_t, [B, ...]. */
  xt: Tensor;
  /** Timestep: a number, or an int32 tensor [B]. */
  t: TimestepArg;
  /** Standard normal z, xt's shape (drawn from `seed` when absent). */
  noise?: Tensor;
  /** Seed for z when `noise` is absent. */
  seed?: number;
}

/**
 * One ancestral sampling step (Algorithm 2 of Ho et al. 2020):
 * x_{t-1} = μ_θ(x_t, t) + σ_t z, with z ~ N(0, I) and z = 0 at t = 0.
 * μ_θ and σ_t are those of {@linkcode pMeanVariance}.
 *
 * @param model The denoising model.
 * @param s The schedule.
 * @param args `{ xt, t, noise?, seed?, variance?, clipDenoised?, prediction?, checkFinite? }`.
 * @returns x_{t-1}, xt's shape.
 * @throws {RangeError} If t is out of range, noise's shape differs, or the model returns the
 *   wrong shape or non-finite values.
 *
 * @example One step with a model that predicts zero noise
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, pSample } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const model = (xt: tf.Tensor) => tf.zerosLike(xt);
 * const x = pSample(model, s, { xt: tf.randomNormal([4, 2]), t: 999, seed: 1 });
 * assert.deepEqual(x.shape, [4, 2]);
 * ```
 */
export function pSample(model: EpsModel, s: Schedule, args: PSampleArgs): Tensor {
  const what = "sample";
  _checkSchedule(what, s);
  const xt = _checkBatch(what, "xt", args?.xt);
  const ts = _readTimesteps(what, s, args.t, xt.shape[0]);
  const { sample, predX0 } = _pSampleStep(what, model, s, xt, ts, args);
  predX0.dispose();
  return sample;
}

/** pSample after the arguments were read; also returns the predicted x0. */
export function _pSampleStep(
  what: string,
  model: EpsModel,
  s: Schedule,
  xt: Tensor,
  ts: number | Int32Array,
  args: Omit<PSampleArgs, "xt" | "t">,
  stream = 0,
  wantFlag = false,
): { sample: Tensor; predX0: Tensor; finite?: Tensor } {
  const z = _noiseFor(what, xt, "xt", args.noise, args.seed, stream);
  try {
    if (_canFuseSampleStep(xt, args)) {
      // the same step as one WGSL program: μ̃ = c1_t x̂0 + c2_t x_t, + σ_t z with σ_0 = 0
      const variance = _varianceAt(what, s, args.variance)!; // fixed: see _canFuseSampleStep
      return _fusedReverseStep(what, model, s, xt, ts, args, z.noise, wantFlag, (t) => [
        s.posteriorMeanCoef1[t],
        s.posteriorMeanCoef2[t],
        t === 0 ? 0 : Math.sqrt(variance(t)),
      ]);
    }
    return tf.tidy(() => {
      const p = _pMeanVariance(what, model, s, xt, ts, args, wantFlag);
      // σ_t z with z = 0 at t = 0: mask = [t ≠ 0]
      const mask = _coefFn((t) => (t === 0 ? 0 : 1), ts, xt.rank);
      const sigmaZ = tf.mul(tf.mul(mask, tf.exp(tf.mul(0.5, p.logVariance))), z.noise);
      return { sample: tf.add(p.mean, sigmaZ), predX0: p.predX0, finite: p.finite };
    });
  } finally {
    if (z.owned) z.noise.dispose();
  }
}
