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
    tf.sqrt(_sumAll([...grads.values()].map((g) => tf.sum(tf.square(g)))))
  );
  const scale = tf.tidy(() => tf.div(maxNorm, tf.maximum(norm, maxNorm))); // min(1, c/‖g‖)
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) clipped.set(name, tf.mul(g, scale));
  scale.dispose();
  return { clipped, norm: norm as tf.Scalar };
}

/**
 * Σ of scalars by pairwise tf.add. Not tf.addN: tfjs-backend-webgpu 4.22 returns 0 for addN
 * of the ~300 inputs a U-Net has (one shader binding per input), which had silently disabled
 * clipping on webgpu.
 */
function _sumAll(xs: tf.Tensor[]): tf.Tensor {
  while (xs.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < xs.length; i += 2) {
      next.push(i + 1 < xs.length ? tf.add(xs[i], xs[i + 1]) : xs[i]);
    }
    xs = next;
  }
  return xs[0];
}
