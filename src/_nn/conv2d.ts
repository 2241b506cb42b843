// Internal: 3×3 convolution whose gradients are themselves convolutions. tfjs-backend-wasm
// has no Conv2DBackpropFilter kernel and a slow Conv2DBackpropInput, while its forward Conv2D
// (XNNPACK) is fast; so both gradients are written as forward convolutions, which run on
// wasm, cpu and webgpu alike.
import * as tf from "@tensorflow/tfjs-core";
import { _spread2x } from "./layers.ts";

type Conv = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;

function _validConv(stride: 1 | 2): Conv {
  const f = (x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    const xi = x as tf.Tensor4D, wi = w as tf.Tensor4D; // [B, Hp, Wp, Ci], [3, 3, Ci, Co]
    save([xi, wi]);
    const value = tf.conv2d(xi, wi, stride, "valid"); // [B, Ho, Wo, Co]
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
      const dy4 = dy as tf.Tensor4D;
      return [_inputGrad(dy4, ws, xs.shape, stride), _filterGrad(xs, dy4, ws.shape, stride)];
    };
    return { value, gradFunc };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as Conv;
}

/**
 * dx[b, i, j, ci] = Σ_{kh,kw,co} dy↑[b, i - kh, j - kw, co] · w[kh, kw, ci, co], where dy↑ is dy
 * with s - 1 zeros between its entries: a "full" convolution of dy↑ with the kernel rotated
 * by 180° and its channel axes swapped.
 */
function _inputGrad(
  dy: tf.Tensor4D,
  w: tf.Tensor4D,
  xShape: [number, number, number, number],
  stride: 1 | 2,
): tf.Tensor4D {
  const [, Hp, Wp] = xShape;
  const [K1, K2] = w.shape;
  // dy↑: [B, s·Ho, s·Wo, Co], zeros between the entries for stride 2
  const up = (stride === 2 ? _spread2x(dy, "zeros") : dy) as tf.Tensor4D;
  const [Hu, Wu] = [up.shape[1], up.shape[2]];
  // pad K-1 before, and after so that the valid output is [Hp, Wp]
  const padded = tf.pad(up, [[0, 0], [K1 - 1, Hp - Hu], [K2 - 1, Wp - Wu], [0, 0]]);
  const wRot = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]); // [3, 3, Co, Ci]
  return tf.conv2d(padded, wRot as tf.Tensor4D, 1, "valid"); // [B, Hp, Wp, Ci]
}

/**
 * dW[kh, kw, ci, co] = Σ_{b,y,x} x[b, s·y + kh, s·x + kw, ci] · dy[b, y, x, co]: a convolution
 * of x (ci as batch, b as channels) with dy (b as input, co as output channels) dilated by s.
 */
function _filterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  wShape: [number, number, number, number],
  stride: number,
): tf.Tensor4D {
  const [K1, K2] = wShape;
  const xt = tf.transpose(x, [3, 1, 2, 0]); // [Ci, Hp, Wp, B]
  const f = tf.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, B, Co]
  const g = tf.conv2d(xt, f, 1, "valid", "NHWC", stride); // [Ci, ≥3, ≥3, Co]
  const [Ci, , , Co] = g.shape;
  const dw = tf.slice(g, [0, 0, 0, 0], [Ci, K1, K2, Co]); // [Ci, 3, 3, Co]
  return tf.transpose(dw, [1, 2, 0, 3]); // [3, 3, Ci, Co]
}

const _CONVS = { 1: _validConv(1), 2: _validConv(2) };

/**
 * 3×3 convolution with zero padding 1 on each side (PyTorch's `padding=1`), stride 1 or 2,
 * plus bias: x [B, H, W, Ci], w [3, 3, Ci, Co], b [Co] → [B, ⌈H/s⌉, ⌈W/s⌉, Co]. With
 * padding "same" (stride 2, even H and W) one zero row and column at the bottom and right only:
 * TensorFlow's SAME padding at stride 2, the same output size.
 */
export function _conv3x3(
  x: tf.Tensor,
  w: tf.Tensor,
  b: tf.Tensor,
  stride: 1 | 2 = 1,
  padding: "symmetric" | "same" = "symmetric",
): tf.Tensor {
  const before = padding === "same" && stride === 2 ? 0 : 1;
  // [B, H+1+before, W+1+before, Ci]
  const xp = tf.pad(x as tf.Tensor4D, [[0, 0], [before, 1], [before, 1], [0, 0]]);
  return tf.add(_CONVS[stride](xp, w as tf.Tensor4D), b);
}
