// Internal: the closed forms written once, without argument checks. The public functions check
// their arguments and call these; so do the losses, samplers and bounds.
import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import { _coef } from "./_timesteps.ts";
import type { Tensor } from "./types.ts";

/** c_a[t] · a + c_b[t] · b, the coefficients gathered in float64 on the host. */
export function _combine(
  ts: number | Int32Array,
  [tableA, a]: [Float64Array, Tensor],
  [tableB, b]: [Float64Array, Tensor],
): Tensor {
  return tf.tidy(() =>
    tf.add(tf.mul(_coef(tableA, ts, a.rank), a), tf.mul(_coef(tableB, ts, a.rank), b))
  );
}

/** x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε (q_sample). */
export function _qSample(s: Schedule, x0: Tensor, eps: Tensor, ts: number | Int32Array): Tensor {
  return _combine(ts, [s.sqrtAlphasCumprod, x0], [s.sqrtOneMinusAlphasCumprod, eps]);
}

/** v = √ᾱ_t ε − √(1 − ᾱ_t) x0. */
export function _vTarget(s: Schedule, x0: Tensor, eps: Tensor, ts: number | Int32Array): Tensor {
  return _combine(ts, [s.sqrtAlphasCumprod, eps], [_negated(s.sqrtOneMinusAlphasCumprod), x0]);
}

/** μ̃_t(x0, x_t) = coef1_t x0 + coef2_t x_t, the mean of q(x_{t-1} | x_t, x0). */
export function _posteriorMean(
  s: Schedule,
  x0: Tensor,
  xt: Tensor,
  ts: number | Int32Array,
): Tensor {
  return _combine(ts, [s.posteriorMeanCoef1, x0], [s.posteriorMeanCoef2, xt]);
}

const _negatedTables = new WeakMap<Float64Array, Float64Array>();

/** −table, computed once per table. */
export function _negated(table: Float64Array): Float64Array {
  let neg = _negatedTables.get(table);
  if (!neg) _negatedTables.set(table, neg = table.map((c) => -c));
  return neg;
}

/**
 * log Σ_θ(x_t, t) from the model's variance output v (Nichol & Dhariwal 2021, eq. 15):
 * "learnedRange" interpolates in the log domain between the two fixed choices,
 * log σ² = f·log β_t + (1 − f)·log β̃_t with f = (v + 1) / 2 (β̃ log-clipped at t = 0, as
 * improved-diffusion); "learned" reads v as log σ² itself.
 */
export function _learnedLogVariance(
  s: Schedule,
  kind: "learned" | "learnedRange",
  v: Tensor,
  ts: number | Int32Array,
): Tensor {
  if (kind === "learned") return tf.clone(v);
  return tf.tidy(() => {
    const f = tf.div(tf.add(v, 1), 2);
    const maxLog = _coef(_logTable(s.betas), ts, v.rank);
    const minLog = _coef(s.posteriorLogVarianceClipped, ts, v.rank);
    return tf.add(tf.mul(f, maxLog), tf.mul(tf.sub(1, f), minLog));
  });
}

const _logTables = new WeakMap<Float64Array, Float64Array>();

/** log(table), computed once per table. */
function _logTable(table: Float64Array): Float64Array {
  let log = _logTables.get(table);
  if (!log) _logTables.set(table, log = table.map(Math.log));
  return log;
}
