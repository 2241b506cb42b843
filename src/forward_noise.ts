import type { Schedule } from "./schedule.ts";
import type { TimestepArg } from "./_timesteps.ts";
import { _affine } from "./_affine.ts";
import type { Tensor } from "./types.ts";

/** Arguments of {@linkcode forwardNoise}. */
export interface ForwardNoiseArgs {
  /** Clean data x0, [B, ...]. */
  x0: Tensor;
  /** Timestep: a number, or an int32 tensor [B]. */
  t: TimestepArg;
  /** Standard normal noise ε with x0's shape. */
  noise: Tensor;
}

/**
 * Samples x_t from q(x_t | x0) (q_sample):
 * x_t = √ᾱ_t · x0 + √(1 - ᾱ_t) · ε.
 *
 * @param s The schedule.
 * @param args `{ x0, t, noise }`: x0 [B, ...], t a number or int32 [B], noise like x0.
 * @returns x_t, with x0's shape.
 * @throws {RangeError} If t is out of [0, T-1] or not an integer, or noise's shape differs.
 *
 * @example Noise a batch of two 2-D points to step 500
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { forwardNoise, makeSchedule } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const x0 = tf.tensor2d([[1, 0], [0, -1]]);
 * const xt = forwardNoise(s, { x0, t: 500, noise: tf.randomNormal([2, 2]) });
 * assert.deepEqual(xt.shape, [2, 2]);
 * ```
 */
export function forwardNoise(s: Schedule, args: ForwardNoiseArgs): Tensor {
  return _affine(
    "add noise",
    s,
    args?.t,
    ["x0", args?.x0, s?.sqrtAlphasCumprod], // √ᾱ_t x0
    ["noise", args?.noise, s?.sqrtOneMinusAlphasCumprod], // √(1 - ᾱ_t) ε
  );
}
