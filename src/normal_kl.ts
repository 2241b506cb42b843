import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "./types.ts";

/** Arguments of {@linkcode normalKl}: two diagonal Gaussians by mean and log variance. */
export interface NormalKlArgs {
  /** Mean of the first Gaussian. */
  mean1: Tensor;
  /** Log variance of the first Gaussian. */
  logVar1: Tensor;
  /** Mean of the second Gaussian. */
  mean2: Tensor;
  /** Log variance of the second Gaussian. */
  logVar2: Tensor;
}

/**
 * Elementwise KL(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²)) in nats:
 * ½ (-1 + log σ₂² - log σ₁² + σ₁²/σ₂² + (μ₁ - μ₂)²/σ₂²).
 * The arguments broadcast against each other.
 *
 * @param args `{ mean1, logVar1, mean2, logVar2 }`.
 * @returns The KL divergence per element, in nats (≥ 0).
 *
 * @example KL of N(1, 1) from N(0, 1) is ½
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { normalKl } from "@ddpm/core";
 * const kl = normalKl({
 *   mean1: tf.scalar(1), logVar1: tf.scalar(0), mean2: tf.scalar(0), logVar2: tf.scalar(0),
 * });
 * assert.equal(kl.dataSync()[0], 0.5);
 * ```
 */
export function normalKl(args: NormalKlArgs): Tensor {
  const { mean1, logVar1, mean2, logVar2 } = args ?? {};
  for (const [name, x] of Object.entries({ mean1, logVar1, mean2, logVar2 })) {
    if (!(x instanceof tf.Tensor)) {
      throw new TypeError(`Cannot compute KL: ${name} must be a tensor, got ${typeof x}`);
    }
  }
  return tf.tidy(() => {
    const d = tf.sub(mean1, mean2);
    return tf.mul(
      0.5,
      tf.add(
        tf.add(tf.sub(logVar2, logVar1), -1), // -1 + log σ₂² - log σ₁²
        tf.add(
          tf.exp(tf.sub(logVar1, logVar2)), // σ₁²/σ₂²
          tf.mul(tf.square(d), tf.exp(tf.neg(logVar2))), // (μ₁ - μ₂)²/σ₂²
        ),
      ),
    );
  });
}
