/**
 * Class labels and classifier-free guidance (Ho & Salimans 2022).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor, Tensor1D } from "./types.ts";
import { _checkGuidanceScale, _guide } from "./_guidance.ts";

/**
 * The label of the unconditional branch ("no class", ∅): a conditional ε-model called with
 * `y[i] = NULL_CLASS` predicts ε(x, ∅) for example i. The U-Net maps it to its extra learned
 * null-class embedding; the trainer's class dropout writes it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NULL_CLASS } from "@ddpm/core";
 * assert.equal(NULL_CLASS, -1);
 * ```
 */
export const NULL_CLASS: -1 = -1;

/** Class labels: one integer per example, in [0, numClasses) or {@linkcode NULL_CLASS}. */
export type ClassLabels = Tensor1D | ArrayLike<number>;

/** The conditioning options every loss and sampler accepts. */
export interface GuidanceOptions {
  /**
   * The class of each example, int32 [B] (or an array of B integers; {@linkcode NULL_CLASS}
   * for "no class"). Absent: the model is called without labels (unconditional).
   */
  classes?: ClassLabels;
  /**
   * Classifier-free guidance scale w (default 1, the plain conditional model):
   * ε̃ = ε(x, ∅) + w·(ε(x, y) − ε(x, ∅)); 0 gives the unconditional model. Needs `classes`.
   */
  guidanceScale?: number;
  /**
   * Guidance in a limited interval (Kynkäänniemi et al. 2024): the scale applies only at model
   * timesteps lo ≤ t ≤ hi (the schedule's original timesteps, so the same interval holds for
   * every respacing); at the other steps the conditional model alone is called (w = 1).
   * Default: every step. Needs `classes`.
   */
  guidanceInterval?: readonly [number, number];
}

/**
 * The classifier-free guidance combination (Ho & Salimans 2022, in diffusers' convention):
 * ε̃ = ε_u + w·(ε_c − ε_u), where ε_c = ε(x, y) and ε_u = ε(x, ∅). w = 1 returns ε_c, w = 0
 * returns ε_u, w > 1 extrapolates away from the unconditional prediction.
 *
 * @param epsCond ε(x, y), the conditional prediction.
 * @param epsUncond ε(x, ∅), the unconditional prediction (the same shape).
 * @param w The guidance scale.
 * @returns ε̃, the same shape.
 * @throws {RangeError} If the shapes differ or w is not finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { classifierFreeGuidance } from "@ddpm/core";
 * const eps = classifierFreeGuidance(tf.tensor1d([1, 2]), tf.tensor1d([0, 1]), 3);
 * assert.deepEqual(Array.from(eps.dataSync()), [3, 4]); // 0 + 3·(1 − 0), 1 + 3·(2 − 1)
 * ```
 */
export function classifierFreeGuidance(epsCond: Tensor, epsUncond: Tensor, w: number): Tensor {
  const what = "apply guidance";
  if (!(epsCond instanceof tf.Tensor) || !(epsUncond instanceof tf.Tensor)) {
    throw new TypeError(`Cannot ${what}: epsCond and epsUncond must be tensors`);
  }
  if (!tf.util.arraysEqual(epsCond.shape, epsUncond.shape)) {
    throw new RangeError(
      `Cannot ${what}: epsUncond must have the shape of epsCond [${epsCond.shape}], got [${epsUncond.shape}]`,
    );
  }
  _checkGuidanceScale(what, w);
  return _guide(epsCond, epsUncond, w);
}
