/**
 * Conversions between the three things a model may predict: the noise ε, the clean data
 * x0, and the velocity v = √ᾱ_t ε - √(1 - ᾱ_t) x0 (Salimans & Ho 2022). Given x_t, any
 * one of them determines the other two.
 *
 * @module
 */
import type { Schedule } from "./schedule.ts";
import type { TimestepArg } from "./_timesteps.ts";
import { _affine } from "./_affine.ts";
import { _negated } from "./_formulas.ts";
import type { Tensor } from "./types.ts";

/**
 * x0 from ε: x0 = √(1/ᾱ_t) · x_t - √(1/ᾱ_t - 1) · ε.
 *
 * @param s The schedule.
 * @param args `{ xt, t, eps }`.
 * @returns The predicted x0, xt's shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, predictX0FromEps } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const x0 = predictX0FromEps(s, { xt: tf.ones([1, 2]), t: 0, eps: tf.zeros([1, 2]) });
 * for (const v of x0.dataSync()) assert.ok(Math.abs(v - 1.00005) < 1e-6); // 1/√ᾱ_0
 * ```
 */
export function predictX0FromEps(
  s: Schedule,
  args: { xt: Tensor; t: TimestepArg; eps: Tensor },
): Tensor {
  return _affine(
    "predict x0 from eps",
    s,
    args?.t,
    ["xt", args?.xt, s?.sqrtRecipAlphasCumprod], // √(1/ᾱ_t) x_t
    ["eps", args?.eps, s?.sqrtRecipm1AlphasCumprod?.map((c) => -c)], // -√(1/ᾱ_t - 1) ε
  );
}

/**
 * ε from x0: ε = (√(1/ᾱ_t) · x_t - x0) / √(1/ᾱ_t - 1).
 *
 * @param s The schedule.
 * @param args `{ xt, t, x0 }`.
 * @returns The implied ε, xt's shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, predictEpsFromX0 } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const eps = predictEpsFromX0(s, { xt: tf.ones([1, 2]), t: 999, x0: tf.zeros([1, 2]) });
 * assert.deepEqual(eps.shape, [1, 2]);
 * ```
 */
export function predictEpsFromX0(
  s: Schedule,
  args: { xt: Tensor; t: TimestepArg; x0: Tensor },
): Tensor {
  const r = s?.sqrtRecipm1AlphasCumprod;
  return _affine(
    "predict eps from x0",
    s,
    args?.t,
    ["xt", args?.xt, s?.sqrtRecipAlphasCumprod?.map((c, t) => c / r[t])], // √(1/ᾱ)/√(1/ᾱ-1) x_t
    ["x0", args?.x0, r?.map((c) => -1 / c)], // -x0/√(1/ᾱ-1)
  );
}

/**
 * v from x0 and ε: v = √ᾱ_t · ε - √(1 - ᾱ_t) · x0.
 *
 * @param s The schedule.
 * @param args `{ x0, eps, t }`.
 * @returns v, x0's shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, predictV } from "@ddpm/core";
 * const s = makeSchedule({ kind: "cosine", T: 1000 });
 * const v = predictV(s, { x0: tf.ones([1, 2]), eps: tf.zeros([1, 2]), t: 500 });
 * assert.deepEqual(v.shape, [1, 2]);
 * ```
 */
export function predictV(
  s: Schedule,
  args: { x0: Tensor; eps: Tensor; t: TimestepArg },
): Tensor {
  return _affine(
    "predict v",
    s,
    args?.t,
    ["eps", args?.eps, s?.sqrtAlphasCumprod], // √ᾱ_t ε
    ["x0", args?.x0, s?.sqrtOneMinusAlphasCumprod && _negated(s.sqrtOneMinusAlphasCumprod)], // -√(1-ᾱ_t) x0
  );
}

/**
 * x0 from v: x0 = √ᾱ_t · x_t - √(1 - ᾱ_t) · v.
 *
 * @param s The schedule.
 * @param args `{ xt, t, v }`.
 * @returns The predicted x0, xt's shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, predictX0FromV } from "@ddpm/core";
 * const s = makeSchedule({ kind: "cosine", T: 1000 });
 * const x0 = predictX0FromV(s, { xt: tf.ones([1, 2]), t: 500, v: tf.zeros([1, 2]) });
 * assert.deepEqual(x0.shape, [1, 2]);
 * ```
 */
export function predictX0FromV(
  s: Schedule,
  args: { xt: Tensor; t: TimestepArg; v: Tensor },
): Tensor {
  return _affine(
    "predict x0 from v",
    s,
    args?.t,
    ["xt", args?.xt, s?.sqrtAlphasCumprod], // √ᾱ_t x_t
    ["v", args?.v, s?.sqrtOneMinusAlphasCumprod?.map((c) => -c)], // -√(1-ᾱ_t) v
  );
}

/**
 * ε from v: ε = √(1 - ᾱ_t) · x_t + √ᾱ_t · v.
 *
 * @param s The schedule.
 * @param args `{ xt, t, v }`.
 * @returns The implied ε, xt's shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, predictEpsFromV } from "@ddpm/core";
 * const s = makeSchedule({ kind: "cosine", T: 1000 });
 * const eps = predictEpsFromV(s, { xt: tf.ones([1, 2]), t: 500, v: tf.zeros([1, 2]) });
 * assert.deepEqual(eps.shape, [1, 2]);
 * ```
 */
export function predictEpsFromV(
  s: Schedule,
  args: { xt: Tensor; t: TimestepArg; v: Tensor },
): Tensor {
  return _affine(
    "predict eps from v",
    s,
    args?.t,
    ["xt", args?.xt, s?.sqrtOneMinusAlphasCumprod], // √(1-ᾱ_t) x_t
    ["v", args?.v, s?.sqrtAlphasCumprod], // √ᾱ_t v
  );
}
