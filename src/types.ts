import type * as tf from "@tensorflow/tfjs-core";

/**
 * A denoising model: given x_t [B, ...] and the int32 timesteps [B], it returns a tensor of
 * x_t's shape — ε by default, or x0 or v when the caller says `prediction: "x0" | "v"`.
 * The U-Net is one implementation; any function of this type works with every sampler.
 */
export type EpsModel = (xt: tf.Tensor, t: tf.Tensor1D) => tf.Tensor;

/** What the model predicts: the noise ε, the clean data x0, or v = √ᾱ ε - √(1-ᾱ) x0. */
export type Prediction = "eps" | "x0" | "v";

/**
 * The reverse-process variance σ_t²: `fixedSmall` is β̃_t (the posterior variance, log
 * clipped at t = 0), `fixedLarge` is β_t (with β̃_1 at t = 0, as improved-diffusion does).
 */
export type VarianceKind = "fixedSmall" | "fixedLarge";
