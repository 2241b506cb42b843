import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "./types.ts";

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

/** Reads and checks the options (defaults 0.995 and 1). */
export function _checkThreshold(
  what: string,
  o: DynamicThresholdOptions,
): { ratio: number; maxValue: number } {
  const ratio = o?.ratio ?? 0.995, maxValue = o?.maxValue ?? 1;
  if (!(typeof ratio === "number" && ratio >= 0 && ratio <= 1)) {
    throw new RangeError(`Cannot ${what}: dynamicThreshold.ratio must be in [0, 1], got ${ratio}`);
  }
  if (!(typeof maxValue === "number" && maxValue >= 1 && Number.isFinite(maxValue))) {
    throw new RangeError(
      `Cannot ${what}: dynamicThreshold.maxValue must be a finite number >= 1, got ${maxValue}`,
    );
  }
  return { ratio, maxValue };
}

/** The thresholding without checks. */
export function _dynamicThreshold(x0: Tensor, ratio: number, maxValue: number): Tensor {
  return tf.tidy(() => {
    const B = x0.shape[0], D = x0.size / B;
    const abs = tf.reshape(tf.abs(x0), [B, D]);
    // the ratio-quantile of the D values: sorted ascending a, at position p = ratio·(D − 1),
    // a[lo] + (p − lo)(a[lo + 1] − a[lo]); topk(k = D − lo) ends with a[lo], a[lo + 1] before it
    const pos = ratio * (D - 1), lo = Math.floor(pos), frac = pos - lo;
    const k = D - lo;
    const top = tf.topk(abs, k).values; // descending: [..., a[lo + 1], a[lo]]
    const aLo = tf.slice(top, [0, k - 1], [B, 1]);
    const aHi = k >= 2 ? tf.slice(top, [0, k - 2], [B, 1]) : aLo;
    const q = tf.add(aLo, tf.mul(frac, tf.sub(aHi, aLo))); // [B, 1]
    const s = tf.reshape(
      tf.clipByValue(q, 1, maxValue),
      [B, ...new Array(x0.rank - 1).fill(1)],
    );
    return tf.div(tf.minimum(tf.maximum(x0, tf.neg(s)), s), s);
  });
}
