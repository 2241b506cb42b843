// Improved DDPM (Nichol & Dhariwal 2021): the learned variance in every sampler and in the bound,
// checked against float64 references.
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import {
  createLossHistory,
  ddimSample,
  dpmSolverSampleLoop,
  hybridLoss,
  importanceProbabilities,
  importanceTimesteps,
  learnedLogVariance,
  makeSchedule,
  pMeanVariance,
  pSample,
  sampleLoop,
  type ScheduleKind,
  updateLossHistory,
  vlbTerm,
} from "../mod.ts";
import { backendTest, read, useBackend } from "./_helpers.ts";
import { loadCheckpoint, loadPipeline } from "../mod.ts";
import { train } from "../fs.ts";
import { TINY, tinyTrainOptions } from "./_tiny.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./_assert.ts";
import {
  gridValue,
  refBetas,
  refDiscretizedLogLik,
  refNormalKl,
  refPosterior,
  refSchedule,
  refX0FromEps,
} from "./reference.ts";

const SEED = Number(Deno.env.get("DDPM_FC_SEED") ?? 42);
const f32 = Math.fround;

function within(got: number, ref: number, tol: number, what: string) {
  assertTrue(Math.abs(got - ref) <= tol, `${what}: got ${got}, expected ${ref} ± ${tol}`);
}

/** |a_i − b_i| ≤ rtol·(1 + |b_i|) for every i. */
function closeAll(a: Float32Array, b: Float32Array, rtol: number, what: string) {
  assertEquals(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    within(a[i], b[i], rtol * (1 + Math.abs(b[i])), `${what}[${i}]`);
  }
}

/**
 * Float64 reference of eq. 15: log σ² = f log β_t + (1 − f) log β̃_t, f = (v + 1) / 2, with
 * β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) and β̃_0 replaced by β̃_1 (log-clipped).
 */
function refLearnedRange(kind: ScheduleKind, T: number, t: number, v: number): number {
  const r = refSchedule(refBetas(kind, T));
  const tilde = (k: number) => r.betas[k] * (1 - r.abarPrev[k]) / (1 - r.abar[k]);
  const f = (v + 1) / 2;
  return f * Math.log(r.betas[t]) + (1 - f) * Math.log(tilde(t === 0 ? 1 : t));
}

backendTest(
  "learnedLogVariance: learnedRange is eq. 15 in float64; v = ±1 are β_t and β̃_t",
  async (b) => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<ScheduleKind>("linear", "cosine", "quadratic", "sigmoid"),
        fc.integer({ min: 21, max: 1000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: -1, max: 1, noNaN: true }),
        async (kind, T, u, v) => {
          const t = Math.min(T - 1, Math.floor(u * T));
          const s = makeSchedule({ kind, T });
          const got = await read(
            learnedLogVariance(s, { v: tf.tensor2d([[f32(v), 1, -1]]), t }),
          );
          // float32: log σ² is at most |log 1e-8| ≈ 18.4, one rounding of each product: 4e-6
          const tol = 4e-6 * (1 + Math.abs(refLearnedRange(kind, T, t, v)));
          within(got[0], refLearnedRange(kind, T, t, f32(v)), tol, `v ${v}, t ${t}`);
          within(got[1], Math.log(s.betas[t]), tol, "v = 1: log β_t (fixedLarge at t ≥ 1)");
          within(got[2], s.posteriorLogVarianceClipped[t], tol, "v = -1: log β̃_t (fixedSmall)");
        },
      ),
      { seed: SEED, numRuns: b === "webgpu" ? 10 : 40 },
    );
    const s = makeSchedule({ kind: "linear", T: 100 });
    const learned = await read(
      learnedLogVariance(s, { v: tf.tensor1d([-3, 0.5]), t: 4, kind: "learned" }),
    );
    assertEquals(Array.from(learned), [-3, 0.5]);
  },
);

/**
 * A model with a learned variance: ε = 0.1·x_t on the first C channels, v = vOut on the next C.
 * Its fixed-variance twin returns the first half alone.
 */
function twins(vOut: number) {
  const eps = (xt: tf.Tensor) => tf.mul(xt, 0.1);
  const learned = (xt: tf.Tensor) => tf.concat([eps(xt), tf.fill(xt.shape, vOut)], -1);
  return { eps, learned };
}

backendTest(
  "a learned variance: the mean is the fixed model's, σ² comes from v; v = ±1 match the fixed kinds",
  async () => {
    const s = makeSchedule({ kind: "linear", T: 100 });
    const xt = tf.randomNormal([3, 4, 4, 2], 0, 1, "float32", 1);
    for (const [v, fixed] of [[1, "fixedLarge"], [-1, "fixedSmall"]] as const) {
      const { eps, learned } = twins(v);
      for (const t of [5, 50, 99]) {
        const a = pMeanVariance(learned, s, { xt, t, variance: "learnedRange" });
        const b = pMeanVariance(eps, s, { xt, t, variance: fixed });
        // the same ops on the same inputs: equal to float32 rounding of the log/exp round trip
        const [am, bm, av, bv] = await Promise.all(
          [a.mean, b.mean, a.logVariance, b.logVariance].map(read),
        );
        assertEquals(Array.from(am), Array.from(bm));
        for (let i = 0; i < av.length; i++) {
          within(av[i], bv[i], 1e-5 * Math.abs(bv[i]), `log σ² at t ${t}`);
        }
        assertEquals(a.mean.shape, xt.shape);
        assertEquals(a.variance.shape, xt.shape);
      }
    }
    xt.dispose();
  },
);

backendTest(
  "a learned variance in every sampler: DDPM draws with σ from v; DDIM and DPM-Solver++ use the first half",
  async () => {
    const s = makeSchedule({ kind: "linear", T: 50 });
    const xt = tf.randomNormal([2, 4, 4, 1], 0, 1, "float32", 3);
    const noise = tf.randomNormal([2, 4, 4, 1], 0, 1, "float32", 4);
    const { eps, learned } = twins(1);
    const before = tf.memory().numTensors;
    // DDPM: learnedRange at v = 1 is fixedLarge at t ≥ 1
    const a = pSample(learned, s, { xt, t: 20, noise, variance: "learnedRange" });
    const b = pSample(eps, s, { xt, t: 20, noise, variance: "fixedLarge" });
    const [ad, bd] = [await read(a), await read(b)];
    closeAll(ad, bd, 1e-5, "pSample");
    // DDIM (η = 0.5): σ is η's; the variance output is ignored
    const c = ddimSample(learned, s, { xt, t: 20, eta: 0.5, noise, variance: "learnedRange" });
    const d = ddimSample(eps, s, { xt, t: 20, eta: 0.5, noise });
    // equal but for the order of float32 operations (webgpu fuses the fixed-variance step)
    closeAll(await read(c), await read(d), 1e-6, "ddimSample");
    tf.dispose([a, b, c, d]);
    assertEquals(tf.memory().numTensors, before);
    // the loops: DPM-Solver++ and the sampler registry
    const e = await dpmSolverSampleLoop(learned, s, {
      shape: [2, 4, 4, 1],
      seed: 7,
      variance: "learnedRange",
    });
    const f = await dpmSolverSampleLoop(eps, s, { shape: [2, 4, 4, 1], seed: 7 });
    closeAll(await read(e), await read(f), 1e-5, "DPM-Solver++ loop");
    const g = await sampleLoop(learned, s, {
      sampler: "ddpm",
      shape: [2, 4, 4, 1],
      seed: 7,
      variance: "learnedRange",
    });
    const h = await sampleLoop(eps, s, {
      sampler: "ddpm",
      shape: [2, 4, 4, 1],
      seed: 7,
      variance: "fixedLarge",
    });
    const [gd, hd] = [await read(g), await read(h)];
    // 50 steps each within 1e-5 relative: the chains agree to 1e-3
    for (let i = 0; i < gd.length; i++) {
      within(gd[i], hd[i], 1e-3 * (1 + Math.abs(hd[i])), "ddpm loop");
    }
    tf.dispose([xt, noise, e, f, g, h]);
  },
);

backendTest("a learned variance in the bound: vlbTerm at v = -1 equals fixedSmall's", async () => {
  const s = makeSchedule({ kind: "cosine", T: 100 });
  const x0 = tf.randomUniform([2, 4, 4, 1], -1, 1, "float32", 5);
  const xt = tf.randomNormal([2, 4, 4, 1], 0, 1, "float32", 6);
  const { eps, learned } = twins(-1);
  for (const t of [0, 1, 40]) {
    const a = await read(vlbTerm(learned, s, { x0, xt, t, variance: "learnedRange" }));
    const b = await read(vlbTerm(eps, s, { x0, xt, t, variance: "fixedSmall" }));
    for (let i = 0; i < a.length; i++) within(a[i], b[i], 1e-4 * (1 + Math.abs(b[i])), `L_${t}`);
  }
  tf.dispose([x0, xt]);
});

Deno.test("a learned variance: a model of the wrong width, or a bad kind, is one clear error", async () => {
  await useBackend("cpu");
  const s = makeSchedule({ kind: "linear", T: 100 });
  const xt = tf.zeros([2, 3]);
  const { eps, learned } = twins(0);
  assertThrows(
    () => pMeanVariance(eps, s, { xt, t: 3, variance: "learnedRange" }),
    RangeError,
    "the model must return a tensor of xt's shape with twice its channels (a learned variance) [2,6], got [2,3]",
  );
  assertThrows(
    () => pMeanVariance(learned, s, { xt, t: 3 }),
    RangeError,
    "the model must return a tensor of xt's shape [2,3], got [2,6]",
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => pMeanVariance(eps, s, { xt, t: 3, variance: "large" as any }),
    RangeError,
    'variance must be "fixedSmall", "fixedLarge", "learnedRange" or "learned", got "large"',
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => learnedLogVariance(s, { v: xt, t: 3, kind: "range" as any }),
    RangeError,
    'kind must be "learnedRange" or "learned", got "range"',
  );
  xt.dispose();
});

// ---------- the hybrid loss ----------

/**
 * Float64 reference of one example's hybrid loss for a model whose output is ε_θ = a·x_t and
 * v = b (every element): ‖ε − ε_θ‖²/D + λ·T·L_t, L_t = mean over elements of
 * KL(q ‖ p_θ) / ln 2, the decoder's −log p_θ(x0 | x1) / ln 2 at t = 0.
 */
function refHybrid(
  kind: ScheduleKind,
  T: number,
  t: number,
  x0: number[],
  eps: number[],
  a: number,
  b: number,
  lambda: number,
): number {
  const r = refSchedule(refBetas(kind, T));
  const logVar = refLearnedRange(kind, T, t, b);
  let mse = 0, vb = 0;
  for (let i = 0; i < x0.length; i++) {
    const xt = Math.sqrt(r.abar[t]) * x0[i] + Math.sqrt(1 - r.abar[t]) * eps[i];
    const epsHat = a * xt;
    mse += (eps[i] - epsHat) ** 2;
    const x0Hat = refX0FromEps(r, t, xt, epsHat); // no clipping in training
    const c1 = r.betas[t] * Math.sqrt(r.abarPrev[t]) / (1 - r.abar[t]);
    const c2 = (1 - r.abarPrev[t]) * Math.sqrt(r.alphas[t]) / (1 - r.abar[t]);
    const mean = c1 * x0Hat + c2 * xt;
    if (t === 0) vb -= refDiscretizedLogLik(x0[i], mean, 0.5 * logVar);
    else {
      const q = refPosterior(r, t, x0[i], xt);
      vb += refNormalKl(q.mean, Math.log(q.variance), mean, logVar);
    }
  }
  const D = x0.length;
  return mse / D + lambda * T * (vb / D / Math.LN2);
}

backendTest(
  "hybridLoss: L_simple + λ·T·L_t of a float64 reference, t = 0 (the decoder) included",
  async (b) => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<ScheduleKind>("linear", "cosine"),
        fc.integer({ min: 50, max: 1000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
        fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 4, maxLength: 4 }),
        fc.double({ min: -1, max: 1, noNaN: true }),
        async (kind, T, u, bins, epsv, bv) => {
          const t = u < 0.2 ? 0 : Math.min(T - 1, Math.floor(u * T));
          const s = makeSchedule({ kind, T });
          const x0 = bins.map(gridValue), eps = epsv.map(f32), a = 0.3, vOut = f32(bv);
          const model = (xt: tf.Tensor) => tf.concat([tf.mul(xt, a), tf.fill(xt.shape, vOut)], -1);
          const loss = hybridLoss(model, s, {
            x0: tf.tensor2d([x0], [1, 4]),
            noise: tf.tensor2d([eps], [1, 4]),
            t: tf.tensor1d([t], "int32"),
            lambda: 0.01,
          });
          const got = (await read(loss))[0];
          const ref = refHybrid(kind, T, t, x0, eps, a, vOut, 0.01);
          // float32 through x_t, x̂0 (1/√ᾱ_t up to ~150 for cosine near T) and the decoder's log of
          // a CDF difference at t = 0 (measured up to 1.2e-5 relative there): 5e-5 relative
          within(got, ref, 5e-5 * (1 + Math.abs(ref)), `t ${t} of ${T} (${kind})`);
        },
      ),
      { seed: SEED, numRuns: b === "webgpu" ? 8 : 40 },
    );
  },
);

Deno.test("hybridLoss: the VLB term trains the variance alone; with loss vlb it trains the mean too", async () => {
  await useBackend("cpu");
  const s = makeSchedule({ kind: "linear", T: 100 });
  const x0 = tf.tensor2d([[0.5, -0.25], [1, -1]]);
  const noise = tf.tensor2d([[0.3, -1.2], [0.8, 0.1]]);
  const t = tf.tensor1d([40, 70], "int32");
  const a = tf.variable(tf.scalar(0.2)), bv = tf.variable(tf.scalar(0.1));
  const model = (xt: tf.Tensor) => tf.concat([tf.mul(xt, a), tf.mul(tf.onesLike(xt), bv)], -1);
  const grads = (f: () => tf.Scalar) => {
    const { grads } = tf.variableGrads(f, [a, bv]);
    return [grads[a.name].dataSync()[0], grads[bv.name].dataSync()[0]];
  };
  // L_simple alone (λ = 0) against the hybrid with a large λ: the same gradient for a
  const [simpleA] = grads(() => hybridLoss(model, s, { x0, noise, t, lambda: 0 }));
  const [hybridA, hybridB] = grads(() => hybridLoss(model, s, { x0, noise, t, lambda: 10 }));
  assertEquals(hybridA, simpleA);
  assertTrue(Math.abs(hybridB) > 1e-4, `the variance gets a gradient, got ${hybridB}`);
  const [vlbA] = grads(() => hybridLoss(model, s, { x0, noise, t, loss: "vlb" }));
  assertTrue(Math.abs(vlbA) > 1e-4, `loss vlb trains the mean, got ${vlbA}`);
  // weights multiply each example's loss
  const one = hybridLoss(model, s, { x0, noise, t, weights: [1, 0] }).dataSync()[0];
  const first = hybridLoss(model, s, {
    x0: tf.slice(x0, 0, 1),
    noise: tf.slice(noise, 0, 1),
    t: tf.slice(t, 0, 1),
  }).dataSync()[0];
  within(one, first / 2, 1e-6, "weights [1, 0]: half the first example's loss");
  assertThrows(
    () => hybridLoss(model, s, { x0, noise, t, weights: [1] }),
    RangeError,
    "weights must be 2 finite numbers >= 0, got 1 (1)",
  );
  assertThrows(
    () => hybridLoss((xt) => xt, s, { x0, noise, t }),
    RangeError,
    "twice its channels",
  );
  tf.dispose([x0, noise, t, a, bv]);
});

// ---------- importance sampling of t ----------

Deno.test("importance sampling: the weighted loss is unbiased, E_p[L_t / (T·p_t)] = mean L (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 40 }),
      fc.integer({ min: 1, max: 5 }),
      fc.double({ min: 0, max: 0.5, noNaN: true }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      (T, perTerm, uniformProb, seed) => {
        // a random warmed-up history, and a random "true" loss per t
        const u = (k: number) => ((Math.sin(seed + k * 12.9898) * 43758.5453) % 1 + 1) % 1;
        const h = createLossHistory(T, perTerm);
        for (let k = 0; k < T * perTerm; k++) {
          updateLossHistory(h, [k % T], [u(k) * 10 ** (2 * u(k + 7) - 1)]);
        }
        const p = importanceProbabilities(h, uniformProb);
        const L = Array.from({ length: T }, (_, t) => u(1000 + t) * 5);
        // exact expectation under p
        let expect = 0, sumP = 0;
        for (let t = 0; t < T; t++) {
          expect += p[t] * L[t] / (T * p[t]);
          sumP += p[t];
        }
        const mean = L.reduce((x, y) => x + y, 0) / T;
        within(sumP, 1, 1e-12, "Σ p");
        within(expect, mean, 1e-12 * (1 + mean), "E_p[w·L]");
        // p ∝ √E[L²] away from the uniform share
        const rms = (t: number) =>
          Math.sqrt(
            h.losses.slice(t * perTerm, (t + 1) * perTerm).reduce((x, y) => x + y * y, 0) / perTerm,
          );
        const total = Array.from({ length: T }, (_, t) => rms(t)).reduce((x, y) => x + y, 0);
        for (let t = 0; t < T; t++) {
          within(p[t], (1 - uniformProb) * rms(t) / total + uniformProb / T, 1e-12, `p[${t}]`);
        }
      },
    ),
    { seed: SEED, numRuns: 100 },
  );
});

Deno.test("importance sampling: drawn t follow p, and the drawn weighted mean is within 5 standard errors of mean L", () => {
  const T = 20, n = 20000;
  const h = createLossHistory(T, 3);
  for (let k = 0; k < 3 * T; k++) updateLossHistory(h, [k % T], [1 + (k % T) ** 2]);
  const p = importanceProbabilities(h);
  const { t, weights } = importanceTimesteps(p, n, 11);
  const L = Array.from({ length: T }, (_, k) => 1 + k ** 2); // here the losses themselves
  const xs = Array.from(t, (k, i) => weights[i] * L[k]);
  const mean = xs.reduce((x, y) => x + y, 0) / n;
  const sd = Math.sqrt(xs.reduce((x, y) => x + (y - mean) ** 2, 0) / (n - 1));
  const truth = L.reduce((x, y) => x + y, 0) / T;
  within(mean, truth, 5 * sd / Math.sqrt(n), "weighted mean");
  // with p ∝ L the estimate is nearly constant: its spread is far below uniform sampling's
  const uniformSd = Math.sqrt(L.reduce((x, y) => x + (y - truth) ** 2, 0) / T);
  assertTrue(sd < uniformSd / 10, `spread ${sd} against uniform ${uniformSd}`);
  // each t's share within 5 binomial standard errors of p_t
  const counts = new Array(T).fill(0);
  t.forEach((k) => counts[k]++);
  for (let k = 0; k < T; k++) {
    within(counts[k] / n, p[k], 5 * Math.sqrt(p[k] * (1 - p[k]) / n), `share of t = ${k}`);
  }
  // the same seed draws the same t
  assertEquals(Array.from(importanceTimesteps(p, 5, 11).t), Array.from(t.slice(0, 5)));
});

Deno.test("loss history: keeps each t's last perTerm losses, oldest first; bad input is one clear error", () => {
  const h = createLossHistory(3, 2);
  updateLossHistory(h, [1, 1, 1, 2], [4, 5, 6, 7]);
  assertEquals(Array.from(h.counts), [0, 2, 1]);
  assertEquals(Array.from(h.losses), [0, 0, 5, 6, 7, 0]);
  assertEquals(Array.from(importanceProbabilities(h)), [1 / 3, 1 / 3, 1 / 3]); // not warmed up
  assertThrows(
    () => updateLossHistory(h, [3], [1]),
    RangeError,
    "timesteps must be integers in [0, 3), got 3",
  );
  assertThrows(
    () => updateLossHistory(h, [0], [NaN]),
    RangeError,
    "losses must be finite, got NaN at t = 0",
  );
  assertThrows(() => updateLossHistory(h, [0, 1], [1]), RangeError, "got 2 and 1");
  assertThrows(() => createLossHistory(0), RangeError, "T must be an integer >= 1, got 0");
  assertThrows(() => importanceTimesteps([0.5, 0.4], 2, 0), RangeError, "p must sum to 1, got 0.9");
});

// ---------- training with a learned variance ----------

for (const [loss, workers] of [["hybrid", 1], ["vlb", 2]] as const) {
  Deno.test({
    name: `train: loss ${loss} on a learnSigma U-Net (${workers} worker${
      workers > 1 ? "s" : ""
    }) resumes bit for bit, its sampler state with it`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await useBackend("wasm");
      const [a, b] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
      const extra = {
        unet: { ...TINY, learnSigma: true },
        loss,
        workers,
        schedule: { kind: "cosine" as const, T: 50 },
      };
      const before = tf.memory().numTensors;
      const whole = await train(tinyTrainOptions(a, 6, { ...extra, sampleEvery: 6 }));
      assertEquals(tf.memory().numTensors, before, "train leaves no tensors behind");
      await train(tinyTrainOptions(b, 3, extra));
      const resumed = await train(
        tinyTrainOptions(b, 6, { ...extra, resume: true, sampleEvery: 6 }),
      );
      assertEquals(resumed.losses, whole.losses.slice(3), "losses of steps 4–6");
      assertTrue(whole.losses.every((l) => Number.isFinite(l) && l > 0), `losses ${whole.losses}`);
      const [ca, cb] = [
        await loadCheckpoint(join(a, "checkpoint.safetensors")),
        await loadCheckpoint(join(b, "checkpoint.safetensors")),
      ];
      for (const group of ["params", "ema", "adamM", "adamV"] as const) {
        for (const [name, w] of ca[group]!) {
          assertEquals(cb[group]!.get(name)!.data, w.data, `${group}.${name}`);
        }
      }
      assertEquals(ca.config.unet.learnSigma, true);
      assertEquals((ca.config.train as { loss?: string }).loss, loss);
      if (loss === "vlb") {
        // 6 steps of 4 examples: 24 losses recorded, the same in both runs
        const h = ca.state!.lossHistory!;
        assertEquals(h.counts.reduce((x, y) => x + y, 0), 24);
        assertEquals(cb.state!.lossHistory, h);
      } else {
        assertEquals(ca.state!.lossHistory, undefined);
      }
      // the end-of-run grid was drawn with the learned variance (16 images of 8×8), and the
      // checkpoint samples with it: DDPM draws σ_θ, DPM-Solver++ reads the ε half
      assertTrue(existsSync(join(a, "samples", "step-000006.png")), "sample grid");
      const pipe = await loadPipeline(ca);
      for (const sampler of ["ddpm", "dpm++"] as const) {
        const x = await pipe.sample({ n: 2, sampler, steps: 5, seed: 1 });
        assertEquals(x.shape, [2, 8, 8, 1]);
        assertTrue((await read(x)).every(Number.isFinite), `${sampler} samples are finite`);
        x.dispose();
      }
      await assertRejects(
        () => pipe.sample({ n: 2, variance: "fixedLarge" }),
        RangeError,
        'this U-Net learns its variance (learnSigma); variance must be "learnedRange" or "learned", got "fixedLarge"',
      );
      pipe.dispose();
    },
  });
}

Deno.test("train: the loss and learnSigma must agree; a run cannot resume with another loss", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  await assertRejects(
    () => train(tinyTrainOptions(dir, 1, { loss: "hybrid" })),
    RangeError,
    'loss "hybrid" trains a learned variance: it needs unet.learnSigma',
  );
  await assertRejects(
    () => train(tinyTrainOptions(dir, 1, { unet: { ...TINY, learnSigma: true } })),
    RangeError,
    'learns its variance through loss "hybrid" or "vlb", got "simple"',
  );
  await assertRejects(
    async () => {
      const sigma = { unet: { ...TINY, learnSigma: true } };
      await train(tinyTrainOptions(dir, 1, { ...sigma, loss: "vlb" }));
      await train(tinyTrainOptions(dir, 2, { ...sigma, loss: "hybrid", resume: true }));
    },
    RangeError,
    "Cannot resume",
  );
});
