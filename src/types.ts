import type * as tf from "@tensorflow/tfjs-core";

/**
 * A denoising model: given x_t [B, ...], the int32 timesteps [B] and, for a class-conditional
 * model, the int32 class labels y [B] (−1 = no class, see `NULL_CLASS`; y absent: no class for
 * any example), it returns a tensor of x_t's shape — ε by default, or x0 or v when the caller
 * says `prediction: "x0" | "v"`. The U-Net is one implementation; any function of this type
 * works with every sampler.
 */
export type EpsModel = (xt: Tensor, t: Tensor1D, y?: Tensor1D) => Tensor;

/** What the model predicts: the noise ε, the clean data x0, or v = √ᾱ ε - √(1-ᾱ) x0. */
export type Prediction = "eps" | "x0" | "v";

/**
 * The reverse-process variance σ_t²: `fixedSmall` is β̃_t (the posterior variance, log
 * clipped at t = 0), `fixedLarge` is β_t (with β̃_1 at t = 0, as improved-diffusion does).
 * `learnedRange` and `learned` are Improved DDPM's learned Σ_θ(x_t, t): the model outputs twice
 * x_t's channels, its prediction then v, read by `learnedLogVariance`.
 */
export type VarianceKind = "fixedSmall" | "fixedLarge" | "learnedRange" | "learned";

/** A tfjs-core tensor (the library's tensor type; import tfjs-core to make them). */
export type Tensor = tf.Tensor;

/** A rank-1 tfjs-core tensor, such as the int32 timesteps [B]. */
export type Tensor1D = tf.Tensor1D;

/** A rank-0 tfjs-core tensor, such as a loss. */
export type Scalar = tf.Scalar;

/** A tfjs-core variable: a trainable tensor, such as a U-Net parameter. */
export type Variable = tf.Variable;
