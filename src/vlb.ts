/**
 * The variational bound of Ho et al. 2020 (eq. 5) in bits per dimension:
 * L = L_T + Σ_{t ≥ 1} L_{t-1} + L_0, where (with 0-based t)
 * L_T = KL(q(x_T | x0) ‖ N(0, I)), the term at t ≥ 1 is KL(q(x_{t-1} | x_t, x0) ‖ p_θ(x_{t-1} | x_t)),
 * and the term at t = 0 is -log p_θ(x0 | x_1) under the discretized Gaussian decoder (§3.3).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import type { EpsModel } from "./types.ts";
import { _coef, _readTimesteps, type TimestepArg } from "./_timesteps.ts";
import { _checkBatch, _checkSameShape, _checkSchedule, _checkSeed } from "./_checks.ts";
import type { ReverseOptions } from "./p_mean_variance.ts";
import { _meanBits, _vlbTerm } from "./_vlb_term.ts";
import { normalKl } from "./normal_kl.ts";
import { forwardNoise } from "./forward_noise.ts";
import { _randomNormal, _randomSeed } from "./_random.ts";
import type { Tensor, Tensor1D } from "./types.ts";
import { _stepNoise } from "./_streams.ts";

/**
 * The prior term L_T = KL(q(x_T | x0) ‖ N(0, I)) in bits per dimension, per example. It has
 * no parameters: a good schedule makes it ≈ 0.
 *
 * @param s The schedule.
 * @param args `{ x0 }`, [B, ...].
 * @returns [B] bits/dim.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, priorBpd } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * assert.ok(priorBpd(s, { x0: tf.ones([1, 4]) }).dataSync()[0] < 1e-4);
 * ```
 */
export function priorBpd(s: Schedule, args: { x0: Tensor }): Tensor1D {
  const what = "compute the prior term";
  _checkSchedule(what, s);
  const x0 = _checkBatch(what, "x0", args?.x0);
  const T1 = s.T - 1;
  return tf.tidy(() => {
    const ones = tf.onesLike(x0);
    const kl = normalKl({
      mean1: tf.mul(_coef(s.sqrtAlphasCumprod, T1, x0.rank), x0), // √ᾱ_T x0
      logVar1: tf.mul(ones, _coef(s.logOneMinusAlphasCumprod, T1, x0.rank)), // log(1 - ᾱ_T)
      mean2: tf.zerosLike(x0),
      logVar2: tf.zerosLike(x0),
    });
    return _meanBits(kl);
  });
}

/** Arguments of {@linkcode vlbTerm}. */
export interface VlbTermArgs extends ReverseOptions {
  /** Clean data x0 on the 8-bit grid in [-1, 1], [B, ...]. */
  x0: Tensor;
  /** x_t drawn from q(x_t | x0), x0's shape. */
  xt: Tensor;
  /** Timestep: a number, or an int32 tensor [B]. */
  t: TimestepArg;
}

/**
 * One term of the variational bound, in bits per dimension, per example (improved-diffusion's
 * `_vb_terms_bpd`): at t ≥ 1, KL(q(x_{t-1} | x_t, x0) ‖ p_θ(x_{t-1} | x_t)) with q's clipped log
 * variance; at t = 0, the decoder's -log p_θ(x0 | x_1) with the discretized Gaussian of mean μ_θ
 * and log scale ½ log σ_1².
 *
 * @param model The denoising model.
 * @param s The schedule.
 * @param args `{ x0, xt, t, variance?, clipDenoised?, prediction? }`.
 * @returns [B] bits/dim.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { forwardNoise, makeSchedule, vlbTerm } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const x0 = tf.zeros([2, 4]);
 * const xt = forwardNoise(s, { x0, t: 10, noise: tf.randomNormal([2, 4]) });
 * const model = (x: tf.Tensor) => tf.zerosLike(x);
 * assert.deepEqual(vlbTerm(model, s, { x0, xt, t: 10 }).shape, [2]);
 * ```
 */
export function vlbTerm(model: EpsModel, s: Schedule, args: VlbTermArgs): Tensor1D {
  const what = "compute a bound term";
  _checkSchedule(what, s);
  const xt = _checkBatch(what, "xt", args?.xt);
  const x0 = _checkSameShape(what, "xt", xt, "x0", args.x0);
  const ts = _readTimesteps(what, s, args.t, xt.shape[0]);
  return _vlbTerm(what, model, s, x0, xt, ts, args);
}

/** Options of {@linkcode vlbBound}. */
export interface VlbBoundOptions extends ReverseOptions {
  /** Clean data x0 on the 8-bit grid in [-1, 1], [B, ...]. */
  x0: Tensor;
  /** Seed for the noise of each term (term t uses stream t + 1). */
  seed?: number;
  /** Called after each term with (terms done, T). */
  onStep?: (done: number, total: number) => void;
}

/** The full bound, per example, in bits per dimension. */
export interface VlbBound {
  /** L_T + Σ_t L_t for each example, [B]. */
  totalBpd: Float64Array;
  /** L_T for each example, [B]. */
  priorBpd: Float64Array;
  /** termsBpd[t][b]: the term at timestep t (t = 0 is the decoder term L_0). */
  termsBpd: Float64Array[];
}

/**
 * The whole variational bound in bits per dimension (the paper's Table 2 NLL; improved-
 * diffusion's `calc_bpd_loop`): for every t a fresh x_t ~ q(x_t | x0), the term of
 * {@linkcode vlbTerm}, plus the prior L_T. An upper bound on -log₂ p_θ(x0) / D, whose
 * expectation over the noise this single-sample estimate is.
 *
 * @param model The denoising model.
 * @param s The schedule.
 * @param opts `{ x0, seed?, variance?, clipDenoised?, prediction?, onStep? }`.
 * @returns A promise of `{ totalBpd, priorBpd, termsBpd }`, float64 host arrays.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, vlbBound } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 100 });
 * const model = (x: tf.Tensor) => tf.zerosLike(x);
 * const { totalBpd } = await vlbBound(model, s, { x0: tf.zeros([2, 3]), seed: 0 });
 * assert.equal(totalBpd.length, 2);
 * ```
 */
export async function vlbBound(
  model: EpsModel,
  s: Schedule,
  opts: VlbBoundOptions,
): Promise<VlbBound> {
  const what = "compute the bound";
  _checkSchedule(what, s);
  const x0 = _checkBatch(what, "x0", opts?.x0);
  _checkSeed(what, opts.seed);
  const seed = opts.seed ?? _randomSeed();
  const B = x0.shape[0];
  const termTensors: Tensor1D[] = [];
  try {
    for (let t = s.T - 1; t >= 0; t--) {
      termTensors.push(tf.tidy(() => {
        const noise = _randomNormal(x0.shape, seed, _stepNoise(t));
        const xt = forwardNoise(s, { x0, t, noise }); // √ᾱ_t x0 + √(1 - ᾱ_t) ε
        return _vlbTerm(what, model, s, x0, xt, t, { ...opts, checkFinite: t === s.T - 1 });
      }));
      opts.onStep?.(s.T - t, s.T);
    }
    const prior = priorBpd(s, { x0 });
    const stacked = tf.stack(termTensors); // [T, B], row i is t = T-1-i
    const values = await stacked.data();
    const priorValues = Float64Array.from(await prior.data());
    tf.dispose([prior, stacked]);
    const termsBpd = Array.from({ length: s.T }, (_, t) => {
      const row = s.T - 1 - t;
      return Float64Array.from(values.subarray(row * B, (row + 1) * B));
    });
    const totalBpd = Float64Array.from(priorValues);
    for (const term of termsBpd) for (let b = 0; b < B; b++) totalBpd[b] += term[b];
    return { totalBpd, priorBpd: priorValues, termsBpd };
  } finally {
    tf.dispose(termTensors);
  }
}
