import * as tf from "@tensorflow/tfjs-core";
import type { Tensor, Tensor1D } from "../types.ts";
import { _sinusoidFrequencies } from "./_sinusoid.ts";

/**
 * Which sinusoidal embedding (diffusers' names): `flipSinToCos` puts the cosines first, and
 * the frequencies are f_i = exp(-ln(10000) · i / (half - freqShift)). Ho et al.'s (the
 * default) is `{ flipSinToCos: false, freqShift: 1 }`; diffusers' default and
 * improved-diffusion's are `{ flipSinToCos: true, freqShift: 0 }`.
 */
export interface TimestepEmbeddingVariant {
  /** Cosines first (default false: sines first). */
  flipSinToCos: boolean;
  /** The frequencies' shift, 0 ≤ freqShift < half (default 1). */
  freqShift: number;
}

/** Ho et al. 2020's variant: sines first, frequencies over half − 1. */
export const HO_TIMESTEP_EMBEDDING: Readonly<TimestepEmbeddingVariant> = {
  flipSinToCos: false,
  freqShift: 1,
};

/**
 * The sinusoidal timestep embedding of Ho et al. 2020 (after the Transformer's positional
 * encoding): for half = dim/2 and frequencies f_i = exp(-ln(10000) · i / (half - 1)),
 * emb(t) = [sin(t f_0), …, sin(t f_{half-1}), cos(t f_0), …, cos(t f_{half-1})]; `variant`
 * gives diffusers' and improved-diffusion's (cosines first, frequencies over half).
 *
 * @param t Timesteps [B] (int32 or float32).
 * @param dim The embedding width; even and ≥ 4.
 * @param variant The order and frequencies (default {@linkcode HO_TIMESTEP_EMBEDDING}).
 * @returns The embedding, float32 [B, dim].
 * @throws {RangeError} If dim is odd or smaller than 4, or freqShift is out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend, timestepEmbedding } from "@ddpm/core";
 * await initBackend("cpu");
 * const emb = timestepEmbedding(tf.tensor1d([0, 10, 999], "int32"), 32);
 * assert.deepEqual(emb.shape, [3, 32]);
 * // at t = 0: sin 0 = 0 in the first half, cos 0 = 1 in the second (swapped with flipSinToCos)
 * const ho = emb.dataSync();
 * assert.deepEqual([ho[0], ho[31]], [0, 1]);
 * const flip = timestepEmbedding(tf.tensor1d([0], "int32"), 4, { flipSinToCos: true, freqShift: 0 });
 * assert.deepEqual(Array.from(flip.dataSync()), [1, 1, 0, 0]);
 * ```
 */
export function timestepEmbedding(
  t: Tensor1D,
  dim: number,
  variant: TimestepEmbeddingVariant = HO_TIMESTEP_EMBEDDING,
): Tensor {
  if (!Number.isInteger(dim) || dim < 4 || dim % 2 !== 0) {
    throw new RangeError(`Cannot embed timesteps: dim must be an even integer >= 4, got ${dim}`);
  }
  const half = dim / 2;
  const freqs = _sinusoidFrequencies(dim, variant.freqShift);
  return tf.tidy(() => {
    const arg = tf.mul(tf.reshape(tf.cast(t, "float32"), [-1, 1]), tf.tensor2d(freqs, [1, half]));
    const [sin, cos] = [tf.sin(arg), tf.cos(arg)];
    return tf.concat(variant.flipSinToCos ? [cos, sin] : [sin, cos], 1); // [B, dim]
  });
}
