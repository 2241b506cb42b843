// Internal: the one place that decides when a fused kernel replaces a composition of tfjs ops.
// A fused kernel runs where the current backend has it registered (src/webgpu/kernels.ts
// registers the webgpu ones) and the inputs suit it; every caller keeps the composition as the
// fallback, and the tests hold the two to each other.
import * as tf from "@tensorflow/tfjs-core";
import { ADAM_EMA, GROUP_NORM_SILU, SAMPLE_STEP, TIMESTEP_MLP } from "./webgpu/kernels.ts";
import type { ReverseOptions } from "./p_mean_variance.ts";
import { _isLearned } from "./_reverse.ts";

/** Whether the current backend has the kernel. */
function _registered(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}

/** True inside tf.grad / tf.variableGrads (tfjs's engine state has gradientDepth > 0). */
export function _recordingGradient(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}

/**
 * SiLU(γ · GroupNorm(x) + β) by the fused kernel (it has a gradient), or undefined where it does
 * not run: float32 x [B, H, W, C] on a backend that has it.
 */
export function _fusedGroupNormSilu(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  groups: number,
  eps: number,
): tf.Tensor | undefined {
  if (!_registered(GROUP_NORM_SILU) || x.dtype !== "float32" || x.rank !== 4) return undefined;
  return tf.engine().runKernel(
    GROUP_NORM_SILU,
    { x, gamma, beta },
    { groups, eps } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
}

/**
 * The U-Net's timestep branch SiLU(SiLU(sinusoidal(t)·w0 + b0)·w1 + b1) by the fused kernel
 * (freqs: the sinusoid's frequencies, float32 [dim / 2]; flip: cosines first), or undefined where it does not run: it has no
 * gradient, so never while one is recorded.
 */
export function _fusedTimestepMlp(
  t: tf.Tensor,
  freqs: Float32Array,
  [w0, b0, w1, b1]: tf.Tensor[],
  flip: boolean,
): tf.Tensor | undefined {
  if (!_registered(TIMESTEP_MLP) || _recordingGradient()) return undefined;
  const f = tf.tensor1d(freqs);
  try {
    return tf.engine().runKernel(
      TIMESTEP_MLP,
      { t, freqs: f, w0, b0, w1, b1 },
      { flip } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
  } finally {
    f.dispose();
  }
}

/**
 * Whether a reverse step may run as the fused kernel: a backend that has it, float32, no tape (it
 * has no gradient), x̂0 clipped or not (dynamic thresholding takes the composed path), and a fixed
 * variance (a learned one's output has twice the channels; it takes the composed path too).
 */
export function _canFuseSampleStep(xt: tf.Tensor, opts: ReverseOptions = {}): boolean {
  return _registered(SAMPLE_STEP) && xt.dtype === "float32" && xt.rank >= 1 &&
    !_recordingGradient() && opts.dynamicThreshold === undefined &&
    !_isLearned(opts.variance ?? "fixedSmall");
}

/** x_{t-1} (mode "sample") or x̂0 (mode "predX0") by the fused kernel (see SAMPLE_STEP). */
export function _sampleStepKernel(
  xt: tf.Tensor,
  out: tf.Tensor,
  z: tf.Tensor,
  coef: tf.Tensor,
  clip: boolean,
  mode: "sample" | "predX0",
): tf.Tensor {
  return tf.engine().runKernel(
    SAMPLE_STEP,
    { xt, out, z, coef },
    { clip, mode } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
}

/** Whether the optimizer's step may run as the fused kernel (see ADAM_EMA). */
export function _canFuseOptimizer(): boolean {
  return _registered(ADAM_EMA) && !_recordingGradient();
}

/** One output of the optimizer's step on one parameter by the fused kernel (see ADAM_EMA). */
export function _adamEmaKernel(
  mode: 0 | 1 | 2 | 3,
  a: tf.Tensor,
  b: tf.Tensor,
  c: tf.Tensor | undefined,
  coefs: number[],
): tf.Tensor {
  return tf.engine().runKernel(
    ADAM_EMA,
    c ? { a, b, c } : { a, b },
    { mode, coefs } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
}
