import type { Tensor } from "./types.ts";
import { _checkThreshold, _dynamicThreshold } from "./_dynamic_threshold.ts";

/** Options of {@linkcode dynamicThreshold}. */
export interface DynamicThresholdOptions {
  /** The quantile of |x̂0| per sample that sets the threshold (default 0.995, Imagen's). */
  ratio?: number;
  /** The largest threshold (default 1; 1 makes it plain clipping to [-1, 1]). */
  maxValue?: number;
}

/**
 * Dynamic thresholding of a predicted x0 (Saharia et al. 2022, "Imagen"; diffusers'
 * `thresholding`): per sample, s = clamp(quantile(|x̂0|, ratio), 1, maxValue) (the quantile
 * with linear interpolation, as `torch.quantile`), then x̂0 ← clip(x̂0, −s, s) / s. Pixels
 * beyond the range are pulled in instead of saturating, which keeps strongly guided samples
 * from over-saturating.
 *
 * @param x0 The predicted x0, [B, ...].
 * @param options `{ ratio, maxValue }`.
 * @returns The thresholded x0, the same shape.
 * @throws {RangeError} If ratio is not in [0, 1] or maxValue < 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { dynamicThreshold } from "@ddpm/core";
 * // one sample whose |x| quantile is 2: everything is divided by 2
 * const x = tf.tensor2d([[2, -2, 1, 0.5]]);
 * const y = dynamicThreshold(x, { ratio: 0.9, maxValue: 3 });
 * assert.deepEqual(Array.from(y.dataSync()), [1, -1, 0.5, 0.25]);
 * ```
 */
export function dynamicThreshold(x0: Tensor, options: DynamicThresholdOptions = {}): Tensor {
  const { ratio, maxValue } = _checkThreshold("threshold x0", options);
  return _dynamicThreshold(x0, ratio, maxValue);
}
