import type { Schedule } from "./schedule.ts";
import type { EpsModel } from "./types.ts";
import { _runToEnd, _sampleLoop, type SampleLoopOptions, type SampleLoopStep } from "./_loop.ts";
import type { Tensor } from "./types.ts";
import { _pSampleStep } from "./_p_sample_step.ts";

/**
 * Runs the whole ancestral chain (Algorithm 2) from x_T ~ N(0, I) down to x_0, yielding
 * each step's new sample x_{t-1} and predicted x̂0. Every yielded tensor belongs to the
 * caller, who disposes it.
 *
 * @param model The denoising model.
 * @param s The schedule (a respaced one samples on its kept steps).
 * @param opts `{ shape, noise?, seed?, variance?, clipDenoised?, prediction?, onStep?, rows? }`.
 * @returns A generator of `{ t, sample, predX0 }`, from t = T-1 down to 0.
 *
 * @example Watch x̂0 while sampling a 10-step chain
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, pSampleLoopProgressive } from "@ddpm/core";
 * const s = makeSchedule({ betas: new Array(10).fill(0.1) });
 * const model = (xt: tf.Tensor) => tf.mul(xt, 0.5);
 * for await (const { t, sample, predX0 } of pSampleLoopProgressive(model, s, { shape: [2, 2], seed: 0 })) {
 *   if (t === 0) console.log(sample.shape); // [2, 2]
 *   tf.dispose([sample, predX0]);
 * }
 * ```
 */
export function pSampleLoopProgressive(
  model: EpsModel,
  s: Schedule,
  opts: SampleLoopOptions,
): AsyncGenerator<SampleLoopStep, void, undefined> {
  const what = "sample";
  return _sampleLoop(
    what,
    s,
    opts,
    (xt, t, seed, stream, wantFlag, noise, classes) =>
      _pSampleStep(
        what,
        model,
        s,
        xt,
        t,
        { ...opts, classes, noise, seed, checkFinite: false },
        stream,
        wantFlag,
      ),
  );
}

/**
 * Runs the whole ancestral chain (Algorithm 2) and returns x_0: x_T ~ N(0, I), then
 * x_{t-1} = μ_θ(x_t, t) + σ_t z for t = T-1 … 0.
 *
 * @param model The denoising model.
 * @param s The schedule (a respaced one samples on its kept steps).
 * @param opts `{ shape, noise?, seed?, variance?, clipDenoised?, prediction?, onStep?, rows? }`.
 * @returns A promise of the samples, of `shape`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, pSampleLoop } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 50 });
 * const model = (xt: tf.Tensor) => tf.zerosLike(xt);
 * const x0 = await pSampleLoop(model, s, { shape: [8, 2], seed: 42 });
 * assert.deepEqual(x0.shape, [8, 2]);
 * ```
 */
export async function pSampleLoop(
  model: EpsModel,
  s: Schedule,
  opts: SampleLoopOptions,
): Promise<Tensor> {
  return await _runToEnd(pSampleLoopProgressive(model, s, opts));
}
