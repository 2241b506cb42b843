// WGSL programs against the plain tfjs composition they replace, on webgpu (Mesa's llvmpipe or
// lavapipe on machines without a GPU).
import * as tf from "@tensorflow/tfjs-core";
import { _groupNormSiluWebGPU } from "../src/webgpu/group_norm_silu.ts";
import { _groupNorm, _groupNormSilu, _silu } from "../src/unet/_layers.ts";
import { assertClose, read, useBackend } from "./_helpers.ts";
import { assertEquals, assertTrue } from "./_assert.ts";

Deno.test({
  name: "webgpu: the fused GroupNorm+SiLU program matches tfjs's composition (U-Net shapes)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("webgpu");
    const shapes = [[2, 3, 4, 8, 4], [4, 28, 28, 32, 8], [3, 7, 7, 64, 8], [2, 8, 8, 128, 32]];
    for (const [B, H, W, C, G] of shapes) {
      // offset and spread so that a wrong mean or variance shows
      const x = tf.tidy(() =>
        tf.add(tf.mul(tf.randomNormal([B, H, W, C], 0, 1, "float32", 1), 3), 1.5)
      );
      const g = tf.randomNormal([C], 1, 0.2, "float32", 2);
      const b = tf.randomNormal([C], 0, 0.2, "float32", 3);
      const want = await read(_silu(_groupNorm(x, g, b, G)));
      const got = await read(_groupNormSiluWebGPU(x, g, b, G));
      // float32 sums over ≤ 7,000 values in a different order: measured ≤ 1e-6
      assertClose(got, want, `[${B},${H},${W},${C}] G=${G}`, { atol: 1e-5, rtol: 1e-5 });
      tf.dispose([x, g, b]);
    }
  },
});

Deno.test({
  name: "webgpu: _groupNormSilu fuses only outside tf.grad, and its gradient is the composition's",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("webgpu");
    const x = tf.randomNormal([2, 4, 4, 8], 0, 1, "float32", 4);
    const g = tf.ones([8]), b = tf.zeros([8]);
    const before = tf.memory().numTensors;
    const y = _groupNormSilu(x, g, b, 4);
    assertEquals(tf.memory().numTensors, before + 1, "one output, no intermediates");
    y.dispose();
    const grad = tf.grad((v: tf.Tensor) => tf.sum(_groupNormSilu(v, g, b, 4)))(x);
    const want = tf.grad((v: tf.Tensor) => tf.sum(_silu(_groupNorm(v, g, b, 4))))(x);
    const [gv, wv] = [await read(grad), await read(want)];
    assertClose(gv, wv, "gradient", { atol: 1e-6, rtol: 1e-5 });
    assertTrue(gv.some((v) => v !== 0), "a non-trivial gradient");
    tf.dispose([x, g, b]);
  },
});
