/**
 * DPM-Solver++ (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
 * Probabilistic Models"): the multistep solver of the probability-flow ODE in its
 * data-prediction form, 1st, 2nd (the paper's Algorithm 2, "2M") and 3rd order ("3M", as
 * diffusers implements it).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import type { EpsModel, Tensor } from "./types.ts";
import { _checkVariance, _predictX0 } from "./_reverse.ts";
import { _runToEnd, _sampleLoop, type SampleLoopOptions, type SampleLoopStep } from "./_loop.ts";

/** Options of the DPM-Solver++ loops: the sampling options and the solver's order. */
export interface DpmSolverOptions extends SampleLoopOptions {
  /**
   * The solver's order (default 2): 1 is DDIM with η = 0; 2 and 3 use the last 1 or 2
   * predictions of x0. The first steps use a lower order until there is enough history, and with
   * fewer than 15 steps the second-to-last step uses at most order 2 (diffusers'
   * `lower_order_final`); the last step returns the predicted x0.
   */
  order?: 1 | 2 | 3;
}

/**
 * One DPM-Solver++ update from s0 to t in the data-prediction form (λ = log(α/σ), α = √ᾱ,
 * σ = √(1-ᾱ), h = λ_t − λ_s0, φ = e^{−h} − 1), given the x̂0 predictions m0 (at s0), m1 (at
 * s1) and m2 (at s2), newest first:
 * - order 1: x_t = (σ_t/σ_s0) x − α_t φ m0                                    (= DDIM, η = 0)
 * - order 2: D1 = (m0 − m1)/r0 with r0 = (λ_s0 − λ_s1)/h;
 *            x_t = (σ_t/σ_s0) x − α_t φ m0 − ½ α_t φ D1                 (Algorithm 2, midpoint)
 * - order 3: r1 = (λ_s1 − λ_s2)/h, D1_0 = (m0 − m1)/r0, D1_1 = (m1 − m2)/r1,
 *            D1 = D1_0 + r0/(r0 + r1) (D1_0 − D1_1), D2 = (D1_0 − D1_1)/(r0 + r1);
 *            x_t = (σ_t/σ_s0) x − α_t φ m0 + α_t (φ/h + 1) D1 − α_t ((φ + h)/h² − ½) D2
 * Returns the coefficients of x and of m0, m1, m2 (a linear combination; float64 on the host).
 */
function _dpmSolverCoefficients(
  lambdas: { t: number; s0: number; s1?: number; s2?: number },
  alphaT: number,
  sigmaRatio: number,
  order: 1 | 2 | 3,
): { x: number; m: number[] } {
  const h = lambdas.t - lambdas.s0;
  const phi = Math.expm1(-h); // e^{−h} − 1, exact for small h
  const c0 = -alphaT * phi;
  if (order === 1) return { x: sigmaRatio, m: [c0] };
  const r0 = (lambdas.s0 - lambdas.s1!) / h;
  if (order === 2) {
    // − ½ α_t φ (m0 − m1)/r0
    const c = -0.5 * alphaT * phi / r0;
    return { x: sigmaRatio, m: [c0 + c, -c] };
  }
  const r1 = (lambdas.s1! - lambdas.s2!) / h;
  // D1_0 = (m0 − m1)/r0, D1_1 = (m1 − m2)/r1; D1 = D1_0 + k (D1_0 − D1_1), D2 = (D1_0 − D1_1)/(r0+r1)
  const k = r0 / (r0 + r1);
  const a = alphaT * (phi / h + 1); // coefficient of D1
  const b = -alphaT * ((phi + h) / (h * h) - 0.5); // coefficient of D2
  // in terms of D1_0 and D1_1: D1 = (1 + k) D1_0 − k D1_1; D2 = (D1_0 − D1_1)/(r0 + r1)
  const d10 = a * (1 + k) + b / (r0 + r1);
  const d11 = -a * k - b / (r0 + r1);
  // D1_0 = (m0 − m1)/r0, D1_1 = (m1 − m2)/r1
  return {
    x: sigmaRatio,
    m: [c0 + d10 / r0, -d10 / r0 + d11 / r1, -d11 / r1],
  };
}

/** λ_t = log(α_t / σ_t) = ½ log(ᾱ_t / (1 − ᾱ_t)). */
function _lambda(abar: number): number {
  return 0.5 * (Math.log(abar) - Math.log1p(-abar));
}

function _checkOrder(what: string, order: unknown): 1 | 2 | 3 {
  const o = order ?? 2;
  if (o !== 1 && o !== 2 && o !== 3) {
    throw new RangeError(`Cannot ${what}: order must be 1, 2 or 3, got ${order}`);
  }
  return o;
}

/**
 * Runs DPM-Solver++ over every step of the schedule given (respace it first, e.g.
 * `respace(s, "logsnr20")`), yielding each new sample and x̂0 (tensors the caller owns). One
 * model call per step; deterministic (no noise after x_T).
 *
 * @param model The denoising model.
 * @param s The schedule (usually respaced: "logsnrN" is Lu et al.'s choice).
 * @param opts `{ shape, order?, noise?, seed?, clipDenoised?, dynamicThreshold?, prediction?,
 *   classes?, guidanceScale?, onStep?, rows? }`.
 * @returns A generator of `{ t, sample, predX0 }`, from t = T-1 down to 0.
 * @throws {RangeError} If the order is not 1, 2 or 3 (and as the other sampling loops).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { dpmSolverSampleLoopProgressive, makeSchedule, respace } from "@ddpm/core";
 * const s = respace(makeSchedule({ kind: "linear", T: 1000 }), "logsnr10");
 * let steps = 0;
 * for await (const { sample, predX0 } of dpmSolverSampleLoopProgressive(
 *   (xt) => tf.zerosLike(xt), s, { shape: [1, 2], seed: 0 },
 * )) {
 *   steps++;
 *   tf.dispose([sample, predX0]);
 * }
 * assert.equal(steps, 10);
 * ```
 */
export function dpmSolverSampleLoopProgressive(
  model: EpsModel,
  s: Schedule,
  opts: DpmSolverOptions,
): AsyncGenerator<SampleLoopStep, void, undefined> {
  const what = "sample with DPM-Solver++";
  const order = _checkOrder(what, opts?.order);
  // the ODE solver uses the mean's part only; a learned variance's v is read and ignored
  _checkVariance(what, opts?.variance);
  // newest first: the x̂0 of the last steps and their λ
  const history: { m: Tensor; lambda: number }[] = [];
  return _sampleLoop(
    what,
    s,
    opts,
    (xt, t, _seed, _stream, wantFlag, _noise, classes) => {
      const p = _predictX0(
        what,
        model,
        s,
        xt,
        t,
        { ...opts, classes, checkFinite: false },
        wantFlag,
      );
      const abar = s.alphasCumprod[t], abarPrev = s.alphasCumprodPrev[t];
      const lambda = _lambda(abar);
      history.unshift({ m: p.predX0, lambda });
      let sample: Tensor;
      if (t === 0 || abarPrev >= 1) {
        sample = tf.clone(p.predX0); // σ = 0 at the end: x = x̂0 (the first-order limit)
      } else {
        let k = Math.min(order, history.length) as 1 | 2 | 3;
        if (s.T < 15 && t === 1) k = Math.min(k, 2) as 1 | 2; // lower_order_final
        const c = _dpmSolverCoefficients(
          { t: _lambda(abarPrev), s0: lambda, s1: history[1]?.lambda, s2: history[2]?.lambda },
          Math.sqrt(abarPrev),
          Math.sqrt((1 - abarPrev) / (1 - abar)),
          k,
        );
        sample = tf.tidy(() =>
          c.m.reduce((acc, cm, j) => tf.add(acc, tf.mul(cm, history[j].m)), tf.mul(c.x, xt))
        );
      }
      // keep what the next steps need (order − 1 predictions besides the newest)
      while (history.length > order) history.pop()!.m.dispose();
      return { sample, predX0: tf.clone(p.predX0), finite: p.finite };
    },
    () => {
      history.forEach((h) => h.m.dispose());
      history.length = 0;
    },
  );
}

/**
 * Runs DPM-Solver++ over every step of the schedule given and returns x_0 (the predicted x0 at
 * the last kept step).
 *
 * @param model The denoising model.
 * @param s The schedule (usually respaced, e.g. `respace(s, "logsnr20")`).
 * @param opts `{ shape, order?, noise?, seed?, clipDenoised?, dynamicThreshold?, prediction?,
 *   classes?, guidanceScale?, onStep?, rows? }`.
 * @returns The samples, of `shape`.
 *
 * @example 20 model calls of DPM-Solver++ 2M
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { dpmSolverSampleLoop, makeSchedule, respace } from "@ddpm/core";
 * const s = respace(makeSchedule({ kind: "linear", T: 1000 }), "logsnr20");
 * const x0 = await dpmSolverSampleLoop((xt) => tf.zerosLike(xt), s, { shape: [4, 2], seed: 3 });
 * assert.deepEqual(x0.shape, [4, 2]);
 * ```
 */
export async function dpmSolverSampleLoop(
  model: EpsModel,
  s: Schedule,
  opts: DpmSolverOptions,
): Promise<Tensor> {
  return await _runToEnd(dpmSolverSampleLoopProgressive(model, s, opts));
}
