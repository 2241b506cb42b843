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
