// deno bench -A bench/: each WGSL program against the plain tfjs composition it replaces, on
// webgpu (Mesa's llvmpipe on a machine without a GPU — timings there say little about a GPU,
// but the ratio shows the saved passes), the composition being the baseline.
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../mod.ts";
import { _groupNorm, _silu } from "../src/unet/_layers.ts";
import { _groupNormSiluWebGPU } from "../src/webgpu/group_norm_silu.ts";

await initBackend("webgpu");
const [B, H, W, C, G] = [16, 28, 28, 32, 8]; // the mnist U-Net's first level at batch 16
const x = tf.randomNormal([B, H, W, C], 0, 1, "float32", 1);
const g = tf.ones([C]), b = tf.zeros([C]);
const opts = { group: "GroupNorm+SiLU [16,28,28,32] webgpu", n: 20, warmup: 3 };

Deno.bench("tfjs composition (baseline)", { ...opts, baseline: true }, async () => {
  const y = tf.tidy(() => _silu(_groupNorm(x, g, b, G)));
  await y.data();
  y.dispose();
});
Deno.bench("fused WGSL program", opts, async () => {
  const y = _groupNormSiluWebGPU(x, g, b, G);
  await y.data();
  y.dispose();
});
