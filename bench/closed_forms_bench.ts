// deno bench -A bench/: closed forms and one sampler step per element, on the cpu backend,
// each in a group whose baseline is a plain tf.add of the same size measured in the same run,
// so the report prints ratios against it rather than bare timings.
import * as tf from "@tensorflow/tfjs-core";
import { forwardNoise, initBackend, makeSchedule, posterior, pSample } from "../mod.ts";

await initBackend((Deno.env.get("DDPM_BENCH_BACKEND") ?? "cpu") as "cpu");
const s = makeSchedule({ kind: "linear", T: 1000 });
const shape = [32, 28, 28, 1]; // an MNIST batch: 25,088 elements
const x0 = tf.randomNormal(shape), noise = tf.randomNormal(shape);
const t = tf.tensor1d(Array.from({ length: 32 }, (_, i) => i * 31), "int32");
const model = (xt: tf.Tensor) => tf.mul(xt, 0.1);

Deno.bench("tf.add baseline [32,28,28,1]", { group: "closed forms", baseline: true }, async () => {
  const y = tf.add(x0, noise);
  await y.data();
  y.dispose();
});
Deno.bench("forwardNoise [32,28,28,1]", { group: "closed forms" }, async () => {
  const y = forwardNoise(s, { x0, t, noise });
  await y.data();
  y.dispose();
});
Deno.bench("posterior [32,28,28,1]", { group: "closed forms" }, async () => {
  const p = posterior(s, { x0, xt: noise, t });
  await p.mean.data();
  tf.dispose([p.mean, p.variance, p.logVariance]);
});
Deno.bench("pSample step [32,28,28,1]", { group: "closed forms" }, async () => {
  const y = pSample(model, s, { xt: x0, t, noise });
  await y.data();
  y.dispose();
});
