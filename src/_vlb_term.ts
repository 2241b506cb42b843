// Internal: one term of the variational bound in bits/dim, after the public functions checked
// their arguments (vlbTerm, vlbBound and the subsampled estimate in eval/bpd_estimate.ts).
import * as tf from "@tensorflow/tfjs-core";
import { _posteriorMean } from "./_formulas.ts";
import type { Schedule } from "./schedule.ts";
import type { EpsModel, Tensor, Tensor1D } from "./types.ts";
import { _coef } from "./_timesteps.ts";
import type { ReverseOptions } from "./p_mean_variance.ts";
import { _pMeanVariance } from "./_reverse.ts";
import { normalKl } from "./normal_kl.ts";
import { discretizedGaussianLogLikelihood } from "./discretized_gaussian_log_likelihood.ts";

/** Mean over all but the batch axis, divided by ln 2: nats per element → bits per dim. */
export function _meanBits(x: Tensor): Tensor1D {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
  const m = axes.length ? tf.mean(x, axes) : x;
  return tf.div(m, Math.LN2) as Tensor1D;
}

export function _vlbTerm(
  what: string,
  model: EpsModel,
  s: Schedule,
  x0: Tensor,
  xt: Tensor,
  ts: number | Int32Array,
  opts: ReverseOptions,
): Tensor1D {
  return tf.tidy(() => {
    const r = xt.rank;
    const p = _pMeanVariance(what, model, s, xt, ts, opts);
    const anyZero = typeof ts === "number" ? ts === 0 : ts.includes(0);
    const allZero = typeof ts === "number" ? ts === 0 : ts.every((t) => t === 0);
    let kl: Tensor1D | undefined;
    if (!allZero) {
      // KL(q(x_{t-1} | x_t, x0) ‖ p_θ(x_{t-1} | x_t))
      const qMean = _posteriorMean(s, x0, xt, ts);
      const qLogVar = tf.mul(tf.onesLike(xt), _coef(s.posteriorLogVarianceClipped, ts, r));
      kl = _meanBits(
        normalKl({ mean1: qMean, logVar1: qLogVar, mean2: p.mean, logVar2: p.logVariance }),
      );
    }
    if (!anyZero) return kl!;
    // -log p_θ(x0 | x_1), the discretized Gaussian decoder
    const nll = _meanBits(
      tf.neg(discretizedGaussianLogLikelihood({
        x: x0,
        means: p.mean,
        logScales: tf.mul(0.5, p.logVariance),
      })),
    );
    if (!kl) return nll;
    const isZero = tf.tensor1d(Array.from(ts as Int32Array, (t) => (t === 0 ? 1 : 0)), "bool");
    return tf.where(isZero, nll, kl);
  });
}
