// Internal: every table of a schedule from its β — the one place the schedule's closed forms
// (ᾱ, the posterior's variance and mean coefficients, …) are written; makeSchedule and respace
// build on it.
import type { Schedule } from "./schedule.ts";

/**
 * Builds all tables from β (and, for respaced schedules, the exact ᾱ to keep).
 */
export function _scheduleFromBetas(
  betas: Float64Array,
  kind: Schedule["kind"],
  exactAlphasCumprod?: Float64Array,
  timestepMap?: Int32Array,
): Schedule {
  const T = betas.length;
  const f = () => new Float64Array(T);
  const alphas = f(), alphasCumprod = f(), alphasCumprodPrev = f();
  const sqrtAlphasCumprod = f(), sqrtOneMinusAlphasCumprod = f();
  const logOneMinusAlphasCumprod = f(), sqrtRecipAlphasCumprod = f();
  const sqrtRecipm1AlphasCumprod = f(), posteriorVariance = f();
  const posteriorLogVarianceClipped = f(), posteriorMeanCoef1 = f();
  const posteriorMeanCoef2 = f();
  let prod = 1;
  for (let t = 0; t < T; t++) {
    alphas[t] = 1 - betas[t]; // α_t = 1 - β_t
    alphasCumprodPrev[t] = prod; // ᾱ_{t-1}, ᾱ_{-1} = 1
    prod = exactAlphasCumprod ? exactAlphasCumprod[t] : prod * alphas[t];
    alphasCumprod[t] = prod; // ᾱ_t = ∏ α_s
  }
  for (let t = 0; t < T; t++) {
    const ab = alphasCumprod[t], abPrev = alphasCumprodPrev[t];
    sqrtAlphasCumprod[t] = Math.sqrt(ab); // √ᾱ_t
    sqrtOneMinusAlphasCumprod[t] = Math.sqrt(1 - ab); // √(1 - ᾱ_t)
    logOneMinusAlphasCumprod[t] = Math.log(1 - ab); // log(1 - ᾱ_t)
    sqrtRecipAlphasCumprod[t] = Math.sqrt(1 / ab); // 1/√ᾱ_t
    sqrtRecipm1AlphasCumprod[t] = Math.sqrt(1 / ab - 1); // √(1/ᾱ_t - 1)
    // β̃_t = β_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t)
    posteriorVariance[t] = betas[t] * (1 - abPrev) / (1 - ab);
    // μ̃_t = coef1 · x0 + coef2 · x_t
    posteriorMeanCoef1[t] = betas[t] * Math.sqrt(abPrev) / (1 - ab);
    posteriorMeanCoef2[t] = (1 - abPrev) * Math.sqrt(alphas[t]) / (1 - ab);
  }
  // log β̃_t clipped: β̃_0 = 0, so use β̃_1 there (β_0 when T = 1).
  for (let t = 0; t < T; t++) {
    const v = t === 0 ? (T > 1 ? posteriorVariance[1] : betas[0]) : posteriorVariance[t];
    posteriorLogVarianceClipped[t] = Math.log(v);
  }
  const map = timestepMap ?? Int32Array.from({ length: T }, (_, t) => t);
  return Object.freeze({
    T,
    kind,
    betas,
    alphas,
    alphasCumprod,
    alphasCumprodPrev,
    sqrtAlphasCumprod,
    sqrtOneMinusAlphasCumprod,
    logOneMinusAlphasCumprod,
    sqrtRecipAlphasCumprod,
    sqrtRecipm1AlphasCumprod,
    posteriorVariance,
    posteriorLogVarianceClipped,
    posteriorMeanCoef1,
    posteriorMeanCoef2,
    timestepMap: map,
  });
}
