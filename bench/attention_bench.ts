// deno bench -A bench/attention_bench.ts: attention's two batched products (q·kᵀ, then
// softmax(·)·v), forward and backward, on wasm: one tfjs BatchMatMul (a scalar loop there)
// against the same products slice by slice on XNNPACK, at the mnist preset's 7×7 attention
// (batch 32, 64 channels) and cifar10's 16×16 (batch 8, 256 channels). src/_nn/matmul.ts's
// `_batchMatMul` goes slice by slice on wasm: as fast at mnist's size, several times faster at
// cifar10's.
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend.ts";
import { _batchMatMul } from "../src/_nn/matmul.ts";

await initBackend("wasm");

type BatchMatMul = (a: tf.Tensor3D, b: tf.Tensor3D, ta: boolean, tb: boolean) => tf.Tensor3D;

function attention(B: number, HW: number, C: number, product: BatchMatMul) {
  const [q, k, v] = [1, 2, 3].map((seed) =>
    tf.variable(tf.randomNormal([B, HW, C], 0, 1, "float32", seed))
  );
  return () => {
    const { value, grads } = tf.variableGrads(() => {
      const w = tf.softmax(
        tf.mul(product(q as tf.Tensor3D, k as tf.Tensor3D, false, true), 1 / Math.sqrt(C)),
      );
      return tf.sum(product(w as tf.Tensor3D, v as tf.Tensor3D, false, false)) as tf.Scalar;
    });
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
}

const single: BatchMatMul = (a, b, ta, tb) => tf.matMul(a, b, ta, tb);
for (
  const [name, B, HW, C] of [["mnist 7×7", 32, 49, 64], ["cifar10 16×16", 8, 256, 256]] as const
) {
  const group = `attention products ${name}, forward + backward`;
  Deno.bench(
    "slice by slice (baseline)",
    { group, baseline: true, n: 10, warmup: 2 },
    attention(B, HW, C, _batchMatMul),
  );
  Deno.bench("one BatchMatMul", { group, n: 10, warmup: 2 }, attention(B, HW, C, single));
}
