// Internal: global-norm gradient clipping (Pascanu et al. 2013), as tf.clip_by_global_norm.
import * as tf from "@tensorflow/tfjs-core";

/** ‖g‖ = √(Σ_i Σ g_i²) over all the gradients, a scalar tensor. */
export function _globalNorm(grads: Map<string, tf.Tensor>): tf.Scalar {
  return tf.tidy(() =>
    tf.sqrt(_sumAll([...grads.values()].map((g) => tf.sum(tf.square(g)))))
  ) as tf.Scalar;
}

/**
 * ‖g‖ as one sum over all the gradients laid end to end: a handful of programs on webgpu (the
 * concatenation goes in groups of the device's storage bindings) against three per gradient
 * for {@linkcode _globalNorm}; float32 sums in another order, so it may differ from it in the
 * last bits.
 */
export function _flatNorm(grads: Map<string, tf.Tensor>): tf.Scalar {
  return tf.tidy(() => {
    const flat = tf.concat([...grads.values()].map((g) => tf.reshape(g, [-1])));
    return tf.sqrt(tf.sum(tf.square(flat)));
  }) as tf.Scalar;
}

/**
 * Scales every gradient by min(1, maxNorm / ‖g‖) with ‖g‖ = √(Σ_i Σ g_i²) over all of them
 * (`norm`: ‖g‖ when it was computed already). Returns the clipped gradients (new tensors) and
 * ‖g‖ before clipping as a scalar tensor (the caller's own `norm` when given).
 */
export function _clipByGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number,
  norm: tf.Scalar = _globalNorm(grads),
): { clipped: Map<string, tf.Tensor>; norm: tf.Scalar } {
  const scale = tf.tidy(() => tf.div(maxNorm, tf.maximum(norm, maxNorm))); // min(1, c/‖g‖)
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) clipped.set(name, tf.mul(g, scale));
  scale.dispose();
  return { clipped, norm };
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
