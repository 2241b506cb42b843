// Internal: the fused WGSL programs registered as tfjs kernels of the webgpu backend (as tfjs's own
// kernels are), with the gradient of the one that trains. Importing this module registers them;
// src/_fusion.ts decides when they run. Each kernel validates nothing: its caller did.
import * as tf from "@tensorflow/tfjs-core";
import { _GroupNormSiluProgram } from "./group_norm_silu_program.ts";
import { _GroupNormSiluGradProgram } from "./group_norm_silu_grad_program.ts";
import { _GroupNormSiluParamGradProgram } from "./group_norm_silu_param_grad_program.ts";
import { _SampleStepProgram } from "./sample_step_program.ts";
import { _TimestepMlpProgram } from "./timestep_mlp_program.ts";
import { _AdamEmaProgram } from "./adam_ema_program.ts";

/** SiLU(γ · GroupNorm(x) + β); inputs x [B, H, W, C], gamma, beta [C]; attrs groups, eps. */
export const GROUP_NORM_SILU = "DdpmGroupNormSilu";
/**
 * Its gradient: inputs x, dy, gamma, beta, mean and rstd [B, G] (1/√(σ² + ε)); attrs groups;
 * outputs dx and [2, C] (dγ; dβ).
 */
export const GROUP_NORM_SILU_GRAD = "DdpmGroupNormSiluGrad";
/**
 * One reverse step: inputs xt, out (the model's), z, coef [B, 5] (a, b, c1, c2, σ); attrs clip,
 * mode ("sample": x_{t-1} = c1 x̂0 + c2 x_t + σ z, "predX0": x̂0 = a x_t − b out, clipped or not).
 */
export const SAMPLE_STEP = "DdpmSampleStep";
/** SiLU(SiLU(sinusoidal(t)·w0 + b0)·w1 + b1); inputs t, freqs, w0, b0, w1, b1; attrs flip. */
export const TIMESTEP_MLP = "DdpmTimestepMlp";

/**
 * One output of the optimizer's step on one parameter: inputs a, b and c (see
 * src/webgpu/adam_ema_program.ts for each mode's), attrs mode (0: m', 1: v', 2: p', 3: e') and
 * coefs (up to five numbers).
 */
export const ADAM_EMA = "DdpmAdamEma";

/** The part of tfjs-backend-webgpu's backend the programs use. */
interface _WebGPUBackend {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms: { type: string; data: number[] }[],
  ): tf.TensorInfo;
}

const _int = (v: number) => ({ type: "int32", data: [v] });

/** The uniforms hw, c, cg and groups of the GroupNorm programs, in their declared order. */
const _groupUniforms = (hw: number, c: number, groups: number) =>
  [hw, c, c / groups, groups].map(_int);

tf.registerKernel({
  kernelName: GROUP_NORM_SILU,
  backendName: "webgpu",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as Record<string, tf.TensorInfo>;
    const { groups, eps } = attrs as unknown as { groups: number; eps: number };
    const [B, H, W, C] = x.shape as [number, number, number, number];
    return (backend as unknown as _WebGPUBackend).runWebGPUProgram(
      new _GroupNormSiluProgram([B, H, W, C], groups),
      [x, gamma, beta],
      "float32",
      [..._groupUniforms(H * W, C, groups), { type: "float32", data: [eps] }],
    );
  },
});

tf.registerKernel({
  kernelName: GROUP_NORM_SILU_GRAD,
  backendName: "webgpu",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, dy, gamma, beta, mean, rstd } = inputs as Record<string, tf.TensorInfo>;
    const { groups } = attrs as unknown as { groups: number };
    const [B, H, W, C] = x.shape as [number, number, number, number];
    const all = [x, dy, gamma, beta, mean, rstd];
    const common = _groupUniforms(H * W, C, groups);
    const gpu = backend as unknown as _WebGPUBackend;
    return [
      gpu.runWebGPUProgram(
        new _GroupNormSiluGradProgram([B, H, W, C], groups),
        all,
        "float32",
        common,
      ),
      gpu.runWebGPUProgram(new _GroupNormSiluParamGradProgram(C), all, "float32", [
        _int(B * H * W),
        ...common,
      ]),
    ];
  },
});

// the per-(example, group) mean and 1/√(σ² + ε) the gradient programs take are recomputed by
// tf.moments from the saved x. All three gradients come from the two programs at once, computed
// here: tfjs calls each input's closure inside a tidy of its own.
tf.registerGradient({
  kernelName: GROUP_NORM_SILU,
  inputsToSave: ["x", "gamma", "beta"],
  gradFunc: (dy, saved, attrs) => {
    const [x, gamma, beta] = saved;
    const { groups, eps } = attrs as unknown as { groups: number; eps: number };
    const [B, H, W, C] = x.shape as [number, number, number, number];
    const { mean, variance } = tf.moments(tf.reshape(x, [B, H * W, groups, C / groups]), [1, 3]);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const [dx, dParams] = tf.engine().runKernel(
      GROUP_NORM_SILU_GRAD,
      { x, dy: dy as tf.Tensor, gamma, beta, mean, rstd },
      { groups } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[];
    const [dg, db] = tf.unstack(dParams);
    return { x: () => dx, gamma: () => dg, beta: () => db };
  },
});

tf.registerKernel({
  kernelName: SAMPLE_STEP,
  backendName: "webgpu",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { xt, out, z, coef } = inputs as Record<string, tf.TensorInfo>;
    const { clip, mode } = attrs as unknown as { clip: boolean; mode: "sample" | "predX0" };
    return (backend as unknown as _WebGPUBackend).runWebGPUProgram(
      new _SampleStepProgram(xt.shape),
      [xt, out, z, coef],
      "float32",
      [
        _int(tf.util.sizeFromShape(xt.shape) / xt.shape[0]),
        _int(clip ? 1 : 0),
        _int(mode === "predX0" ? 1 : 0),
      ],
    );
  },
});

tf.registerKernel({
  kernelName: TIMESTEP_MLP,
  backendName: "webgpu",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { t, freqs, w0, b0, w1, b1 } = inputs as Record<string, tf.TensorInfo>;
    const { flip } = attrs as unknown as { flip: boolean };
    const [dim, hidden] = w0.shape;
    return (backend as unknown as _WebGPUBackend).runWebGPUProgram(
      new _TimestepMlpProgram(t.shape[0], dim, hidden, flip),
      [t, freqs, w0, b0, w1, b1],
      "float32",
      [_int(t.shape[0])],
    );
  },
});

tf.registerKernel({
  kernelName: ADAM_EMA,
  backendName: "webgpu",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { a, b, c } = inputs as Record<string, tf.TensorInfo>;
    const { mode, coefs } = attrs as unknown as { mode: number; coefs: number[] };
    const five = [0, 1, 2, 3, 4].map((i) => coefs[i] ?? 0);
    return (backend as unknown as _WebGPUBackend).runWebGPUProgram(
      new _AdamEmaProgram(a.shape),
      [a, b, c ?? b],
      "float32",
      [_int(mode), ...five.map((v) => ({ type: "float32", data: [v] }))],
    );
  },
});
