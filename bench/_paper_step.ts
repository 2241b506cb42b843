// Internal to the benchmarks: one training step k with the paper's hyper-parameters (Adam lr
// 2e-4, gradient clipping 1.0, EMA 0.9999), seeded by k.
import type * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "../src/schedule.ts";
import {
  type _GradientSource,
  _localGradients,
  type _StepState,
  _trainStep,
} from "../src/train/_step.ts";

/**
 * `_trainStep` at step k (seed k) with lr 2e-4, clip 1 and EMA decay 0.9999; gradients from
 * this thread unless a pool's are given.
 */
export function _paperStep(
  state: _StepState,
  s: Schedule,
  x0: tf.Tensor,
  k: number,
  gradients: _GradientSource = _localGradients,
): Promise<{ loss: number; gradNorm: number }> {
  const o = { step: k, seed: k, lr: 2e-4, gradClip: 1, emaDecay: 0.9999 };
  return _trainStep(state, s, x0, o, gradients);
}
