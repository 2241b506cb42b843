/**
 * Autoguidance (Karras et al. 2024): guiding a model with a weaker version of itself.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { EpsModel, Tensor, Tensor1D } from "./types.ts";
import { _guideEps } from "./_guidance.ts";
import { _checkModel } from "./_checks.ts";

/**
 * Autoguidance (Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of Itself"):
 * an ε-model that extrapolates from a weaker `guide` (the same kind of network, trained less or
 * smaller) towards `model`, ε̃ = ε_g(x, y) + w·(ε(x, y) − ε_g(x, y)) — the guidance formula with
 * the guide's prediction, for the same label, in place of ε(x, ∅). Where the guide errs more than
 * the model (a class not yet learnt, a blurry stroke) the difference points away from the error,
 * and unlike classifier-free guidance it does not pull the samples towards the class's most typical
 * images. w = 1 returns `model` itself and w = 0 the guide.
 *
 * Every row is guided, labelled or not (`y` absent, or {@linkcode NULL_CLASS} rows through both
 * networks' null class); pair the result with {@linkcode withUnconditional} to take ε(x, ∅)
 * from a separate network instead. Both networks see the whole batch, so a call costs one call of
 * each. A model that also predicts its variance (2·C output channels) keeps its own variance: only
 * the ε half is guided.
 *
 * @param model The ε-model to sample with, `(xt, t, y?) => ε`.
 * @param guide The weaker ε-model, called with the same `xt`, `t` and `y`.
 * @param weight The autoguidance weight w (finite; 1: `model` alone).
 * @returns The autoguided ε-model.
 * @throws {TypeError} If either model is not a function.
 * @throws {RangeError} If the weight is not finite, or (when called) the two models predict
 *   different shapes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend, withAutoguidance } from "@ddpm/core";
 * await initBackend("cpu");
 * const model = (xt: tf.Tensor) => tf.mul(xt, 2);
 * const guide = (xt: tf.Tensor) => tf.mul(xt, 1.5);
 * const eps = withAutoguidance(model, guide, 3)(tf.ones([1, 2, 2, 1]), tf.tensor1d([5], "int32"));
 * assert.deepEqual(Array.from(eps.dataSync()), [3, 3, 3, 3]); // 1.5 + 3·(2 − 1.5)
 * ```
 */
export function withAutoguidance(model: EpsModel, guide: EpsModel, weight: number): EpsModel {
  const what = "autoguide the model";
  _checkModel(what, "model", model);
  _checkModel(what, "guide", guide);
  if (typeof weight !== "number" || !Number.isFinite(weight)) {
    throw new RangeError(`Cannot ${what}: weight must be a finite number, got ${weight}`);
  }
  // w = 1 and w = 0 are one network exactly (as the guidance scale's are), at the cost of one call
  if (weight === 1) return model;
  if (weight === 0) return guide;
  const call = "call the autoguided model";
  return (xt: Tensor, t: Tensor1D, y?: Tensor1D): Tensor =>
    tf.tidy(() => {
      const eps = model(xt, t, y);
      const epsGuide = guide(xt, t, y);
      if (!tf.util.arraysEqual(eps.shape, epsGuide.shape)) {
        throw new RangeError(
          `Cannot ${call}: the model predicts [${eps.shape}] and the guide [${epsGuide.shape}]; ` +
            `they must predict one shape`,
        );
      }
      // a learned variance (2·C channels): guide the ε half, keep the model's variance half
      const learned = eps.shape[eps.rank - 1] === 2 * xt.shape[xt.rank - 1];
      return _guideEps(eps, epsGuide, weight, learned ? 2 : 1);
    });
}
