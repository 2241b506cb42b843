/** Dynamic thresholding without its public checks, shared by dynamicThreshold and the samplers. */
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "./types.ts";

/** Reads and checks the options (defaults 0.995 and 1). */
export function _checkThreshold(
  what: string,
  o: { ratio?: number; maxValue?: number } | undefined,
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
