// Internal: SiLU(GroupNorm(x)) in one WGSL program on webgpu when no gradient is being recorded
// (sampling, evaluation); everywhere else, and under tf.grad, the plain tfjs composition.
import * as tf from "@tensorflow/tfjs-core";
import { _GroupNormSiluProgram } from "./group_norm_silu_program.ts";

/** The part of tfjs-backend-webgpu's backend the fused programs use. */
export interface _WebGPUBackend {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms: { type: string; data: number[] }[],
  ): tf.TensorInfo;
}

/** Whether the fused program may run: webgpu, float32, and no tape (it has no gradient). */
export function _canFuseGroupNormSilu(x: tf.Tensor): boolean {
  const state = (tf.engine() as unknown as { state: { gradientDepth: number } }).state;
  return tf.getBackend() === "webgpu" && x.dtype === "float32" && x.rank === 4 &&
    state.gradientDepth === 0;
}

/** SiLU(γ · GroupNorm(x) + β) by the fused program; x [B, H, W, C]. */
export function _groupNormSiluWebGPU(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  groups: number,
  eps = 1e-5,
): tf.Tensor {
  const [B, H, W, C] = x.shape as [number, number, number, number];
  const program = new _GroupNormSiluProgram([B, H, W, C], groups);
  const backend = tf.backend() as unknown as _WebGPUBackend;
  const info = backend.runWebGPUProgram(program, [x, gamma, beta], "float32", [
    { type: "int32", data: [H * W] },
    { type: "int32", data: [C] },
    { type: "int32", data: [C / groups] },
    { type: "int32", data: [groups] },
    { type: "float32", data: [eps] },
  ]);
  return tf.engine().makeTensorFromTensorInfo(info);
}
