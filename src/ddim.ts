/**
 * DDIM sampling (Song et al. 2021): a non-Markovian reverse process with the same
 * marginals, deterministic at η = 0, and ancestral-like at η = 1.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import type { EpsModel } from "./types.ts";
import { _coefFn, _readTimesteps, type TimestepArg } from "./_timesteps.ts";
import { _checkBatch, _checkSchedule } from "./_checks.ts";
import type { ReverseOptions } from "./p_mean_variance.ts";
import type { VarianceKind } from "./types.ts";
import { _pMeanVariance } from "./_reverse.ts";
import { _noiseFor } from "./_noise.ts";
import { _canFuseSampleStep } from "./_fusion.ts";
import { _fusedReverseStep } from "./_fused_step.ts";
import { _runToEnd, _sampleLoop, type SampleLoopOptions, type SampleLoopStep } from "./_loop.ts";
import type { Tensor } from "./types.ts";

/** Arguments of {@linkcode ddimSample}. */
export interface DdimSampleArgs extends Omit<ReverseOptions, "variance"> {
  /**
   * The model's variance kind: with "learnedRange" or "learned" the model outputs v beside its
   * prediction, which DDIM ignores (its σ is η's). Default "fixedSmall".
   */
  variance?: VarianceKind;
  /** The current x_t, [B, ...]. */
  xt: Tensor;
  /** Timestep: a number, or an int32 tensor [B]. */
  t: TimestepArg;
  /** η ≥ 0: 0 is deterministic DDIM, 1 has the DDPM posterior's variance (default 0). */
  eta?: number;
  /** Standard normal z, xt's shape (drawn from `seed` when absent and η > 0). */
  noise?: Tensor;
  /** Seed for z when `noise` is absent. */
  seed?: number;
}

/**
 * One DDIM step (Song et al. 2021, eq. 12), from x_t to x_{t-1} of the schedule given
 * (respace it to skip steps):
 * σ_t = η √((1 - ᾱ_{t-1}) / (1 - ᾱ_t)) √(1 - ᾱ_t / ᾱ_{t-1}),
 * x_{t-1} = √ᾱ_{t-1} x̂0 + √(1 - ᾱ_{t-1} - σ_t²) ε̂ + σ_t z, with z = 0 at t = 0,
 * where x̂0 is the (optionally clipped) predicted x0 and ε̂ the noise it implies.
 *
 * @param model The denoising model.
 * @param s The schedule (usually respaced, e.g. `respace(s, "ddim50")`).
 * @param args `{ xt, t, eta?, noise?, seed?, clipDenoised?, prediction?, checkFinite? }`.
 * @returns x_{t-1}, xt's shape.
 * @throws {RangeError} If η < 0 or not finite, t is out of range, or the model misbehaves.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { ddimSample, makeSchedule } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const model = (xt: tf.Tensor) => tf.zerosLike(xt);
 * const x = ddimSample(model, s, { xt: tf.randomNormal([4, 2]), t: 999 });
 * assert.deepEqual(x.shape, [4, 2]);
 * ```
 */
export function ddimSample(model: EpsModel, s: Schedule, args: DdimSampleArgs): Tensor {
  const what = "take a DDIM step";
  _checkSchedule(what, s);
  const xt = _checkBatch(what, "xt", args?.xt);
  const ts = _readTimesteps(what, s, args.t, xt.shape[0]);
  const { sample, predX0 } = _ddimStep(what, model, s, xt, ts, args);
  predX0.dispose();
  return sample;
}

function _checkEta(what: string, eta: unknown): number {
  const e = eta ?? 0;
  if (typeof e !== "number" || !Number.isFinite(e) || e < 0) {
    throw new RangeError(`Cannot ${what}: eta must be a finite number >= 0, got ${eta}`);
  }
  return e;
}

function _ddimStep(
  what: string,
  model: EpsModel,
  s: Schedule,
  xt: Tensor,
  ts: number | Int32Array,
  args: Omit<DdimSampleArgs, "xt" | "t">,
  stream = 0,
  wantFlag = false,
): { sample: Tensor; predX0: Tensor; finite?: Tensor } {
  const eta = _checkEta(what, args.eta);
  // σ_t = η √((1 - ᾱ_{t-1}) / (1 - ᾱ_t)) √(1 - ᾱ_t / ᾱ_{t-1})
  const sigma = (t: number) => {
    const ab = s.alphasCumprod[t], abPrev = s.alphasCumprodPrev[t];
    return eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev);
  };
  const z = eta > 0 ? _noiseFor(what, xt, "xt", args.noise, args.seed, stream) : undefined;
  try {
    if (_canFuseSampleStep(xt, args)) {
      // the same update as one WGSL program: with ε̂ = (a_t x_t - x̂0) / b_t (a = √(1/ᾱ_t),
      // b = √(1/ᾱ_t - 1)), √ᾱ_{t-1} x̂0 + d_t ε̂ = (√ᾱ_{t-1} - d_t / b_t) x̂0 + (d_t a_t / b_t) x_t
      // where d_t = √(1 - ᾱ_{t-1} - σ_t²)
      return _fusedReverseStep(what, model, s, xt, ts, args, z?.noise, wantFlag, (t) => {
        const d = Math.sqrt(Math.max(1 - s.alphasCumprodPrev[t] - sigma(t) ** 2, 0));
        const [a, b] = [s.sqrtRecipAlphasCumprod[t], s.sqrtRecipm1AlphasCumprod[t]];
        return [Math.sqrt(s.alphasCumprodPrev[t]) - d / b, (d * a) / b, t === 0 ? 0 : sigma(t)];
      });
    }
    return tf.tidy(() => {
      const p = _pMeanVariance(what, model, s, xt, ts, args, wantFlag);
      const r = xt.rank;
      // √ᾱ_{t-1} x̂0 + √(1 - ᾱ_{t-1} - σ_t²) ε̂
      let sample = tf.add(
        tf.mul(_coefFn((t) => Math.sqrt(s.alphasCumprodPrev[t]), ts, r), p.predX0),
        tf.mul(
          _coefFn((t) => Math.sqrt(Math.max(1 - s.alphasCumprodPrev[t] - sigma(t) ** 2, 0)), ts, r),
          p.eps,
        ),
      );
      if (z) {
        // + σ_t z, with z = 0 at t = 0
        sample = tf.add(sample, tf.mul(_coefFn((t) => (t === 0 ? 0 : sigma(t)), ts, r), z.noise));
      }
      return { sample, predX0: p.predX0, finite: p.finite };
    });
  } finally {
    if (z?.owned) z.noise.dispose();
  }
}

/**
 * Runs DDIM from x_T ~ N(0, I) over every step of the schedule given, yielding each new
 * sample and x̂0 (tensors the caller owns and disposes).
 *
 * @param model The denoising model.
 * @param s The schedule (usually respaced, e.g. `respace(s, "ddim50")`).
 * @param opts `{ shape, eta?, noise?, seed?, clipDenoised?, prediction?, onStep?, rows? }`.
 * @returns A generator of `{ t, sample, predX0 }`, from t = T-1 down to 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { ddimSampleLoopProgressive, makeSchedule, respace } from "@ddpm/core";
 * const s = respace(makeSchedule({ kind: "linear", T: 1000 }), "ddim10");
 * const model = (xt: tf.Tensor) => tf.zerosLike(xt);
 * let steps = 0;
 * for await (const { sample, predX0 } of ddimSampleLoopProgressive(model, s, { shape: [1, 2] })) {
 *   steps++;
 *   tf.dispose([sample, predX0]);
 * }
 * assert.equal(steps, 10);
 * ```
 */
export function ddimSampleLoopProgressive(
  model: EpsModel,
  s: Schedule,
  opts: SampleLoopOptions & { eta?: number },
): AsyncGenerator<SampleLoopStep, void, undefined> {
  const what = "sample with DDIM";
  _checkEta(what, opts?.eta);
  return _sampleLoop(
    what,
    s,
    opts,
    (xt, t, seed, stream, wantFlag, noise, classes) =>
      _ddimStep(
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
 * Runs DDIM over every step of the schedule given and returns x_0.
 *
 * @param model The denoising model.
 * @param s The schedule (usually respaced, e.g. `respace(s, "ddim50")`).
 * @param opts `{ shape, eta?, noise?, seed?, clipDenoised?, prediction?, onStep?, rows? }`.
 * @returns The samples, of `shape`.
 *
 * @example 50 deterministic DDIM steps
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { ddimSampleLoop, makeSchedule, respace } from "@ddpm/core";
 * const s = respace(makeSchedule({ kind: "linear", T: 1000 }), "ddim50");
 * const model = (xt: tf.Tensor) => tf.zerosLike(xt);
 * const x0 = await ddimSampleLoop(model, s, { shape: [4, 2], eta: 0, seed: 3 });
 * assert.deepEqual(x0.shape, [4, 2]);
 * ```
 */
export async function ddimSampleLoop(
  model: EpsModel,
  s: Schedule,
  opts: SampleLoopOptions & { eta?: number },
): Promise<Tensor> {
  return await _runToEnd(ddimSampleLoopProgressive(model, s, opts));
}
