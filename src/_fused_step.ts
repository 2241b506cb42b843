// Internal: a reverse step whose arithmetic after the model (x̂0, clip, x_{t-1} = c1 x̂0 + c2 x_t
// + σ z) runs as one fused kernel (src/_fusion.ts decides when). pSample (posterior mean) and
// ddimSample (DDIM's update, linear in x̂0 and x_t too) supply c1, c2 and σ; the kernel runs once
// for x_{t-1} and once for x̂0 per step.
import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import type { EpsModel, Tensor } from "./types.ts";
import { _modelTimesteps, _timestepsArray } from "./_timesteps.ts";
import { _callModel, _checkPrediction } from "./_model.ts";
import type { ReverseOptions } from "./p_mean_variance.ts";
import { _x0Coefficients } from "./_reverse.ts";
import { _sampleStepKernel } from "./_fusion.ts";
import { _readConditioning } from "./_conditioning.ts";

/**
 * One reverse step by the fused kernel: the model's output, x̂0 = a_t x_t - b_t out (by the
 * parameterization, {@link _x0Coefficients}), clipped unless `clipDenoised` is false, then
 * x_{t-1} = c1_t x̂0 + c2_t x_t + σ_t z with (c1, c2, σ) = stepCoefs(t).
 *
 * @param z The noise (unused where every σ_t is 0: pass undefined).
 * @returns x_{t-1}, x̂0 and, when wantFlag, all(isFinite(out)) for the async loops.
 */
export function _fusedReverseStep(
  what: string,
  model: EpsModel,
  s: Schedule,
  xt: Tensor,
  ts: number | Int32Array,
  opts: ReverseOptions,
  z: Tensor | undefined,
  wantFlag: boolean,
  stepCoefs: (t: number) => [number, number, number],
): { sample: Tensor; predX0: Tensor; finite?: Tensor } {
  const [a, b] = _x0Coefficients(s, _checkPrediction(what, opts.prediction));
  const B = xt.shape[0], perT = _timestepsArray(ts, B);
  const rows = new Float32Array(5 * B); // [B, 5]: a, b, c1, c2, σ
  for (let i = 0; i < B; i++) {
    const t = perT[i];
    const [c1, c2, sigma] = stepCoefs(t);
    rows.set([a(t), b(t), c1, c2, z === undefined ? 0 : sigma], 5 * i);
  }
  const clip = opts.clipDenoised ?? true;
  const cond = _readConditioning(what, opts, B);
  return tf.tidy(() => {
    const tModel = _modelTimesteps(s, ts, B);
    const check = !wantFlag && (opts.checkFinite ?? true);
    const out = _callModel(what, model, xt, tModel, check, cond);
    const coef = tf.tensor2d(rows, [B, 5]);
    const noise = z ?? xt; // multiplied by σ = 0
    return {
      sample: _sampleStepKernel(xt, out, noise, coef, clip, "sample"),
      predX0: _sampleStepKernel(xt, out, noise, coef, clip, "predX0"),
      ...(wantFlag ? { finite: tf.all(tf.isFinite(out)) } : {}),
    };
  });
}
