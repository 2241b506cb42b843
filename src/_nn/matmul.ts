// Internal: a 2-D matrix product whose gradients avoid transposed products on wasm.
// tfjs-backend-wasm sends a product to XNNPACK only when neither operand is transposed (and
// the batch is 1); tfjs's own gradient of matMul asks for dy·bᵀ and aᵀ·dy, which fall to a
// scalar triple loop there, 5–10× slower. On wasm the transposes are materialized first.
import * as tf from "@tensorflow/tfjs-core";

type MatMul = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** dy · bᵀ or aᵀ · dy as a product XNNPACK takes on wasm, a transposed product elsewhere. */
function _product(x: tf.Tensor2D, y: tf.Tensor2D, tx: boolean, ty: boolean): tf.Tensor2D {
  if (tf.getBackend() !== "wasm") return tf.matMul(x, y, tx, ty);
  return tf.matMul(tx ? tf.transpose(x) : x, ty ? tf.transpose(y) : y);
}

/**
 * a [N, K] · b [K, M] → [N, M], with dA = dy · bᵀ and dB = aᵀ · dy computed by
 * {@link _product}.
 */
export const _matMul: MatMul = tf.customGrad(
  ((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    save([a, b]);
    const value = tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D); // [N, M]
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor2D, tf.Tensor2D];
      const d = dy as tf.Tensor2D; // [N, M]
      return [_product(d, bs, false, true), _product(as, d, true, false)]; // [N, K], [K, M]
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0],
) as unknown as MatMul;

/**
 * Batched product a [B, N, K] · b [B, K, M] → [B, N, M] (either operand optionally transposed
 * on its last two axes). On wasm, where tfjs-backend-wasm runs every batched product as a
 * scalar loop, it is B products {@link _matMul} of the slices; elsewhere tfjs's matMul.
 */
export function _batchMatMul(
  a: tf.Tensor3D,
  b: tf.Tensor3D,
  transposeA = false,
  transposeB = false,
): tf.Tensor3D {
  if (tf.getBackend() !== "wasm") return tf.matMul(a, b, transposeA, transposeB);
  const as = _slices(transposeA ? tf.transpose(a, [0, 2, 1]) : a); // B × [N, K]
  const bs = _slices(transposeB ? tf.transpose(b, [0, 2, 1]) : b); // B × [K, M]
  const products = as.map((ai, i) => _matMul(ai, bs[i])); // B × [N, M]
  return (products.length === 1 ? tf.expandDims(products[0]) : tf.stack(products)) as tf.Tensor3D;
}

/**
 * x [B, R, C] → B × [R, C]. B = 1 is a reshape: tfjs's gradient of a one-output unstack
 * hands stack a lone tensor instead of an array and throws.
 */
function _slices(x: tf.Tensor3D): tf.Tensor2D[] {
  const [B, R, C] = x.shape;
  return (B === 1 ? [tf.reshape(x, [R, C])] : tf.unstack(x)) as tf.Tensor2D[];
}
