// Internal: SiLU(GroupNorm(x)) in one WGSL program on webgpu, with its gradient in two more
// (dx; dγ and dβ); on the other backends the plain tfjs composition.
import * as tf from "@tensorflow/tfjs-core";
import { _GroupNormSiluProgram } from "./group_norm_silu_program.ts";
import { _GroupNormSiluGradProgram } from "./group_norm_silu_grad_program.ts";
import { _GroupNormSiluParamGradProgram } from "./group_norm_silu_param_grad_program.ts";

/** The part of tfjs-backend-webgpu's backend the fused programs use. */
export interface _WebGPUBackend {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms: { type: string; data: number[] }[],
  ): tf.TensorInfo;
}

/** Whether the fused programs may run: webgpu, float32 and x [B, H, W, C]. */
export function _canFuseGroupNormSilu(x: tf.Tensor): boolean {
  return tf.getBackend() === "webgpu" && x.dtype === "float32" && x.rank === 4;
}

/** The uniforms hw, c, cg and groups of the GroupNorm programs, in their declared order. */
function _groupUniforms(hw: number, c: number, groups: number): { type: string; data: number[] }[] {
  return [hw, c, c / groups, groups].map((v) => ({ type: "int32", data: [v] }));
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
    ..._groupUniforms(H * W, C, groups),
    { type: "float32", data: [eps] },
  ]);
  return tf.engine().makeTensorFromTensorInfo(info);
}

type _GnSilu = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;

/**
 * SiLU(γ · GroupNorm(x) + β) by the fused program, with a gradient by the two gradient programs
 * (src/webgpu/group_norm_silu_grad_program.ts, group_norm_silu_param_grad_program.ts); the
 * per-(example, group) mean and 1/√(σ² + ε) they take are recomputed by tf.moments.
 */
export function _groupNormSiluWithGradWebGPU(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  groups: number,
  eps = 1e-5,
): tf.Tensor {
  const f = tf.customGrad(
    ((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
      save([xi, g, b]);
      const value = _groupNormSiluWebGPU(xi, g, b, groups, eps);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, bs] = saved;
        const [B, H, W, C] = xs.shape as [number, number, number, number];
        const { mean, variance } = tf.moments(tf.reshape(xs, [B, H * W, groups, C / groups]), [
          1,
          3,
        ]); // [B, G]
        const rstd = tf.rsqrt(tf.add(variance, eps)); // 1 / √(σ² + ε)
        const backend = tf.backend() as unknown as _WebGPUBackend;
        const inputs = [xs, dy, gs, bs, mean, rstd];
        const common = _groupUniforms(H * W, C, groups);
        const dx = backend.runWebGPUProgram(
          new _GroupNormSiluGradProgram([B, H, W, C], groups),
          inputs,
          "float32",
          common,
        );
        const dParams = tf.engine().makeTensorFromTensorInfo(
          backend.runWebGPUProgram(new _GroupNormSiluParamGradProgram(C), inputs, "float32", [
            { type: "int32", data: [B * H * W] },
            ...common,
          ]),
        ); // [2, C]: dγ, dβ
        const [dg, db] = tf.unstack(dParams);
        return [tf.engine().makeTensorFromTensorInfo(dx), dg, db];
      };
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  ) as unknown as _GnSilu;
  return f(x, gamma, beta);
}
