// The diffusion classifier (Li et al. 2023): its errors against a float64 reference, the exact
// oracle of a two-class Gaussian mixture (the guess is the Bayes classifier's), rows of a batch
// classified alike however the batch is split, bad input, and no tensors left behind.
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { diffusionClassify, type EpsModel, makeSchedule } from "../mod.ts";
import { _randomNormal } from "../src/_random.ts";
import { _classifyNoise } from "../src/_streams.ts";
import { refOracleEps } from "./reference.ts";
import { useBackend } from "./_helpers.ts";
import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";

/** ε̂ = a·x_t + b·t/T + c·y elementwise: each class predicts a different constant shift. */
const linear = (a: number, b: number, c: number, T: number): EpsModel => (x, t, y) =>
  tf.tidy(() => {
    const shift = tf.add(tf.mul(tf.cast(t, "float32"), b / T), tf.mul(tf.cast(y!, "float32"), c));
    return tf.add(tf.mul(x, a), tf.reshape(shift, [-1, ...x.shape.slice(1).map(() => 1)]));
  });

Deno.test("diffusionClassify: Σ_t mean (ε − ε̂(x_t, t, y))² per class, against a float64 reference", async () => {
  await useBackend("cpu");
  const s = makeSchedule({ kind: "linear", T: 50 });
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 5 }), // images
      fc.integer({ min: 2, max: 4 }), // classes
      fc.uniqueArray(fc.integer({ min: 0, max: 49 }), { minLength: 1, maxLength: 3 }),
      fc.double({ min: -1, max: 1, noNaN: true }),
      fc.double({ min: -1, max: 1, noNaN: true }),
      fc.integer({ min: 0, max: 1000 }),
      async (N, K, ts, a, c, seed) => {
        const D = 3;
        const x0 = Float32Array.from({ length: N * D }, (_, i) => ((i * 5) % 9 - 4) / 4);
        const [af, cf] = [Math.fround(a), Math.fround(c)];
        const model = linear(af, 0.5, cf, s.T);
        const x = tf.tensor2d(x0, [N, D]);
        const got = await diffusionClassify(model, s, x, {
          numClasses: K,
          timesteps: ts,
          seed,
          batch: K * 2,
        });
        x.dispose();
        const ref = new Float64Array(N * K);
        for (const t of ts) {
          const noise = _randomNormal([N, D], seed, _classifyNoise(t));
          const e = noise.dataSync();
          noise.dispose();
          const [sa, sb] = [s.sqrtAlphasCumprod[t], s.sqrtOneMinusAlphasCumprod[t]];
          for (let n = 0; n < N; n++) {
            for (let k = 0; k < K; k++) {
              let sum = 0;
              for (let d = 0; d < D; d++) {
                const xt = sa * x0[n * D + d] + sb * e[n * D + d];
                const pred = af * xt + 0.5 * t / s.T + cf * k;
                sum += (e[n * D + d] - pred) ** 2;
              }
              ref[n * K + k] += sum / D;
            }
          }
        }
        // each term is a square of float32 values O(1–10), summed over ≤ 3 timesteps: a few
        // float32 roundings, 1e-5 relative to the sum
        for (let i = 0; i < N * K; i++) {
          if (!(Math.abs(got.errors[i] - ref[i]) <= 1e-5 * (1 + ref[i]))) return false;
        }
        for (let n = 0; n < N; n++) {
          const row = Array.from(ref.subarray(n * K, (n + 1) * K));
          const best = row.indexOf(Math.min(...row));
          // the guess is the least error's class (ties within rounding excepted)
          const tie = row.filter((v) => Math.abs(v - row[best]) <= 1e-5 * (1 + v)).length > 1;
          if (!tie && got.classes[n] !== best) return false;
        }
        return true;
      },
    ),
    { seed: 7, numRuns: 40 },
  );
});

Deno.test("diffusionClassify: with the exact ε of a two-class Gaussian mixture the guess is the nearest class mean", async () => {
  await useBackend("cpu");
  // class k: x0 ~ N(m_k, 0.5²) in each of 16 dimensions, m = ∓1; the class's exact ε is
  // refOracleEps's. The expected error of class k grows with (x0 − m_k)², so the guess is the
  // Bayes classifier's (nearest mean); at D = 16 the paired Monte Carlo term is far smaller.
  const s = makeSchedule({ kind: "linear", T: 1000 });
  const means = [-1, 1], sd = 0.5, D = 16, N = 40;
  const abar = tf.tensor1d(Array.from(s.alphasCumprod));
  const oracle: EpsModel = (xt, t, y) =>
    tf.tidy(() => {
      const ab = tf.reshape(tf.gather(abar, t), [-1, 1]);
      const m = tf.reshape(tf.gather(tf.tensor1d(means), y!), [-1, 1]);
      // √(1−ᾱ)(x_t − √ᾱ m) / (ᾱ s² + 1 − ᾱ)
      const num = tf.mul(tf.sqrt(tf.sub(1, ab)), tf.sub(xt, tf.mul(tf.sqrt(ab), m)));
      return tf.div(num, tf.add(tf.mul(ab, sd * sd), tf.sub(1, ab)));
    });
  // the oracle against the float64 formula at one point
  const check = tf.tidy(() =>
    oracle(tf.tensor2d([[0.3]]), tf.tensor1d([400], "int32"), tf.tensor1d([1], "int32"))
      .dataSync()[0]
  );
  const want = refOracleEps(s.alphasCumprod[400], 0.3, 1, sd);
  assertTrue(Math.abs(check - want) < 1e-5, `oracle ${check} against ${want}`);
  const labels = Array.from({ length: N }, (_, i) => i % 2);
  const x0 = tf.tidy(() =>
    tf.add(
      tf.mul(_randomNormal([N, D], 3), sd),
      tf.reshape(tf.tensor1d(labels.map((k) => means[k])), [-1, 1]),
    )
  );
  const bayes = tf.tidy(() => tf.greater(tf.mean(x0, 1), 0).dataSync());
  const { classes } = await diffusionClassify(oracle, s, x0, {
    numClasses: 2,
    timesteps: [200, 400, 600],
    seed: 1,
  });
  assertEquals(Array.from(classes), Array.from(bayes, Number));
  assertEquals(Array.from(classes), labels); // the classes are 8 standard errors apart
  tf.dispose([x0, abar]);
});

Deno.test("diffusionClassify: rows of a batch get the same errors however the batch is split", async () => {
  await useBackend("cpu");
  const s = makeSchedule({ kind: "linear", T: 40 });
  const model = linear(0.3, 1, 0.2, s.T);
  const x = tf.randomNormal([5, 2, 2, 1], 0, 1, "float32", 4);
  const opts = { numClasses: 3, timesteps: [3, 11], seed: 9 };
  const whole = await diffusionClassify(model, s, x, opts);
  const parts = [[0, 2], [2, 5]].map(([a, b]) => tf.slice(x, a, b - a));
  const got = [
    await diffusionClassify(model, s, parts[0], { ...opts, rows: { start: 0, of: 5 } }),
    await diffusionClassify(model, s, parts[1], { ...opts, rows: { start: 2, of: 5 }, batch: 3 }),
  ];
  assertEquals(
    [...got[0].errors, ...got[1].errors],
    Array.from(whole.errors),
  );
  tf.dispose([x, ...parts]);
});

Deno.test("diffusionClassify: bad input gets one clear error each, and no tensor is left behind", async () => {
  await useBackend("cpu");
  const s = makeSchedule({ kind: "linear", T: 40 });
  const model = linear(0.3, 1, 0.2, s.T);
  const x = tf.zeros([2, 3]);
  const before = tf.memory().numTensors;
  await diffusionClassify(model, s, x, { numClasses: 4, timesteps: [1, 39], seed: 0 });
  assertEquals(tf.memory().numTensors, before);
  const bad: [Record<string, unknown>, string][] = [
    [{ numClasses: 1 }, "numClasses must be an integer >= 2, got 1"],
    [{ timesteps: [40] }, "timesteps must be distinct integers in [0, 39], got [40]"],
    [{ timesteps: [3, 3] }, "timesteps must be distinct integers"],
    [{ timesteps: [] }, "timesteps must be distinct integers"],
    [{ rows: { start: 1, of: 2 } }, "rows must hold the 2 images within the batch"],
    [{ batch: 3 }, "batch must be an integer >= numClasses, got 3"],
  ];
  for (const [change, msg] of bad) {
    await assertRejects(
      () =>
        diffusionClassify(model, s, x, {
          numClasses: 4,
          timesteps: [1],
          seed: 0,
          ...change,
        } as never),
      RangeError,
      msg,
    );
  }
  await assertRejects(
    () => diffusionClassify(null as never, s, x, { numClasses: 2, timesteps: [1], seed: 0 }),
    TypeError,
    "model",
  );
  x.dispose();
});
