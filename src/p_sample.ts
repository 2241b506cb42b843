import type { Schedule } from "./schedule.ts";
import type { EpsModel, Tensor } from "./types.ts";
import { _readTimesteps, type TimestepArg } from "./_timesteps.ts";
import { _checkBatch, _checkSchedule } from "./_checks.ts";
import type { ReverseOptions } from "./p_mean_variance.ts";
import { _pSampleStep } from "./_p_sample_step.ts";

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
