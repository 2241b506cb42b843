/**
 * Noise schedules: the float64 tables of Ho et al. 2020, computed once from the betas.
 *
 * @module
 */

import { _scheduleFromBetas } from "./_schedule_tables.ts";

/** Names of the built-in β schedules. */
export type ScheduleKind = "linear" | "cosine" | "quadratic" | "sigmoid";

/** What {@linkcode makeSchedule} accepts: a named kind with T steps, or explicit betas. */
export type ScheduleSpec = { kind: ScheduleKind; T: number } | {
  betas: ArrayLike<number>;
};

/**
 * The diffusion schedule: every per-timestep constant the closed forms need, as float64
 * tables of length T indexed by t = 0 … T-1 (index t is the paper's step t+1).
 */
export interface Schedule {
  /** Number of diffusion steps T. */
  readonly T: number;
  /** Where the betas came from: a kind, "explicit", or "respaced". */
  readonly kind: ScheduleKind | "explicit" | "respaced";
  /** β_t, the variance of q(x_t | x_{t-1}). */
  readonly betas: Float64Array;
  /** α_t = 1 - β_t. */
  readonly alphas: Float64Array;
  /** ᾱ_t = ∏_{s ≤ t} α_s. */
  readonly alphasCumprod: Float64Array;
  /** ᾱ_{t-1}, with ᾱ_{-1} = 1. */
  readonly alphasCumprodPrev: Float64Array;
  /** √ᾱ_t. */
  readonly sqrtAlphasCumprod: Float64Array;
  /** √(1 - ᾱ_t). */
  readonly sqrtOneMinusAlphasCumprod: Float64Array;
  /** log(1 - ᾱ_t). */
  readonly logOneMinusAlphasCumprod: Float64Array;
  /** 1 / √ᾱ_t. */
  readonly sqrtRecipAlphasCumprod: Float64Array;
  /** √(1/ᾱ_t - 1). */
  readonly sqrtRecipm1AlphasCumprod: Float64Array;
  /** β̃_t = β_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t), the variance of q(x_{t-1} | x_t, x0). */
  readonly posteriorVariance: Float64Array;
  /** log β̃_t with β̃_0 (= 0) replaced by β̃_1, as improved-diffusion clips it. */
  readonly posteriorLogVarianceClipped: Float64Array;
  /** Coefficient of x0 in μ̃_t: β_t √ᾱ_{t-1} / (1 - ᾱ_t). */
  readonly posteriorMeanCoef1: Float64Array;
  /** Coefficient of x_t in μ̃_t: (1 - ᾱ_{t-1}) √α_t / (1 - ᾱ_t). */
  readonly posteriorMeanCoef2: Float64Array;
  /**
   * The timestep index the ε-model is called with at each t: the identity, or for a
   * respaced schedule the index of the kept step in the original schedule.
   */
  readonly timestepMap: Int32Array;
}

const _LINEAR_START = 1e-4;
const _LINEAR_END = 0.02;
const _COSINE_S = 0.008;
const _COSINE_MAX_BETA = 0.999;

/**
 * Makes a diffusion schedule from a named kind or from explicit betas.
 *
 * Kinds (β_t for t = 0 … T-1, with scale = 1000 / T as improved-diffusion does, so that
 * every T spans the same noise range as T = 1000):
 * - `linear`: β_t = linspace(scale·1e-4, scale·0.02, T)
 * - `quadratic`: β_t = linspace(√(scale·1e-4), √(scale·0.02), T)²
 * - `sigmoid`: β_t = sigmoid(linspace(-6, 6, T)) · (scale·0.02 - scale·1e-4) + scale·1e-4
 * - `cosine` (Nichol & Dhariwal 2021): ᾱ(u) = cos²(((u/T + s)/(1 + s)) · π/2), s = 0.008,
 *   β_t = min(1 - ᾱ(t+1)/ᾱ(t), 0.999)
 *
 * @param spec `{ kind, T }` or `{ betas }`.
 * @returns The schedule with all its float64 tables.
 * @throws {RangeError} If T is not an integer ≥ 1, or a beta is not finite and in (0, 1).
 *
 * @example Build the paper's schedule and read ᾱ at the last step
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * assert.ok(Math.abs(s.alphasCumprod[999] - 4.04e-5) < 1e-6);
 * ```
 */
export function makeSchedule(spec: ScheduleSpec): Schedule {
  if (spec === null || typeof spec !== "object") {
    throw new TypeError(
      `Cannot make schedule: spec must be { kind, T } or { betas }, got ${spec}`,
    );
  }
  if ("betas" in spec) {
    return _scheduleFromBetas(_toBetas(spec.betas), "explicit");
  }
  const { kind, T } = spec;
  if (!Number.isInteger(T) || T < 1) {
    throw new RangeError(
      `Cannot make schedule: T must be an integer >= 1, got ${T}`,
    );
  }
  const scale = 1000 / T;
  const start = scale * _LINEAR_START;
  const end = scale * _LINEAR_END;
  const betas = new Float64Array(T);
  switch (kind) {
    case "linear":
      for (let t = 0; t < T; t++) betas[t] = _linspace(start, end, T, t);
      break;
    case "quadratic":
      for (let t = 0; t < T; t++) {
        betas[t] = _linspace(Math.sqrt(start), Math.sqrt(end), T, t) ** 2;
      }
      break;
    case "sigmoid":
      for (let t = 0; t < T; t++) {
        const u = _linspace(-6, 6, T, t);
        betas[t] = (1 / (1 + Math.exp(-u))) * (end - start) + start;
      }
      break;
    case "cosine": {
      // ᾱ(u) = cos²(((u/T + s)/(1 + s)) · π/2)
      const abar = (u: number) =>
        Math.cos(((u / T + _COSINE_S) / (1 + _COSINE_S)) * Math.PI / 2) ** 2;
      for (let t = 0; t < T; t++) {
        betas[t] = Math.min(1 - abar(t + 1) / abar(t), _COSINE_MAX_BETA);
      }
      break;
    }
    default:
      throw new RangeError(
        `Cannot make schedule: kind must be one of linear, cosine, quadratic, sigmoid, got ${
          JSON.stringify(kind)
        }`,
      );
  }
  _checkBetas(betas, kind, T);
  return _scheduleFromBetas(betas, kind);
}

/** linspace(a, b, n)[i], exact at both ends. */
function _linspace(a: number, b: number, n: number, i: number): number {
  if (n === 1) return a;
  return i === n - 1 ? b : a + (b - a) * (i / (n - 1));
}

function _toBetas(betas: ArrayLike<number>): Float64Array {
  if (betas === null || typeof betas !== "object" || !("length" in betas)) {
    throw new TypeError(
      `Cannot make schedule: betas must be an array of numbers, got ${betas}`,
    );
  }
  const out = Float64Array.from(betas);
  _checkBetas(out, "explicit", out.length);
  return out;
}

function _checkBetas(betas: Float64Array, kind: string, T: number): void {
  if (betas.length === 0) {
    throw new RangeError("Cannot make schedule: betas must not be empty");
  }
  for (let t = 0; t < betas.length; t++) {
    const b = betas[t];
    if (!Number.isFinite(b) || b <= 0 || b >= 1) {
      const hint = kind === "explicit"
        ? ""
        : ` (the ${kind} kind scales its β range by 1000/T = ${
          1000 / T
        }; use a larger T or explicit betas)`;
      throw new RangeError(
        `Cannot make schedule: betas must be finite and in (0, 1), got betas[${t}] = ${b}${hint}`,
      );
    }
  }
}
