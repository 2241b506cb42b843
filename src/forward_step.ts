import type { Schedule } from "./schedule.ts";
import type { TimestepArg } from "./_timesteps.ts";
import { _affine } from "./_affine.ts";
import type { Tensor } from "./types.ts";

/** Arguments of {@linkcode forwardStep}. */
export interface ForwardStepArgs {
  /** x_{t-1}, [B, ...] (x0 when t = 0). */
  xPrev: Tensor;
  /** Timestep: a number, or an int32 tensor [B]. */
  t: TimestepArg;
  /** Standard normal noise ε with xPrev's shape. */
  noise: Tensor;
}

/**
 * Takes one forward step, sampling q(x_t | x_{t-1}) = N(√α_t x_{t-1}, β_t I):
 * x_t = √(1 - β_t) · x_{t-1} + √β_t · ε.
 *
 * @param s The schedule.
 * @param args `{ xPrev, t, noise }`.
 * @returns x_t, with xPrev's shape.
 * @throws {RangeError} If t is out of [0, T-1] or noise's shape differs.
 *
 * @example One step of noise from x0
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { forwardStep, makeSchedule } from "@ddpm/core";
 * const s = makeSchedule({ kind: "cosine", T: 100 });
 * const x1 = forwardStep(s, { xPrev: tf.ones([4, 2]), t: 0, noise: tf.randomNormal([4, 2]) });
 * assert.deepEqual(x1.shape, [4, 2]);
 * ```
 */
export function forwardStep(s: Schedule, args: ForwardStepArgs): Tensor {
  return _affine(
    "take a forward step",
    s,
    args?.t,
    ["xPrev", args?.xPrev, s?.alphas?.map(Math.sqrt)], // √α_t x_{t-1}
    ["noise", args?.noise, s?.betas?.map(Math.sqrt)], // √β_t ε
  );
}
