// Internal to the benchmarks: floating-point operations of one tfjs kernel call, from the
// shapes `tf.profile` records. Convolutions and matrix products count 2 per multiply-add
// (their gradients likewise: each is one product of the same size); every other kernel counts
// one per output element (elementwise ops, reductions, copies), a floor that is exact for
// additions and products and low for exp or rsqrt.

const _size = (s: number[] | undefined) => (s ? s.reduce((p, d) => p * d, 1) : 0);

/** FLOPs of the kernel `name` with these input and output shapes. */
export function _kernelFlops(
  name: string,
  inputs: (number[] | undefined)[],
  outputs: (number[] | undefined)[],
  _extra?: unknown,
): number {
  const out = outputs[0];
  switch (name) {
    case "Conv2D":
    case "FusedConv2D": {
      // x [N, H, W, ci], filter [kh, kw, ci, co], y [N, Ho, Wo, co]
      const f = inputs[1]!;
      return 2 * _size(out) * f[0] * f[1] * f[2];
    }
    case "Conv2DBackpropInput": {
      // dy [N, Ho, Wo, co], filter [kh, kw, ci, co]: the forward's product
      const f = inputs[1]!;
      return 2 * _size(inputs[0]) * f[0] * f[1] * f[2];
    }
    case "Conv2DBackpropFilter": {
      // x, dy [N, Ho, Wo, co], dw [kh, kw, ci, co]
      const w = out!;
      return 2 * _size(inputs[1]) * w[0] * w[1] * w[2];
    }
    case "BatchMatMul":
    case "_FusedMatMul": {
      // a [b, m, k], b [b, k, n] (either transposed), out [b, m, n]: k from the sizes
      const a = inputs[0]!, bm = inputs[1]!;
      const batch = out!.slice(0, -2).reduce((p, d) => p * d, 1);
      const k = Math.round(Math.sqrt((_size(a) * _size(bm)) / (_size(out) * batch)));
      return 2 * _size(out) * k;
    }
    default:
      return outputs.reduce((a: number, s) => a + _size(s), 0);
  }
}
