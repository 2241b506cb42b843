/**
 * A stratified, unbiased estimate of the variational bound in bits/dim, for when the full
 * T-term bound ({@linkcode vlbBound}) costs too many model evaluations.
 *
 * For each image the bound is L = L_T + L_0 + Σ_{t=1}^{T-1} L_t. L_T (no model) and the
 * decoder term L_0 are computed exactly; the sum over t ≥ 1 is split into K strata S_k of
 * consecutive timesteps, narrow where the terms are large (small t) — edges
 * 1 + round((T - 1)(k/K)²) — and estimated by Σ_k |S_k| · L_{t_k} with one t_k drawn
 * uniformly in S_k, independently per image. Each image's estimate is unbiased, so the mean
 * over N images has standard error sd / √N, which covers both the noise draws and the
 * timestep subsampling. Cost: N (K + 1) model evaluations instead of N T.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "../schedule.ts";
import type { EpsModel, Tensor } from "../types.ts";
import type { ReverseOptions } from "../p_mean_variance.ts";
import { priorBpd } from "../vlb.ts";
import { _vlbTerm } from "../_vlb_term.ts";
import { _qSample } from "../_formulas.ts";
import { _checkBatch, _checkSchedule, _checkSeed } from "../_checks.ts";
import { _randomNormal, _randomSeed, _uniformGenerator } from "../_random.ts";
import { _bpdStratum } from "../_streams.ts";
import { _strata } from "./_strata.ts";

/** Options of {@linkcode bpdEstimate}. */
export interface BpdEstimateOptions extends ReverseOptions {
  /** Clean data on the 8-bit grid in [-1, 1], [N, ...]. */
  x0: Tensor;
  /** Number of strata K of t ∈ [1, T - 1] (default 32; T - 1 or more gives every t once). */
  strata?: number;
  /** Seed of the timesteps and the noise. */
  seed?: number;
  /** Images per model call (default 32). */
  batch?: number;
  /** Called after each model call with (calls done, calls in all). */
  onStep?: (done: number, total: number) => void;
}

/** A stratum of timesteps: t ∈ [from, to). */
export interface Stratum {
  /** First timestep (0-based). */
  from: number;
  /** One past the last timestep. */
  to: number;
}

/** What {@linkcode bpdEstimate} returns; every array is indexed by image i. */
export interface BpdEstimate {
  /** The estimate of each image's bound L (bits/dim), [N]. */
  totalBpd: Float64Array;
  /** Mean of `totalBpd`. */
  mean: number;
  /** Standard error of `mean`: sd(totalBpd) / √N. */
  stdError: number;
  /** L_T per image, exact, [N]. */
  priorBpd: Float64Array;
  /** L_0 = -log₂ p_θ(x0 | x_1) / D per image, one noise draw, [N]. */
  decoderBpd: Float64Array;
  /** The strata of t ≥ 1. */
  strata: Stratum[];
  /** t[k][i]: the timestep drawn in stratum k for image i. */
  t: Int32Array[];
  /** termsBpd[k][i]: L_{t[k][i]} in bits/dim. */
  termsBpd: Float64Array[];
  /** epsMse[k][i]: the training loss ‖ε_θ(x_t, t) - ε‖² / D at that x_t. */
  epsMse: Float64Array[];
  /** ε-MSE at t = 0 (the decoder's x_1), [N]. */
  decoderEpsMse: Float64Array;
}

/**
 * Estimates the variational bound per image with stratified timesteps (see the module
 * documentation for the estimator).
 *
 * @param model The ε-model.
 * @param s The schedule it was trained with.
 * @param opts `{ x0, strata?, seed?, batch?, variance?, clipDenoised?, prediction?, onStep? }`.
 * @returns A promise of the estimate, its standard error and every term.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { bpdEstimate, initBackend, makeSchedule } from "@ddpm/core";
 * await initBackend("cpu");
 * const s = makeSchedule({ kind: "linear", T: 100 });
 * const est = await bpdEstimate((x) => tf.zerosLike(x), s, { x0: tf.zeros([4, 3]), strata: 8, seed: 0 });
 * assert.deepEqual([est.totalBpd.length, est.strata.length], [4, 8]);
 * ```
 */
export async function bpdEstimate(
  model: EpsModel,
  s: Schedule,
  opts: BpdEstimateOptions,
): Promise<BpdEstimate> {
  const what = "estimate the bound";
  _checkSchedule(what, s);
  const x0 = _checkBatch(what, "x0", opts?.x0);
  _checkSeed(what, opts.seed);
  const K = opts.strata ?? 32, batch = opts.batch ?? 32;
  for (const [name, v] of [["strata", K], ["batch", batch]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`Cannot ${what}: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (s.T < 2) throw new RangeError(`Cannot ${what}: the schedule needs T ≥ 2, got ${s.T}`);
  const seed = opts.seed ?? _randomSeed();
  const N = x0.shape[0];
  const strata = _strata(s.T, K);
  // t for every (stratum, image): uniform in the stratum, stream k of the seed
  const t = strata.map(({ from, to }, k) => {
    const u = _uniformGenerator(seed, 1 + k);
    return Int32Array.from({ length: N }, () => from + Math.floor(u() * (to - from)));
  });
  const rows = [...strata.map((_, k) => ({ k, ts: t[k] })), { k: -1, ts: new Int32Array(N) }];
  const calls = rows.length * Math.ceil(N / batch);
  const termsBpd = strata.map(() => new Float64Array(N));
  const epsMse = strata.map(() => new Float64Array(N));
  const decoderBpd = new Float64Array(N), decoderEpsMse = new Float64Array(N);
  let done = 0;
  for (const { k, ts } of rows) {
    const noiseAll = _randomNormal(x0.shape, seed, _bpdStratum(k)); // [N, ...], ε of this row
    try {
      for (let i = 0; i < N; i += batch) {
        const n = Math.min(batch, N - i), tc = ts.subarray(i, i + n);
        let mse: Tensor | undefined;
        const term = tf.tidy(() => {
          const x0c = tf.slice(x0, i, n), noise = tf.slice(noiseAll, i, n); // [n, ...]
          const xt = _qSample(s, x0c, noise, tc);
          const probe: EpsModel = (x, tt) => {
            const eps = model(x, tt);
            const axes = Array.from({ length: x.rank - 1 }, (_, a) => a + 1);
            mse = tf.keep(tf.mean(tf.squaredDifference(eps, noise), axes)); // [n]
            return eps;
          };
          return _vlbTerm(what, probe, s, x0c, xt, tc, { ...opts, checkFinite: i === 0 });
        });
        const [tv, mv] = [await term.data(), await mse!.data()];
        tf.dispose([term, mse!]);
        (k < 0 ? decoderBpd : termsBpd[k]).set(tv, i);
        (k < 0 ? decoderEpsMse : epsMse[k]).set(mv, i);
        opts.onStep?.(++done, calls);
      }
    } finally {
      noiseAll.dispose();
    }
  }
  const prior = priorBpd(s, { x0 });
  const priorValues = Float64Array.from(await prior.data());
  prior.dispose();
  const totalBpd = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    totalBpd[i] = priorValues[i] + decoderBpd[i];
    strata.forEach(({ from, to }, k) => (totalBpd[i] += (to - from) * termsBpd[k][i]));
  }
  const mean = totalBpd.reduce((a, b) => a + b, 0) / N;
  const sd = N > 1 ? Math.sqrt(totalBpd.reduce((a, b) => a + (b - mean) ** 2, 0) / (N - 1)) : NaN;
  return {
    totalBpd,
    mean,
    stdError: sd / Math.sqrt(N),
    priorBpd: priorValues,
    decoderBpd,
    strata,
    t,
    termsBpd,
    epsMse,
    decoderEpsMse,
  };
}
