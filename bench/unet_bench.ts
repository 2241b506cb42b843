// deno bench -A bench/: the mnist-preset U-Net at batch 4 on DDPM_BENCH_BACKEND (default wasm):
// one no-grad forward pass is the baseline, and the training step (the trainer's own: L_simple,
// backward, clipping, Adam, EMA) and a full pSample step are reported as ratios against it.
// Bigger batches, other presets and the PyTorch comparison: `deno task bench:report`.
import * as tf from "@tensorflow/tfjs-core";
import { createUNet, initBackend, makeSchedule, pSample, unetPresets } from "../mod.ts";
import { _adamInit } from "../src/_nn/adam.ts";
import { _paperStep } from "./_paper_step.ts";

await initBackend((Deno.env.get("DDPM_BENCH_BACKEND") ?? "wasm") as "wasm");
const B = 4, cfg = unetPresets.mnist;
const net = createUNet(cfg, { seed: 0 }), emaNet = createUNet(cfg, { seed: 0 });
const adam = _adamInit(net.params);
const s = makeSchedule({ kind: "linear", T: 1000 });
const x0 = tf.randomUniform([B, 28, 28, 1], -1, 1, "float32", 1);
const t = tf.tensor1d(new Int32Array(B).fill(500), "int32");
let k = 0;
const opts = { n: 5, warmup: 1, group: "U-Net mnist b4" };

Deno.bench("U-Net forward (baseline)", { ...opts, baseline: true }, async () => {
  const y = net(x0, t);
  await y.data();
  y.dispose();
});
Deno.bench("pSample step (forward + posterior + noise)", opts, async () => {
  const y = pSample(net, s, { xt: x0, t: 500, seed: 1 });
  await y.data();
  y.dispose();
});
Deno.bench("training step (forward + backward + clip + Adam + EMA)", opts, async () => {
  k++;
  await _paperStep({ net, emaNet, adam }, s, x0, k);
});
