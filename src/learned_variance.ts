import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import { _readTimesteps, type TimestepArg } from "./_timesteps.ts";
import { _checkBatch, _checkSchedule } from "./_checks.ts";
import { _learnedLogVariance } from "./_formulas.ts";
import type { Tensor } from "./types.ts";

/** Arguments of {@linkcode learnedLogVariance}. */
export interface LearnedLogVarianceArgs {
  /** The model's variance output v, [B, ...] (the second half of its channels). */
  v: Tensor;
  /** Timestep: a number, or an int32 tensor [B]. */
  t: TimestepArg;
  /** How v is read (default "learnedRange"). */
  kind?: "learnedRange" | "learned";
}

/**
 * The learned reverse-process log variance log Σ_θ(x_t, t) of Improved DDPM (Nichol & Dhariwal
 * 2021, eq. 15), from the model's variance output v:
 * - "learnedRange": log σ² = f·log β_t + (1 − f)·log β̃_t with f = (v + 1) / 2, so v = 1 gives
 *   β_t (fixedLarge, at t ≥ 1) and v = −1 gives β̃_t (fixedSmall; log β̃ clipped at t = 0);
 * - "learned": log σ² = v.
 *
 * A model with a learned variance outputs twice the channels of x_t: the prediction (ε, x0 or v
 * of the parameterization), then v. Pass `variance: "learnedRange"` to the samplers and the bound
 * and they read it so (DDIM and DPM-Solver++ use only the first half).
 *
 * @param s The schedule.
 * @param args `{ v, t, kind? }`.
 * @returns log σ², v's shape.
 * @throws {RangeError} If t is out of [0, T-1], or kind is not one of the two.
 *
 * @example v = ±1 gives the two fixed variances
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { learnedLogVariance, makeSchedule } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const [large, small] = [1, -1].map((v) =>
 *   learnedLogVariance(s, { v: tf.fill([1, 2], v), t: 500 }).dataSync()[0]
 * );
 * assert.ok(Math.abs(large - Math.log(s.betas[500])) < 1e-5);
 * assert.ok(Math.abs(small - s.posteriorLogVarianceClipped[500]) < 1e-5);
 * ```
 */
export function learnedLogVariance(s: Schedule, args: LearnedLogVarianceArgs): Tensor {
  const what = "compute the learned variance";
  _checkSchedule(what, s);
  const v = _checkBatch(what, "v", args?.v);
  const ts = _readTimesteps(what, s, args.t, v.shape[0]);
  const kind = args.kind ?? "learnedRange";
  if (kind !== "learnedRange" && kind !== "learned") {
    throw new RangeError(
      `Cannot ${what}: kind must be "learnedRange" or "learned", got ${JSON.stringify(kind)}`,
    );
  }
  return tf.tidy(() => _learnedLogVariance(s, kind, v, ts));
}
