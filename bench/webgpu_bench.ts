// deno bench -A bench/: each WGSL program against the plain tfjs composition it replaces, on
// webgpu (Mesa's llvmpipe on a machine without a GPU — timings there say little about a GPU,
// but the ratio shows the saved passes), the composition being the baseline.
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, makeSchedule, pMeanVariance, pSample, timestepEmbedding } from "../mod.ts";
import { _dense, _groupNorm, _groupNormSilu, _silu } from "../src/_nn/layers.ts";
import { _fusedGroupNormSilu, _fusedTimestepMlp } from "../src/_fusion.ts";
import { _sinusoidFrequencies } from "../src/unet/_sinusoid.ts";

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
  const y = _fusedGroupNormSilu(x, g, b, G, 1e-5)!;
  await y.data();
  y.dispose();
});

// The same layer under tf.grad (training): value and the gradients for x, γ and β.
const r = tf.randomNormal([B, H, W, C], 0, 1, "float32", 7);
const grad = { group: "GroupNorm+SiLU gradient [16,28,28,32] webgpu", n: 20, warmup: 3 };
const gradOf = (f: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
  tf.grads((xv: tf.Tensor, gv: tf.Tensor, bv: tf.Tensor) => tf.sum(tf.mul(f(xv, gv, bv), r)));
Deno.bench("tfjs composition (baseline)", { ...grad, baseline: true }, async () => {
  const gs = gradOf((xv, gv, bv) => _silu(_groupNorm(xv, gv, bv, G)))([x, g, b]);
  await Promise.all(gs.map((v) => v.data()));
  tf.dispose(gs);
});
Deno.bench("fused WGSL programs", grad, async () => {
  const gs = gradOf((xv, gv, bv) => _groupNormSilu(xv, gv, bv, G))([x, g, b]);
  await Promise.all(gs.map((v) => v.data()));
  tf.dispose(gs);
});

// One ancestral sampling step's arithmetic after the model (the model here returns a fixed
// tensor, so the step itself is what is timed): pMeanVariance's composition plus σ_t z, which
// pSample ran before the fused program, against pSample with the program.
const s = makeSchedule({ kind: "linear", T: 1000 });
const xt = tf.randomNormal([64, 28, 28, 1], 0, 1, "float32", 2);
const eps = tf.randomNormal([64, 28, 28, 1], 0, 1, "float32", 3);
const z = tf.randomNormal([64, 28, 28, 1], 0, 1, "float32", 4);
const model = () => tf.clone(eps);
const step = { group: "pSample step [64,28,28,1] webgpu", n: 30, warmup: 3 };

Deno.bench("pMeanVariance + σz composition (baseline)", { ...step, baseline: true }, async () => {
  const y = tf.tidy(() => {
    const p = pMeanVariance(model, s, { xt, t: 500, checkFinite: false });
    return tf.add(p.mean, tf.mul(tf.exp(tf.mul(0.5, p.logVariance)), z));
  });
  await y.data();
  y.dispose();
});
Deno.bench("fused WGSL program (pSample)", step, async () => {
  const y = pSample(model, s, { xt, t: 500, noise: z, checkFinite: false });
  await y.data();
  y.dispose();
});

// The U-Net's timestep branch, SiLU(Dense₁(SiLU(Dense₀(sinusoidal(t))))), at the mnist widths
// (ch 32, hidden 128) and batch 16.
const tb = tf.tensor1d(Array.from({ length: 16 }, (_, i) => 60 * i), "int32");
const [w0, b0] = [tf.randomNormal([32, 128], 0, 0.1, "float32", 5), tf.zeros([128])];
const [w1, b1] = [tf.randomNormal([128, 128], 0, 0.1, "float32", 6), tf.zeros([128])];
const mlp = { group: "timestep MLP [16] → [16,128] webgpu", n: 50, warmup: 5 };

Deno.bench("tfjs composition (baseline)", { ...mlp, baseline: true }, async () => {
  const y = tf.tidy(() => _silu(_dense(_silu(_dense(timestepEmbedding(tb, 32), w0, b0)), w1, b1)));
  await y.data();
  y.dispose();
});
Deno.bench("fused WGSL program", mlp, async () => {
  const y = tf.tidy(() =>
    _fusedTimestepMlp(tb, _sinusoidFrequencies(32), [w0, b0, w1, b1], false)!
  );
  await y.data();
  y.dispose();
});
// Why the timestep MLP has no gradient program: its whole forward + backward (tfjs's gradient of
// the composition, as training runs it) is timed here beside one residual block's convolution
// with its gradient — the unit of the U-Net's ~30 conv layers. What a fused gradient program
// could save is bounded by the MLP's share of a training step (bench/README.md's step times).
const mlpGrad = {
  group: "timestep MLP forward + backward vs one conv 3×3 [16,28,28,32] webgpu",
  n: 20,
  warmup: 3,
};
const xc = tf.randomNormal([16, 28, 28, 32], 0, 1, "float32", 7);
const wc = tf.randomNormal([3, 3, 32, 32], 0, 0.1, "float32", 8);
Deno.bench("conv 3×3 forward + backward (baseline)", { ...mlpGrad, baseline: true }, async () => {
  const g = tf.grads((x: tf.Tensor, w: tf.Tensor) =>
    tf.sum(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same"))
  )([xc, wc]);
  await Promise.all(g.map((t) => t.data()));
  tf.dispose(g);
});
Deno.bench("timestep MLP forward + backward (composition)", mlpGrad, async () => {
  const g = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) =>
    tf.sum(_silu(_dense(_silu(_dense(timestepEmbedding(tb, 32), a, c)), d, e)))
  )([w0, b0, w1, b1]);
  await Promise.all(g.map((t) => t.data()));
  tf.dispose(g);
});
