// Internal: exponential moving average of the weights (Polyak averaging), as the paper's EMA.
import * as tf from "@tensorflow/tfjs-core";
import type { Variable } from "../types.ts";

/**
 * The EMA decay at optimizer step `step` (1-based): min(decay, (1 + step) / (10 + step)), the
 * warm-up of TensorFlow's ExponentialMovingAverage with num_updates, so that a short run is
 * not dominated by the initial weights; without the warm-up (a run that starts from trained
 * weights, whose average should start there), `decay` at every step.
 */
export function _emaDecay(decay: number, step: number, warmup = true): number {
  return warmup ? Math.min(decay, (1 + step) / (10 + step)) : decay;
}

/** ema ← d · ema + (1 - d) · θ for every parameter. */
export function _emaUpdate(
  ema: ReadonlyMap<string, Variable>,
  params: ReadonlyMap<string, Variable>,
  d: number,
): void {
  tf.tidy(() => {
    for (const [name, p] of params) {
      const e = ema.get(name)!;
      e.assign(tf.add(tf.mul(e, d), tf.mul(p, 1 - d)));
    }
  });
}
