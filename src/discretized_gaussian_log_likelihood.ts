import * as tf from "@tensorflow/tfjs-core";
import { _checkBatch, _checkSameShape } from "./_checks.ts";
import type { Tensor } from "./types.ts";

/** Arguments of {@linkcode discretizedGaussianLogLikelihood}. */
export interface DiscretizedGaussianArgs {
  /** Data in [-1, 1] on the 8-bit grid x = 2k/255 - 1, k = 0 … 255. */
  x: Tensor;
  /** Gaussian means, x's shape. */
  means: Tensor;
  /** Log standard deviations (½ log variance), x's shape. */
  logScales: Tensor;
}

/**
 * Log-likelihood of 8-bit data under a Gaussian discretized to its 256 bins (Ho et al.
 * 2020, eq. 13; the L_0 decoder). Bin k covers [x - 1/255, x + 1/255]; the edge bins
 * extend to ∓∞:
 * log p(x) = log Φ(x⁺) for x = -1, log(1 - Φ(x⁻)) for x = 1, log(Φ(x⁺) - Φ(x⁻)) otherwise,
 * with x± = (x - μ ± 1/255) / σ, each probability clamped below at 1e-12. Φ is the tanh
 * approximation of the standard normal CDF used by the paper's code,
 * Φ(u) ≈ ½ (1 + tanh(√(2/π) (u + 0.044715 u³))).
 *
 * @param args `{ x, means, logScales }`, all of one shape.
 * @returns log p(x) per element, in nats.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { discretizedGaussianLogLikelihood } from "@ddpm/core";
 * const ll = discretizedGaussianLogLikelihood({
 *   x: tf.tensor1d([-1, 1 / 255, 1]), means: tf.zeros([3]), logScales: tf.fill([3], -2),
 * });
 * assert.deepEqual(ll.shape, [3]);
 * ```
 */
export function discretizedGaussianLogLikelihood(args: DiscretizedGaussianArgs): Tensor {
  const what = "compute the discretized Gaussian log-likelihood";
  const x = _checkBatch(what, "x", args?.x);
  const means = _checkSameShape(what, "x", x, "means", args.means);
  const logScales = _checkSameShape(what, "x", x, "logScales", args.logScales);
  return tf.tidy(() => {
    const centered = tf.sub(x, means);
    const invStdv = tf.exp(tf.neg(logScales));
    const cdfPlus = _approxStandardNormalCdf(tf.mul(invStdv, tf.add(centered, 1 / 255)));
    const cdfMin = _approxStandardNormalCdf(tf.mul(invStdv, tf.sub(centered, 1 / 255)));
    const logCdfPlus = tf.log(tf.maximum(cdfPlus, 1e-12));
    const logOneMinusCdfMin = tf.log(tf.maximum(tf.sub(1, cdfMin), 1e-12));
    const logCdfDelta = tf.log(tf.maximum(tf.sub(cdfPlus, cdfMin), 1e-12));
    return tf.where(
      tf.less(x, -0.999),
      logCdfPlus,
      tf.where(tf.greater(x, 0.999), logOneMinusCdfMin, logCdfDelta),
    );
  });
}

/** Φ(u) ≈ ½ (1 + tanh(√(2/π) (u + 0.044715 u³))). */
function _approxStandardNormalCdf(u: Tensor): Tensor {
  const inner = tf.mul(
    Math.sqrt(2 / Math.PI),
    tf.add(u, tf.mul(0.044715, tf.mul(u, tf.square(u)))),
  );
  return tf.mul(0.5, tf.add(1, tf.tanh(inner)));
}
