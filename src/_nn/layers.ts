// Internal: the U-Net's small layers as pure functions of (input, parameters).
import * as tf from "@tensorflow/tfjs-core";
import { _matMul } from "./matmul.ts";
import { _fusedGroupNormSilu } from "../_fusion.ts";

/** SiLU(x) = x · σ(x). */
export function _silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/** Dense layer on the last axis: x [..., Ci] · w [Ci, Co] + b [Co] (also a 1×1 convolution). */
export function _dense(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const [ci, co] = w.shape;
  const flat = tf.reshape(x, [-1, ci]) as tf.Tensor2D; // [N, Ci]
  const y = tf.add(_matMul(flat, w as tf.Tensor2D), b); // [N, Co]
  return tf.reshape(y, [...x.shape.slice(0, -1), co]);
}

/**
 * Group normalization (Wu & He 2018) of x [B, H, W, C] over G groups, then γ·x̂ + β. The
 * normalization x → x̂ has its analytic gradient (see {@link _normalize}); γ and β are plain
 * tfjs ops.
 */
export function _groupNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  groups: number,
  eps = 1e-5,
): tf.Tensor {
  const [B, H, W, C] = x.shape;
  const g = tf.reshape(x, [B, H, W, groups, C / groups]); // [B, H, W, G, C/G]
  const xhat = _normalize(g, eps);
  return tf.add(tf.mul(tf.reshape(xhat, [B, H, W, C]), gamma), beta);
}

/**
 * SiLU(GroupNorm(x)): the fused kernel where the backend has one (webgpu: one WGSL program, and
 * two more for its gradient), else the composition of the two.
 */
export function _groupNormSilu(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  groups: number,
  eps = 1e-5,
): tf.Tensor {
  return _fusedGroupNormSilu(x, gamma, beta, groups, eps) ??
    _silu(_groupNorm(x, gamma, beta, groups, eps));
}

const _AXES = [1, 2, 4];

/**
 * x̂ = (x - μ) / √(σ² + ε) over axes [1, 2, 4] of [B, H, W, G, C/G], with the gradient
 *   dx = (dx̂ - mean(dx̂) - x̂ · mean(dx̂ · x̂)) / √(σ² + ε)
 * (means over the same axes) instead of tfjs's autodiff through tf.moments, which builds
 * several full-size intermediates (a broadcast of ones among them) per normalization.
 */
const _normalize = (x: tf.Tensor, eps: number): tf.Tensor =>
  tf.customGrad(
    ((xi: tf.Tensor, save: tf.GradSaveFunc) => {
      const { mean, variance } = tf.moments(xi, _AXES, true); // [B, 1, 1, G, 1]
      const inv = tf.rsqrt(tf.add(variance, eps)); // 1 / √(σ² + ε)
      const xhat = tf.mul(tf.sub(xi, mean), inv);
      save([xhat, inv]);
      return {
        value: xhat,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xh, iv] = saved;
          const mdy = tf.mean(dy, _AXES, true);
          const mdyx = tf.mean(tf.mul(dy, xh), _AXES, true);
          return tf.mul(tf.sub(tf.sub(dy, mdy), tf.mul(xh, mdyx)), iv);
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  )(x) as tf.Tensor;

/**
 * [B, H, W, C] → [B, 2H, 2W, C]: "repeat" copies each pixel into its 2×2 block (nearest ×2
 * upsampling); "zeros" puts x at the even rows and columns and zeros elsewhere (the stride-2
 * spreading of a conv gradient). One broadcast multiply, x as [B·H, 1, W, 1, C] times a
 * [1, 2, 1, 2, 1] pattern, then a reshape: rank 5, which every backend runs, and whose
 * gradient is a plain reduction (a stack-based version spent 1.8 s of a 5.6 s wasm training
 * step in the Unpack kernel of its gradient).
 */
export function _spread2x(x: tf.Tensor, mode: "repeat" | "zeros"): tf.Tensor {
  const [B, H, W, C] = x.shape;
  return tf.tidy(() => {
    const x5 = tf.reshape(x, [B * H, 1, W, 1, C]);
    const pattern = tf.tensor(mode === "repeat" ? [1, 1, 1, 1] : [1, 0, 0, 0], [1, 2, 1, 2, 1]);
    return tf.reshape(tf.mul(x5, pattern), [B, 2 * H, 2 * W, C]); // [B·H, 2, W, 2, C] → …
  });
}

/**
 * Nearest-neighbour ×2 upsampling, [B, H, W, C] → [B, 2H, 2W, C], by {@linkcode _spread2x}
 * rather than tf.image.resizeNearestNeighbor, whose gradient is wrong on tfjs-backend-wasm 4.22.
 */
export function _upsample2x(x: tf.Tensor): tf.Tensor {
  return _spread2x(x, "repeat");
}

/**
 * Dropout with the masks of rows [start, start + B) of a batch of `of` (B = x.shape[0]): the
 * rows of the mask tf.dropout(·, rate, undefined, seed) would draw for the whole batch, so a
 * batch split into shards sees the masks of the unsplit batch. Without rows: tf.dropout itself.
 */
export function _dropout(
  x: tf.Tensor,
  rate: number,
  seed: string,
  rows?: { start: number; of: number },
): tf.Tensor {
  if (!rows) return tf.dropout(x, rate, undefined, seed);
  const keep = 1 - rate;
  // tf.dropout's multiplier ⌊u + keep⌋ / keep, u ~ U[0, 1) of the whole batch [of, ...]
  const u = tf.randomUniform([rows.of, ...x.shape.slice(1)], 0, 1, "float32", seed);
  const mask = tf.div(tf.floor(tf.add(tf.slice(u, rows.start, x.shape[0]), keep)), keep);
  return tf.mul(x, mask);
}
