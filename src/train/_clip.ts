// Internal: global-norm gradient clipping (Pascanu et al. 2013), as tf.clip_by_global_norm.
import * as tf from "@tensorflow/tfjs-core";

/**
 * Scales every gradient by min(1, maxNorm / ‖g‖) with ‖g‖ = √(Σ_i Σ g_i²) over all of them.
 * Returns the clipped gradients (new tensors) and ‖g‖ before clipping as a scalar tensor.
 */
export function _clipByGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number,
): { clipped: Map<string, tf.Tensor>; norm: tf.Scalar } {
  const norm = tf.tidy(() =>
    tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))))
  );
  const scale = tf.tidy(() => tf.div(maxNorm, tf.maximum(norm, maxNorm))); // min(1, c/‖g‖)
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) clipped.set(name, tf.mul(g, scale));
  scale.dispose();
  return { clipped, norm: norm as tf.Scalar };
}
