/** One ancestral step after its arguments were read: the body of pSample and pSampleLoop. */
import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import type { EpsModel, Tensor } from "./types.ts";
import { _coefFn } from "./_timesteps.ts";
import type { ReverseOptions } from "./p_mean_variance.ts";
import { _pMeanVariance, _varianceAt } from "./_reverse.ts";
import { _canFuseSampleStep } from "./_fusion.ts";
import { _fusedReverseStep } from "./_fused_step.ts";
import { _noiseFor } from "./_noise.ts";

/** pSample after the arguments were read; also returns the predicted x0. */
export function _pSampleStep(
  what: string,
  model: EpsModel,
  s: Schedule,
  xt: Tensor,
  ts: number | Int32Array,
  args: ReverseOptions & { noise?: Tensor; seed?: number },
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
