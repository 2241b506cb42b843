import * as tf from "@tensorflow/tfjs-core";
import type { Tensor, Tensor1D } from "../types.ts";

/**
 * The sinusoidal timestep embedding of Ho et al. 2020 (after the Transformer's positional
 * encoding): for half = dim/2 and frequencies f_i = exp(-ln(10000) · i / (half - 1)),
 * emb(t) = [sin(t f_0), …, sin(t f_{half-1}), cos(t f_0), …, cos(t f_{half-1})].
 *
 * @param t Timesteps [B] (int32 or float32).
 * @param dim The embedding width; even and ≥ 4.
 * @returns The embedding, float32 [B, dim].
 * @throws {RangeError} If dim is odd or smaller than 4.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { timestepEmbedding } from "@ddpm/core";
 * const emb = timestepEmbedding(tf.tensor1d([0, 10, 999], "int32"), 32);
 * console.log(emb.shape); // [3, 32]
 * ```
 */
export function timestepEmbedding(t: Tensor1D, dim: number): Tensor {
  if (!Number.isInteger(dim) || dim < 4 || dim % 2 !== 0) {
    throw new RangeError(`Cannot embed timesteps: dim must be an even integer >= 4, got ${dim}`);
  }
  const half = dim / 2;
  const freqs = _sinusoidFrequencies(dim);
  return tf.tidy(() => {
    const arg = tf.mul(tf.reshape(tf.cast(t, "float32"), [-1, 1]), tf.tensor2d(freqs, [1, half]));
    return tf.concat([tf.sin(arg), tf.cos(arg)], 1); // [B, dim]
  });
}

/** f_i = exp(-ln(10000) · i / (half - 1)) for i < half = dim / 2, as float32. */
export function _sinusoidFrequencies(dim: number): Float32Array {
  const half = dim / 2;
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp(-Math.log(10000) * i / (half - 1));
  return freqs;
}
