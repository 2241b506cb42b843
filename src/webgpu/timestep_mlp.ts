// Internal: the U-Net's timestep branch, SiLU(Dense₁(SiLU(Dense₀(sinusoidal(t))))), in one WGSL
// program on webgpu when no gradient is being recorded (sampling, evaluation).
import * as tf from "@tensorflow/tfjs-core";
import { _TimestepMlpProgram } from "./timestep_mlp_program.ts";
import type { _WebGPUBackend } from "./group_norm_silu.ts";
import { _recordingGradient } from "./_tape.ts";

/** Whether the fused program may run: webgpu and no tape (it has no gradient). */
export function _canFuseTimestepMlp(): boolean {
  return tf.getBackend() === "webgpu" && !_recordingGradient();
}

/**
 * SiLU(SiLU(sinusoidal(t) · w0 + b0) · w1 + b1) by the fused program.
 *
 * @param t Timesteps [B] (int32 or float32).
 * @param freqs The sinusoidal frequencies f_i, float32 [dim / 2].
 * @param w0 [dim, hidden]; b0 [hidden]; w1 [hidden, hidden]; b1 [hidden].
 * @param flip Cosines first (diffusers' flip_sin_to_cos).
 * @returns [B, hidden].
 */
export function _timestepMlpWebGPU(
  t: tf.Tensor,
  freqs: tf.Tensor,
  w0: tf.Tensor,
  b0: tf.Tensor,
  w1: tf.Tensor,
  b1: tf.Tensor,
  flip = false,
): tf.Tensor {
  const [dim, hidden] = w0.shape;
  const program = new _TimestepMlpProgram(t.shape[0], dim, hidden, flip);
  const backend = tf.backend() as unknown as _WebGPUBackend;
  const info = backend.runWebGPUProgram(program, [t, freqs, w0, b0, w1, b1], "float32", [
    { type: "int32", data: [t.shape[0]] },
  ]);
  return tf.engine().makeTensorFromTensorInfo(info);
}
