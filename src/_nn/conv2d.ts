// Internal: 3×3 convolution whose gradients are themselves convolutions. tfjs-backend-wasm
// has no Conv2DBackpropFilter kernel and a slow Conv2DBackpropInput, while its forward Conv2D
// (XNNPACK) is fast; so both gradients are written as forward convolutions, which run on
// wasm, cpu and webgpu alike. The zero padding is the convolutions' own (explicit padding),
// never a padded copy.
import * as tf from "@tensorflow/tfjs-core";
import { _spread2x } from "./layers.ts";

type Pads = [[number, number], [number, number], [number, number], [number, number]];
type Conv = (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D;

/**
 * x [B, H, W, Ci] ⊛ w [3, 3, Ci, Co] + b with zero padding `top` rows above and `left` columns
 * before x and one row and column after it, as one fused kernel (the padding and the bias
 * inside the convolution: no padded copy of x, no separate add).
 */
function _paddedConv(stride: 1 | 2, before: 0 | 1): Conv {
  const pads: Pads = [[0, 0], [before, 1], [before, 1], [0, 0]];
  const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const xi = x as tf.Tensor4D, wi = w as tf.Tensor4D;
    save([xi, wi]);
    const value = tf.fused.conv2d({ x: xi, filter: wi, strides: stride, pad: pads, bias: b });
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
      const dy4 = dy as tf.Tensor4D;
      return [
        _inputGrad(dy4, ws, xs.shape, stride, before),
        _filterGrad(xs, dy4, ws.shape, stride, pads),
        tf.sum(dy4, [0, 1, 2]),
      ];
    };
    return { value, gradFunc };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as Conv;
}

/**
 * dx[b, i, j, ci] = Σ_{kh,kw,co} dy↑[b, i + p - kh, j + p - kw, co] · w[kh, kw, ci, co], where
 * dy↑ is dy with s - 1 zeros between its entries and p the padding before x: a convolution of
 * dy↑ with the kernel rotated by 180° and its channel axes swapped, padded by K - 1 - p before
 * and as much after as gives x's size (the "full" convolution cropped to x, with no crop).
 */
function _inputGrad(
  dy: tf.Tensor4D,
  w: tf.Tensor4D,
  xShape: [number, number, number, number],
  stride: 1 | 2,
  before: 0 | 1,
): tf.Tensor4D {
  const [, H, W] = xShape;
  const [K1, K2] = w.shape;
  // dy↑: [B, s·Ho, s·Wo, Co], zeros between the entries for stride 2
  const up = (stride === 2 ? _spread2x(dy, "zeros") : dy) as tf.Tensor4D;
  const [Hu, Wu] = [up.shape[1], up.shape[2]];
  const pads: Pads = [[0, 0], [K1 - 1 - before, H + before - Hu], [
    K2 - 1 - before,
    W + before - Wu,
  ], [0, 0]];
  const wRot = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]); // [3, 3, Co, Ci]
  return tf.conv2d(up, wRot as tf.Tensor4D, 1, pads); // [B, H, W, Ci]
}

/**
 * dW[kh, kw, ci, co] = Σ_{b,y,x} xp[b, s·y + kh, s·x + kw, ci] · dy[b, y, x, co] with xp the
 * zero-padded x: a convolution of x (ci as batch, b as channels, padded like the forward
 * convolution) with dy (b as input, co as output channels) dilated by s.
 */
function _filterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  wShape: [number, number, number, number],
  stride: number,
  pads: Pads,
): tf.Tensor4D {
  const [K1, K2] = wShape;
  const xt = tf.transpose(x, [3, 1, 2, 0]); // [Ci, H, W, B]
  const f = tf.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, B, Co]
  const g = tf.conv2d(xt, f, 1, pads, "NHWC", stride); // [Ci, ≥3, ≥3, Co]
  const [Ci, , , Co] = g.shape;
  const dw = tf.slice(g, [0, 0, 0, 0], [Ci, K1, K2, Co]); // [Ci, 3, 3, Co]
  return tf.transpose(dw, [1, 2, 0, 3]); // [3, 3, Ci, Co]
}

const _CONVS = {
  symmetric: { 1: _paddedConv(1, 1), 2: _paddedConv(2, 1) },
  same: { 1: _paddedConv(1, 1), 2: _paddedConv(2, 0) },
};

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
  return _CONVS[padding][stride](x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D);
}
